// The Grid tells the operator what happens (Effects::events, hub/grid_event.h): grants,
// refusals with their reason, timeouts, cancellations, failures, sessions ending, nodes coming
// up, going down, draining and leaving.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/grid.h"
#include "hub/grid_fakes.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

matching::NewSessionSpec Spec(json always) {
  auto spec = matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", always}}}});
  EXPECT_TRUE(spec.ok());
  return std::move(*spec);
}

json Node(const std::string& id) {
  return {{"id", id},
          {"uri", "http://" + id + ":5555/"},
          {"slots", {{{"id", "s"}, {"stereotype", {{"browserName", "chrome"}}}}}}};
}

const GridEvent* Find(const Effects& effects, GridEventKind kind) {
  for (const GridEvent& event : effects.events) {
    if (event.kind == kind) return &event;
  }
  return nullptr;
}

class GridEventsTest : public ::testing::Test {
 protected:
  GridEventsTest() {
    settings_.queue.registration_grace = 0s;
    settings_.queue.timeout = 10s;  // well before hub.node-timeout
  }
  Grid& grid() {
    if (!grid_) grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
    return *grid_;
  }
  Effects Register(const std::string& id) {
    Effects effects;
    EXPECT_TRUE(RegisterNode(grid(), Node(id), &effects).ok());
    return effects;
  }
  Effects Submit(std::string run_id = "run-1", bool no_wait = false) {
    return grid().SubmitNewSession(Spec({{"browserName", "chrome"}}), std::move(run_id), no_wait,
                                   ReplyTarget());
  }
  // A session on the node's only slot; returns its id.
  std::string Occupy(Effects* granted = nullptr) {
    Effects submitted = Submit();
    EXPECT_TRUE(submitted.events.empty());  // waiting for its creation is no event yet
    EXPECT_EQ(submitted.creates.size(), 1u);
    const CreateJob& job = submitted.creates.at(0);
    const std::string id = "sess-" + std::to_string(job.request);
    Effects done =
        grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created(id));
    if (granted != nullptr) *granted = std::move(done);
    return id;
  }

  FakeClock clock_;
  CountingIds ids_;
  // Whatever a test did, the room index and the published node views agree with the nodes.
  void TearDown() override {
    if (grid_) {
      EXPECT_EQ(grid_->IndexProblem(), "");
    }
  }

  config::Settings settings_;
  std::unique_ptr<Grid> grid_;
};

TEST_F(GridEventsTest, ARegisteredNodeIsUp) {
  Effects effects = Register("n1");
  const GridEvent* up = Find(effects, GridEventKind::kNodeUp);
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->node_id, "n1");
  EXPECT_EQ(up->reason, "registered");
  EXPECT_EQ(up->at, clock_.Now());
  EXPECT_EQ(Find(Register("n1"), GridEventKind::kNodeUp)->reason, "re-registered");
}

TEST_F(GridEventsTest, AGrantNamesItsSessionNodeLabelAndRun) {
  Register("n1");
  Effects granted;
  const std::string session = Occupy(&granted);
  const GridEvent* event = Find(granted, GridEventKind::kGranted);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->session_id, session);
  EXPECT_EQ(event->node_id, "n1");
  EXPECT_EQ(event->label, "chrome");
  EXPECT_EQ(event->run_id, "run-1");
}

TEST_F(GridEventsTest, ARefusalCarriesItsReasonAndWhatTheClientWasTold) {
  settings_.queue.max_per_label = 1;
  Register("n1");
  Occupy();
  EXPECT_TRUE(Submit("waits").events.empty());
  Effects refused = Submit("run-2");
  ASSERT_EQ(refused.events.size(), 1u);
  const GridEvent& event = refused.events[0];
  EXPECT_EQ(event.kind, GridEventKind::kRefused);
  EXPECT_EQ(event.reason, "queue_full");
  EXPECT_EQ(event.run_id, "run-2");
  EXPECT_NE(event.message.find("queue full"), std::string::npos) << event.message;
  Effects no_wait = Submit("run-3", /*no_wait=*/true);
  ASSERT_NE(Find(no_wait, GridEventKind::kRefused), nullptr);
}

TEST_F(GridEventsTest, AnUnsatisfiableRequestIsRefusedUnderOther) {
  Register("n1");
  Effects effects =
      grid().SubmitNewSession(Spec({{"browserName", "firefox"}}), "", false, ReplyTarget());
  const GridEvent* event = Find(effects, GridEventKind::kRefused);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->reason, "unsatisfiable");
  EXPECT_EQ(event->label, "other");  // the bounded metric label: no slot declares firefox
}

