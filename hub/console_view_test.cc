#include "hub/console_view.h"

#include <gtest/gtest.h>

#include <memory>

namespace gridhub::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kSession = "session-secret-id";
constexpr const char* kUri = "http://10.9.8.7:5555";

class ConsoleViewTest : public ::testing::Test {
 protected:
  ConsoleViewTest() {
    auto activity = std::make_shared<SessionActivity>();
    activity->NoteCommand(clock_.Now() - 3s);
    activity->NoteEvent("test:failed", clock_.Now() - 1s);
    GridSnapshot::SessionView session{
        kSession, {{"browserName", "chrome"}, {"browserVersion", "120"}}, 1000.0, "chrome", "run-9",
        activity};
    auto node = std::make_shared<GridSnapshot::NodeView>();
    node->id = "n1";
    node->uri = kUri;
    node->slots.push_back({"s0", "chrome", {{"browserName", "chrome"}}, 2, {session}});
    node->slots.push_back({"s1", "firefox", {{"browserName", "firefox"}}, 1, {}});
    snapshot_.nodes.push_back(node);
    snapshot_.declared_labels =
        std::make_shared<const std::set<std::string>>(std::set<std::string>{"chrome", "firefox"});
    snapshot_.concurrency_caps = {{"chrome", 3}};
    auto queue = std::make_shared<GridSnapshot::QueueView>();
    const double wall = WallSeconds(clock_.Now() - 10s, clock_.Now());
    auto waiter = [&](std::string id, std::string label, bool ticket) {
      return std::make_shared<const GridSnapshot::WaiterView>(GridSnapshot::WaiterView{
          std::move(id), std::move(label), "run-w", wall, ticket, "chrome", ""});
    };
    queue->waiting = {{waiter("7", "chrome", false), 1},
                      {waiter("8", "chrome", true), 2},
                      {waiter("9", "(undeclared)", false), 1}};
    snapshot_.waiting_by_label = LabelCounts::Of({{"chrome", 2}, {"(undeclared)", 1}});
    snapshot_.queue = queue;
  }

  json Build(ConsoleViewer viewer) {
    ConsoleInputs in{.snapshot = snapshot_, .now = clock_.Now(), .viewer = viewer};
    in.events = {{.kind = GridEventKind::kRefused,
                  .at = clock_.Now(),
                  .label = "chrome",
                  .run_id = "r",
                  .reason = "queue_full",
                  .message = "queue full"}};
    in.history = {{clock_.Now() - 5s, {{"chrome", {.queue = 2, .busy = 1}}}}};
    in.refusals = {{"chrome", {1, 0, 0, 0, 0, 0, 0}}};
    return ConsoleStateJson(in);
  }

  FakeClock clock_;
  GridSnapshot snapshot_;
};

