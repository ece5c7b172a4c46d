#include "cluster/cluster_keys.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace gridhub::cluster {
namespace {

TEST(ClusterKeysTest, EveryKeyAndChannelSharesOneHashTag) {
  for (const std::string& key :
       {ClusterKeys::Leader(), ClusterKeys::Hub("h1"), ClusterKeys::Route("s1"),
        ClusterKeys::Nodes(), ClusterKeys::Tickets(), ClusterKeys::Settings(), ClusterKeys::Epoch(),
        ClusterKeys::PeerSecret(), ClusterKeys::EndedChannel(), ClusterKeys::SettingsChannel()}) {
    EXPECT_EQ(key.rfind("{gridhub}:", 0), 0u) << key;
  }
}

TEST(ClusterKeysTest, NamesTheDocumentedKeys) {
  EXPECT_EQ(ClusterKeys::Leader(), "{gridhub}:leader");
  EXPECT_EQ(ClusterKeys::Hub("host-12-ab"), "{gridhub}:hub:host-12-ab");
  EXPECT_EQ(ClusterKeys::Route("5f0c"), "{gridhub}:route:5f0c");
  EXPECT_EQ(ClusterKeys::RoutePattern(), "{gridhub}:route:*");
  EXPECT_EQ(ClusterKeys::Nodes(), "{gridhub}:nodes");
  EXPECT_EQ(ClusterKeys::Tickets(), "{gridhub}:tickets");
  EXPECT_EQ(ClusterKeys::Settings(), "{gridhub}:settings");
  EXPECT_EQ(ClusterKeys::Epoch(), "{gridhub}:epoch");
  EXPECT_EQ(ClusterKeys::PeerSecret(), "{gridhub}:peer-secret");
  EXPECT_EQ(ClusterKeys::EndedChannel(), "{gridhub}:ended");
  EXPECT_EQ(ClusterKeys::SettingsChannel(), "{gridhub}:settings");
}

TEST(ClusterKeysTest, SessionOfRouteInvertsRoute) {
  EXPECT_EQ(ClusterKeys::SessionOfRoute(ClusterKeys::Route("abc")), "abc");
  EXPECT_EQ(ClusterKeys::SessionOfRoute("{gridhub}:route:"), std::nullopt);
  EXPECT_EQ(ClusterKeys::SessionOfRoute("{gridhub}:hub:abc"), std::nullopt);
}

TEST(ClusterKeysTest, LeaseOwnerRoundTrips) {
  const PeerHub hub{.id = "host-1-9f", .url = "http://10.0.0.5:4444"};
  EXPECT_EQ(ClusterKeys::LeaseOwner(hub), "host-1-9f http://10.0.0.5:4444");
  EXPECT_EQ(ClusterKeys::ParseLeaseOwner(ClusterKeys::LeaseOwner(hub)), hub);
  EXPECT_EQ(ClusterKeys::ParseLeaseOwner("no-url"), std::nullopt);
  EXPECT_EQ(ClusterKeys::ParseLeaseOwner(" http://x"), std::nullopt);
}

TEST(ClusterKeysTest, SettingsMessageRoundTripsJsonWithNewlines) {
  const std::string json = "{\n  \"a\": 1\n}";
  const auto parsed = ClusterKeys::ParseSettingsMessage(ClusterKeys::SettingsMessage("h1", json));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->first, "h1");
  EXPECT_EQ(parsed->second, json);
  EXPECT_EQ(ClusterKeys::ParseSettingsMessage("no separator"), std::nullopt);
}

}  // namespace
}  // namespace gridhub::cluster