TEST_F(GridEventsTest, AWaiterPastItsTimeoutIsATimeoutEvent) {
  Register("n1");
  Occupy();
  EXPECT_TRUE(Submit().events.empty());
  clock_.Advance(10s);
  Effects tick = grid().Tick();
  const GridEvent* event = Find(tick, GridEventKind::kTimedOut);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->reason, "timeout");
  EXPECT_EQ(tick.events.size(), 1u);
}

TEST_F(GridEventsTest, AnOperatorCancelsOneWaiterByItsQueueId) {
  Register("n1");
  Occupy();
  Submit("keep");
  Submit("drop");
  json queue = grid().QueueJson()["value"];
  ASSERT_EQ(queue.size(), 2u);
  const std::string drop = queue[1]["id"];
  Effects effects;
  ASSERT_TRUE(grid().CancelWaiter(drop, &effects).ok());
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_NE(BodyOf(effects.replies[0]).find("cancelled by an operator"), std::string::npos);
  const GridEvent* event = Find(effects, GridEventKind::kCancelled);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->run_id, "drop");
  EXPECT_EQ(event->reason, "cancelled");
  EXPECT_EQ(grid().QueueJson()["value"].size(), 1u);
  EXPECT_EQ(grid().snapshot_with_queue()->queue->waiting.size(), 1u);
  Effects again;
  EXPECT_EQ(grid().CancelWaiter(drop, &again).error().code, ErrorCode::kNotFound);
  for (const char* bad : {"", "x1", "-1", "99999999999999999999999"}) {
    EXPECT_EQ(grid().CancelWaiter(bad, &again).error().code, ErrorCode::kNotFound) << bad;
  }
  EXPECT_TRUE(again.events.empty());
}

TEST_F(GridEventsTest, AFailedCreationIsAFailedEvent) {
  settings_.queue.retry_limit = 0;
  Register("n1");
  Effects submitted = Submit();
  const CreateJob& job = submitted.creates.at(0);
  Effects failed =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused());
  const GridEvent* event = Find(failed, GridEventKind::kFailed);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->reason, "failed");
}

TEST_F(GridEventsTest, SessionsEndingSayWhy) {
  Register("n1");
  const std::string session = Occupy();
  Effects ended = grid().EndSession(SessionId(session));
  const GridEvent* event = Find(ended, GridEventKind::kSessionEnded);
  ASSERT_NE(event, nullptr);
  EXPECT_EQ(event->session_id, session);
  EXPECT_EQ(event->reason, "deleted");
  EXPECT_EQ(event->run_id, "run-1");
}

TEST_F(GridEventsTest, ASilentNodeGoesDownWithItsSessions) {
  Register("n1");
  const std::string session = Occupy();
  clock_.Advance(settings_.hub.node_timeout + 1s);
  Effects tick = grid().Tick();
  const GridEvent* down = Find(tick, GridEventKind::kNodeDown);
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->node_id, "n1");
  const GridEvent* ended = Find(tick, GridEventKind::kSessionEnded);
  ASSERT_NE(ended, nullptr);
  EXPECT_EQ(ended->reason, "node_down");
  Effects beat;
  ASSERT_TRUE(grid().Heartbeat(NodeId("n1"), {}, &beat).has_value());
  ASSERT_NE(Find(beat, GridEventKind::kNodeUp), nullptr);
}

TEST_F(GridEventsTest, ADrainedNodeDrainsThenLeavesOnceEmpty) {
  Register("n1");
  const std::string session = Occupy();
  Effects drained;
  ASSERT_TRUE(grid().Drain(NodeId("n1"), &drained));
  ASSERT_NE(Find(drained, GridEventKind::kNodeDraining), nullptr);
  EXPECT_EQ(Find(drained, GridEventKind::kNodeRemoved), nullptr);
  Effects ended = grid().EndSession(SessionId(session));
  const GridEvent* removed = Find(ended, GridEventKind::kNodeRemoved);
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ(removed->reason, "drained");
}

TEST_F(GridEventsTest, ADeregisteredNodeIsRemoved) {
  Register("n1");
  Effects effects;
  ASSERT_TRUE(grid().Deregister(NodeId("n1"), &effects));
  ASSERT_NE(Find(effects, GridEventKind::kNodeRemoved), nullptr);
}

TEST_F(GridEventsTest, EachOutcomeIsToldOnce) {
  Register("n1");
  Occupy();
  Submit();
  Effects cleared;
  EXPECT_EQ(grid().ClearQueue(&cleared), 1u);
  size_t cancelled = 0;
  for (const GridEvent& e : cleared.events) cancelled += e.kind == GridEventKind::kCancelled;
  EXPECT_EQ(cancelled, 1u);
  EXPECT_EQ(cleared.events.size(), 1u);
}

}  // namespace
}  // namespace gridhub::hub