TEST_F(ConsoleViewTest, WithoutTheClientTokenOnlyReadinessIsShown) {
  json state = Build({.authorized = false, .client_token_required = true});
  EXPECT_TRUE(state["redacted"]);
  EXPECT_TRUE(state["ready"]);
  EXPECT_FALSE(state["viewer"]["authorized"]);
  EXPECT_TRUE(state["viewer"]["clientTokenRequired"]);
  for (const char* key : {"nodes", "labels", "queue", "history", "events"}) {
    EXPECT_FALSE(state.contains(key)) << key;
  }
  const std::string text = state.dump();
  for (const char* secret : {kSession, kUri, "chrome", "run-9", "run-w", "n1"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
}

TEST_F(ConsoleViewTest, NodesShowSlotsAndSessionsWithTheirActivity) {
  json state = Build({.authorized = true});
  EXPECT_FALSE(state.contains("redacted"));
  ASSERT_EQ(state["nodes"].size(), 1u);
  const json& node = state["nodes"][0];
  EXPECT_EQ(node["uri"], kUri);
  EXPECT_EQ(node["availability"], "UP");
  EXPECT_EQ(node["maxSessions"], 3);
  const json& session = node["slots"][0]["sessions"][0];
  EXPECT_EQ(session["id"], kSession);
  EXPECT_EQ(session["browserVersion"], "120");
  EXPECT_EQ(session["runId"], "run-9");
  EXPECT_NEAR(state["now"].get<double>() - session["lastCommandAt"].get<double>(), 3.0, 0.5);
  EXPECT_EQ(session["lastEvent"]["type"], "test:failed");
  EXPECT_TRUE(node["slots"][1]["sessions"].empty());
}

TEST_F(ConsoleViewTest, LabelsAreTheDeclaredOnesPlusOtherWhenItHasAny) {
  json state = Build({.authorized = true});
  std::vector<std::string> names;
  for (const json& row : state["labels"]) names.push_back(row["label"]);
  EXPECT_EQ(names, (std::vector<std::string>{"chrome", "firefox", "other"}));
  const json& chrome = state["labels"][0];
  EXPECT_EQ(chrome["queueLength"], 2);
  EXPECT_EQ(chrome["running"], 1);
  EXPECT_EQ(chrome["cap"], 3);
  EXPECT_EQ(chrome["slotsTotal"], 2);
  EXPECT_EQ(chrome["slotsBusy"], 1);
  EXPECT_DOUBLE_EQ(chrome["utilization"].get<double>(), 0.5);
  EXPECT_NEAR(chrome["oldestWaitSeconds"].get<double>(), 10.0, 0.5);
  EXPECT_EQ(chrome["refusals"]["queue_full"], 1);
  EXPECT_EQ(chrome["refusals"].size(), RefusalTally::kReasons.size());
  const json& firefox = state["labels"][1];
  EXPECT_TRUE(firefox["oldestWaitSeconds"].is_null());
  EXPECT_EQ(firefox["cap"], 0);
  EXPECT_EQ(firefox["utilization"], 0.0);
  EXPECT_EQ(state["labels"][2]["queueLength"], 1);  // the undeclared waiter
}

TEST_F(ConsoleViewTest, TheQueueIsGroupedByLabelInServiceOrder) {
  json state = Build({.authorized = true});
  ASSERT_EQ(state["queue"].size(), 2u);
  EXPECT_EQ(state["queue"][0]["label"], "chrome");
  const json& waiters = state["queue"][0]["waiters"];
  ASSERT_EQ(waiters.size(), 2u);
  EXPECT_EQ(waiters[0]["id"], "7");
  EXPECT_EQ(waiters[1]["position"], 2);
  EXPECT_EQ(waiters[0]["kind"], "session");
  EXPECT_EQ(waiters[1]["kind"], "ticket");
  EXPECT_NEAR(waiters[0]["waitSeconds"].get<double>(), 10.0, 0.5);
  EXPECT_EQ(state["queue"][1]["label"], "(undeclared)");
}

TEST_F(ConsoleViewTest, HistoryAndEventsCarryWallTimes) {
  json state = Build({.authorized = true, .admin = true});
  EXPECT_TRUE(state["viewer"]["admin"]);
  EXPECT_EQ(state["history"]["intervalSeconds"], 5.0);
  ASSERT_EQ(state["history"]["points"].size(), 1u);
  const json& point = state["history"]["points"][0];
  EXPECT_NEAR(state["now"].get<double>() - point["at"].get<double>(), 5.0, 0.5);
  EXPECT_EQ(point["labels"]["chrome"], (json{{"queue", 2}, {"busy", 1}}));
  ASSERT_EQ(state["events"].size(), 1u);
  EXPECT_EQ(state["events"][0]["kind"], "refused");
  EXPECT_EQ(state["events"][0]["reason"], "queue_full");
  EXPECT_EQ(state["events"][0]["sessionId"], "");
}

TEST_F(ConsoleViewTest, AHistorySampleHasEveryDeclaredLabel) {
  ConsoleHistory::Sample sample = LoadByLabel(snapshot_);
  EXPECT_EQ(sample.at("chrome"), (ConsoleHistory::Load{.queue = 2, .busy = 1}));
  EXPECT_EQ(sample.at("firefox"), (ConsoleHistory::Load{}));
  EXPECT_EQ(sample.at("other"), (ConsoleHistory::Load{.queue = 1}));
  EXPECT_EQ(BoundedLabel(snapshot_, "edge"), "other");
}

}  // namespace
}  // namespace gridhub::hub
