#include "node-agent/peer_access.h"

#include <gtest/gtest.h>

namespace gridhub::node {
namespace {

TEST(PeerAccessTest, AddressesHaveOneSpelling) {
  EXPECT_EQ(CanonicalAddress("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(CanonicalAddress("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(CanonicalAddress("[::1]"), "::1");
  EXPECT_EQ(CanonicalAddress("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(CanonicalAddress("FE80::0001"), "fe80::1");
  EXPECT_EQ(CanonicalAddress(""), std::nullopt);
  EXPECT_EQ(CanonicalAddress("hub.example"), std::nullopt);
  EXPECT_EQ(CanonicalAddress("10.0.0.256"), std::nullopt);
  EXPECT_EQ(CanonicalAddress(std::string(100, '1')), std::nullopt);
}

TEST(PeerAccessTest, LoopbackIsEvery127AddressAndOne6) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.9.8.7"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("::2"));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));  // a name is not an address
  EXPECT_FALSE(IsLoopbackAddress(""));
}

TEST(PeerAccessTest, WithoutASecretOnlyLoopbackAndTheHubMayCall) {
  std::vector<std::string> hub = {"10.1.2.3", "fd00::5"};
  EXPECT_EQ(AccessRefusal("", hub, "127.0.0.1", ""), std::nullopt);
  EXPECT_EQ(AccessRefusal("", hub, "::1", ""), std::nullopt);
  EXPECT_EQ(AccessRefusal("", hub, "10.1.2.3", ""), std::nullopt);
  EXPECT_EQ(AccessRefusal("", hub, "::ffff:10.1.2.3", ""), std::nullopt);
  EXPECT_EQ(AccessRefusal("", hub, "fd00:0::5", ""), std::nullopt);
  for (const char* stranger : {"10.1.2.4", "fd00::6", "", "garbage"}) {
    std::optional<std::string> why = AccessRefusal("", hub, stranger, "anything");
    ASSERT_TRUE(why.has_value()) << stranger;
    EXPECT_NE(why->find("hub.registration-secret"), std::string::npos) << *why;
    EXPECT_EQ(why->find("10.1.2.3"), std::string::npos) << *why;  // not told to strangers
  }
}

TEST(PeerAccessTest, WithASecretEveryoneNeedsItLoopbackAndTheHubToo) {
  std::vector<std::string> hub = {"10.1.2.3"};
  EXPECT_EQ(AccessRefusal("s3cret", hub, "10.9.9.9", "s3cret"), std::nullopt);
  for (const char* peer : {"127.0.0.1", "10.1.2.3", "10.9.9.9"}) {
    for (const char* presented : {"", "s3cre", "s3cret!", "S3CRET"}) {
      std::optional<std::string> why = AccessRefusal("s3cret", hub, peer, presented);
      ASSERT_TRUE(why.has_value()) << peer << " " << presented;
      EXPECT_NE(why->find("X-Registration-Secret"), std::string::npos);
      EXPECT_NE(why->find("hub.registration-secret"), std::string::npos);
    }
  }
}

TEST(PeerAccessTest, ResolvesLiteralsAndLocalhost) {
  EXPECT_EQ(ResolveHostAddresses("127.0.0.1"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(ResolveHostAddresses("[::1]"), std::vector<std::string>{"::1"});
  std::vector<std::string> local = ResolveHostAddresses("localhost");
  ASSERT_FALSE(local.empty());
  for (const std::string& a : local) EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  EXPECT_TRUE(ResolveHostAddresses("no-such-host.invalid").empty());
  EXPECT_TRUE(ResolveHostAddresses("").empty());
}

}  // namespace
}  // namespace gridhub::node
