// What /status and /graphql show a caller without the client token (Exposure::kCounts).
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "hub/graphql.h"
#include "hub/grid_snapshot.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;

constexpr const char* kSessionId = "5e55101d00000000000000000000beef";
constexpr const char* kUri = "http://10.9.8.7:5555";

GridSnapshot Sample() {
  GridSnapshot snapshot;
  GridSnapshot::SlotView slot{
      "s0",
      "chrome",
      {{"browserName", "chrome"}, {"secret:stereo", "stereo-value"}},
      2,
      {{kSessionId, {{"secret:cap", "cap-value"}}, 1.5, "chrome", "", nullptr}}};
  snapshot.nodes.push_back(std::make_shared<const GridSnapshot::NodeView>(
      GridSnapshot::NodeView{"node-1", kUri, Availability::kUp, {slot}}));
  auto queue = std::make_shared<GridSnapshot::QueueView>();
  queue->requests.push_back(std::make_shared<const std::string>(R"({"queued:cap":"q-value"})"));
  snapshot.queue = std::move(queue);
  snapshot.queue_size = 1;
  return snapshot;
}

void ExpectNothingSecret(const std::string& text) {
  for (const char* secret : {kSessionId, kUri, "stereo-value", "cap-value", "q-value"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  }
}

TEST(HubExposureTest, StatusWithoutTheTokenShowsCountsOnly) {
  GridSnapshot snapshot = Sample();
  std::string full = StatusJson(snapshot).dump();
  for (const char* shown : {kSessionId, kUri, "stereo-value", "cap-value"}) {
    EXPECT_NE(full.find(shown), std::string::npos) << shown;
  }
  json counts = StatusJson(snapshot, Exposure::kCounts)["value"];
  ExpectNothingSecret(counts.dump());
  EXPECT_EQ(counts["ready"], true);
  EXPECT_EQ(counts["redacted"], true);
  EXPECT_EQ(counts["queueSize"], 1);
  const json& node = counts["nodes"][0];
  EXPECT_EQ(node["id"], "node-1");
  EXPECT_EQ(node["availability"], "UP");
  EXPECT_EQ(node["maxSessions"], 2);
  EXPECT_EQ(node["sessionCount"], 1);
  ASSERT_EQ(node["slots"].size(), 2u);
  EXPECT_EQ(node["slots"][0]["busy"], true);
  EXPECT_EQ(node["slots"][1]["busy"], false);
  EXPECT_EQ(node["slots"][0]["label"], "chrome");
}

TEST(HubExposureTest, GraphqlWithoutTheTokenShowsCountsOnly) {
  GridSnapshot snapshot = Sample();
  const std::string query = json{{"query",
                                  "{ grid { sessionCount maxSession totalSlots sessionQueueSize } "
                                  "nodesInfo { nodes { id uri status sessionCount maxSession "
                                  "slotCount stereotypes sessions { id capabilities nodeUri "
                                  "slot { id stereotype } } } } "
                                  "sessionsInfo { sessionQueueRequests sessions { id } } }"}}
                                .dump();
  json full = AnswerGraphql(snapshot, query, "http://hub:4444");
  ASSERT_TRUE(full.contains("data")) << full.dump();
  EXPECT_NE(full.dump().find(kSessionId), std::string::npos);
  EXPECT_FALSE(full.contains("extensions"));

  json counts = AnswerGraphql(snapshot, query, "http://hub:4444", Exposure::kCounts);
  ASSERT_TRUE(counts.contains("data")) << counts.dump();
  ExpectNothingSecret(counts.dump());
  EXPECT_TRUE(counts.contains("extensions"));
  const json& data = counts["data"];
  EXPECT_EQ(data["grid"]["sessionCount"], 1);
  EXPECT_EQ(data["grid"]["maxSession"], 2);
  EXPECT_EQ(data["grid"]["sessionQueueSize"], 1);
  const json& node = data["nodesInfo"]["nodes"][0];
  EXPECT_EQ(node["status"], "UP");
  EXPECT_EQ(node["sessionCount"], 1);
  EXPECT_TRUE(node["uri"].is_null());
  EXPECT_EQ(node["stereotypes"], "[]");
  EXPECT_TRUE(node["sessions"].empty());
  EXPECT_EQ(data["sessionsInfo"]["sessionQueueRequests"], json::array({"{}"}));
}

}  // namespace
}  // namespace gridhub::hub
