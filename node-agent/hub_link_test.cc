#include "node-agent/hub_link.h"

#include <gtest/gtest.h>

#include <thread>

#include "node-agent/testing/fake_hub.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Outcome = HeartbeatAnswer::Outcome;

// Polls until `condition` holds, for what the link sends without waiting for an answer.
bool Eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 500 && !condition(); ++i) std::this_thread::sleep_for(10ms);
  return condition();
}

class HubLinkTest : public ::testing::Test {
 protected:
  HubLinkTest()
      : link_({.node_id = NodeId("n1"), .node_uri = "http://127.0.0.1:5555", .hub = hub_.url()},
              clock_, client_) {
    link_.SetCredentials({.registration_secret = "s3cret",
                          .hub_client_token = "client-t",
                          .hub_admin_token = "admin-t"});
  }

  FakeClock clock_;  // read only by the test's thread: the link's calls are synchronous
  FakeHub hub_;
  http::HttpClient client_;
  HubLink link_;
};

TEST_F(HubLinkTest, RegistersWithTheSecretAndResolvesTheHub) {
  EXPECT_FALSE(link_.registered());
  ASSERT_TRUE(link_.Register({{"id", "n1"}}, 250ms));
  EXPECT_TRUE(link_.registered());
  std::vector<Recorded> sent = hub_.Requests("POST", "/nodes");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].secret, "s3cret");
  EXPECT_EQ(sent[0].authorization, "");  // node calls carry no bearer token
  EXPECT_EQ(sent[0].body, json({{"id", "n1"}}));
  EXPECT_EQ(link_.hub_addresses(), std::vector<std::string>{"127.0.0.1"});
}

TEST_F(HubLinkTest, ARefusedRegistrationLeavesTheNodeUnregistered) {
  hub_.set_register_status(503);
  EXPECT_FALSE(link_.Register(json::object(), 250ms));
  EXPECT_FALSE(link_.registered());
  hub_.set_register_status(201);
  EXPECT_TRUE(link_.Register(json::object(), 250ms));
}

TEST_F(HubLinkTest, HeartbeatCarriesTheSessionsAndReadsTheAnswer) {
  ASSERT_TRUE(link_.Register(json::object(), 250ms));
  hub_.set_heartbeat_reply(
      200, R"({"value": {"id": "n1", "availability": "UP", "unknownSessions": ["b", 7]}})");
  HeartbeatAnswer answer =
      link_.Heartbeat({.sessions = {SessionId("a"), SessionId("b")}, .draining = true}, 5s);
  EXPECT_EQ(answer.outcome, Outcome::kOk);
  EXPECT_FALSE(answer.hub_drains_node);
  EXPECT_EQ(answer.unknown_sessions, std::vector<SessionId>{SessionId("b")});
  std::vector<Recorded> beats = hub_.Requests("POST", "/nodes/n1/heartbeat");
  ASSERT_EQ(beats.size(), 1u);
  EXPECT_EQ(beats[0].secret, "s3cret");
  EXPECT_EQ(beats[0].body, json({{"sessions", {"a", "b"}}, {"draining", true}}));
}

TEST_F(HubLinkTest, HeartbeatAnswered404MeansRegisterAgain) {
  ASSERT_TRUE(link_.Register(json::object(), 250ms));
  hub_.set_heartbeat_status(404);
  EXPECT_EQ(link_.Heartbeat({}, 5s).outcome, Outcome::kUnknownNode);
  EXPECT_FALSE(link_.registered());
  hub_.set_heartbeat_status(500);
  EXPECT_EQ(link_.Heartbeat({}, 5s).outcome, Outcome::kFailed);
}

TEST_F(HubLinkTest, NoticesCarryTheTokenTheirRouteNeeds) {
  link_.TellSessionEnded(SessionId("s-1"));
  link_.TellDraining();
  ASSERT_TRUE(Eventually([&] { return hub_.Count("DELETE", "/session/s-1") == 1; }));
  ASSERT_TRUE(Eventually([&] { return hub_.Count("POST", "/nodes/n1/drain") == 1; }));
  EXPECT_EQ(hub_.Requests("DELETE", "/session/s-1")[0].authorization, "Bearer client-t");
  EXPECT_EQ(hub_.Requests("POST", "/nodes/n1/drain")[0].authorization, "Bearer admin-t");
  EXPECT_EQ(hub_.Requests("POST", "/nodes/n1/drain")[0].secret, "s3cret");
  ASSERT_TRUE(link_.Register(json::object(), 250ms));
  link_.Deregister();
  EXPECT_EQ(hub_.Count("DELETE", "/nodes/n1"), 1u);
  EXPECT_FALSE(link_.registered());
}

TEST_F(HubLinkTest, NewCredentialsApplyToTheNextCall) {
  link_.SetCredentials({.registration_secret = "n3w"});
  ASSERT_TRUE(link_.Register(json::object(), 250ms));
  EXPECT_EQ(hub_.Requests("POST", "/nodes")[0].secret, "n3w");
}

TEST(ParseHeartbeatAnswerTest, ReadsDrainingAndUnknownSessionsAndIgnoresWrongShapes) {
  EXPECT_EQ(ParseHeartbeatAnswer(204, "").outcome, Outcome::kOk);
  EXPECT_TRUE(
      ParseHeartbeatAnswer(200, R"({"value": {"availability": "DRAINING"}})").hub_drains_node);
  EXPECT_TRUE(ParseHeartbeatAnswer(200, R"({"availability": "DRAINING"})").hub_drains_node);
  for (const char* body :
       {R"({"value": {"availability": null}})", R"({"availability": ["DRAINING"]})", "[1, 2]",
        "{not json", R"({"value": {"unknownSessions": "a"}})"}) {
    HeartbeatAnswer answer = ParseHeartbeatAnswer(200, body);
    EXPECT_EQ(answer.outcome, Outcome::kOk) << body;
    EXPECT_FALSE(answer.hub_drains_node) << body;
    EXPECT_TRUE(answer.unknown_sessions.empty()) << body;
  }
  // Only a 2xx answer is read: a 503 body saying DRAINING is not the hub's word.
  HeartbeatAnswer failed = ParseHeartbeatAnswer(503, R"({"availability": "DRAINING"})");
  EXPECT_EQ(failed.outcome, Outcome::kFailed);
  EXPECT_FALSE(failed.hub_drains_node);
}

}  // namespace
}  // namespace gridhub::node
