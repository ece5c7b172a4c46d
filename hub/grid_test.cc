#include "hub/grid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "hub/grid_fakes.h"
#include "hub/outcome_http.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

matching::NewSessionSpec Spec(json always) {
  auto spec = matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", always}}}});
  EXPECT_TRUE(spec.ok());
  return std::move(*spec);
}

json Node(const std::string& id, int max_sessions = 1, std::string browser = "chrome") {
  return {
      {"id", id},
      {"uri", "http://" + id + ":5555/"},
      {"slots",
       {{{"id", "s"}, {"maxSessions", max_sessions}, {"stereotype", {{"browserName", browser}}}}}}};
}

class GridTest : public ::testing::Test {
 protected:
  GridTest() { settings_.queue.registration_grace = 0s; }
  // Whatever a test did, the room index and the published node views agree with the nodes.
  void TearDown() override {
    if (grid_) {
      EXPECT_EQ(grid_->IndexProblem(), "");
    }
  }

  Grid& grid() {
    if (!grid_) grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
    return *grid_;
  }
  void Register(const json& node) {
    Effects effects;
    ASSERT_TRUE(RegisterNode(grid(), node, &effects).ok());
  }
  Effects Submit(json always = {{"browserName", "chrome"}}) {
    return grid().SubmitNewSession(Spec(std::move(always)), "", false, ReplyTarget());
  }

  FakeClock clock_;
  CountingIds ids_;
  config::Settings settings_;
  std::unique_ptr<Grid> grid_;
};

TEST_F(GridTest, DispatchesAtOnceWhenASlotIsFree) {
  Register(Node("n1"));
  Effects effects = Submit({{"browserName", "chrome"}, {"gridhub:runId", "r"}});
  ASSERT_EQ(effects.creates.size(), 1u);
  EXPECT_EQ(effects.creates[0].node_uri, "http://n1:5555");
  EXPECT_EQ(effects.creates[0].capabilities["browserName"], "chrome");
  EXPECT_FALSE(effects.creates[0].capabilities.contains("gridhub:runId"));
  EXPECT_TRUE(effects.replies.empty());
}

TEST_F(GridTest, SuccessRepliesWithNodeIdAndRoutesTheSession) {
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  Effects done =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("abc"));
  ASSERT_EQ(done.replies.size(), 1u);
  EXPECT_EQ(StatusOf(done.replies[0]), 200);
  EXPECT_EQ(done.replies[0].session, SessionId("abc"));
  json body = json::parse(BodyOf(done.replies[0]));
  EXPECT_EQ(body["value"]["capabilities"]["se:gridhubNode"], "n1");
  ASSERT_TRUE(grid().FindSession(SessionId("abc")).has_value());
  EXPECT_EQ(grid().FindSession(SessionId("abc"))->node_uri, "http://n1:5555");
  EXPECT_EQ(grid().snapshot()->nodes[0]->slots[0].sessions.size(), 1u);
}

// The snapshot is rebuilt in parts: an unchanged node's view and an unchanged list of waiters
// are shared with the previous snapshot, and every part that changed shows the change at once
// (the list once a reader asks for it).
TEST_F(GridTest, SnapshotRebuildsOnlyWhatChangedAndShowsEveryChange) {
  Register(Node("n1"));
  Register(Node("n2", 1, "firefox"));
  CreateJob job = Submit().creates.at(0);  // n1's slot: reserved, the queue view shows nobody
  auto before = grid().snapshot_with_queue();
  ASSERT_EQ(before->nodes.size(), 2u);
  EXPECT_TRUE(before->queue->requests.empty());
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("a"));
  Submit();  // waits for n1
  auto waiting = grid().snapshot();
  EXPECT_GT(waiting->version, before->version);
  EXPECT_EQ(waiting->nodes[0]->slots[0].sessions.size(), 1u);  // n1 rebuilt
  EXPECT_EQ(waiting->nodes[1], before->nodes[1]);              // n2 shared
  EXPECT_EQ(waiting->queue, nullptr);  // the waiters changed: not listed until asked
  EXPECT_EQ(waiting->waiting_by_label.ToMap(), (LabelCounts::Map{{"chrome", 1}}));
  EXPECT_EQ(waiting->queue_size, 1u);
  auto listed = grid().snapshot_with_queue();
  EXPECT_EQ(listed->version, waiting->version);  // the same snapshot, with its waiters listed
  ASSERT_EQ(listed->queue->requests.size(), 1u);
  EXPECT_EQ(grid().snapshot(), listed);                           // kept for the next reader
  EXPECT_EQ(grid().snapshot_with_queue()->queue, listed->queue);  // listed once per version

  // A heartbeat changes nothing shown: both parts are shared.
  Effects effects;
  grid().Heartbeat(NodeId("n2"), {}, &effects);
  auto same = grid().snapshot();
  EXPECT_EQ(same->queue, listed->queue);
  EXPECT_EQ(same->nodes[1], waiting->nodes[1]);

  // The session ends: the waiter is granted at once, so the slot is reserved, not shown busy,
  // and the waiter leaves the queue view, all in the snapshot the call published.
  Effects granted = grid().EndSession(SessionId("a"));
  ASSERT_EQ(granted.creates.size(), 1u);
  auto after = grid().snapshot();
  EXPECT_TRUE(after->nodes[0]->slots[0].sessions.empty());
  EXPECT_EQ(after->queue, nullptr);
  EXPECT_TRUE(after->waiting_by_label.ToMap().empty());
  EXPECT_EQ(after->queue_size, 0u);
  EXPECT_TRUE(grid().snapshot_with_queue()->queue->requests.empty());

  // The creation fails and n1 is the only chrome node: the waiter waits again and is shown.
  const CreateJob& again = granted.creates[0];
  grid().OnCreateResult(again.request, again.node_id, again.node_uri, again.slot_id, Refused());
  EXPECT_EQ(grid().snapshot_with_queue()->queue->requests.size(), 1u);
  EXPECT_EQ(grid().snapshot()->waiting_by_label.ToMap(), (LabelCounts::Map{{"chrome", 1}}));

  // A node going DOWN or leaving is shown too.
  ASSERT_TRUE(grid().Drain(NodeId("n2"), &effects));
  EXPECT_EQ(grid().snapshot()->nodes.size(), 1u);  // idle, so it left at once
}

TEST_F(GridTest, WaitsWhileBusyAndDispatchesWhenTheSessionEnds) {
  Register(Node("n1"));
  CreateJob first = Submit().creates.at(0);
  grid().OnCreateResult(first.request, first.node_id, first.node_uri, first.slot_id, Created("s1"));
  EXPECT_TRUE(Submit().creates.empty());
  Effects freed = grid().EndSession(SessionId("s1"));
  ASSERT_EQ(freed.creates.size(), 1u);
  EXPECT_FALSE(grid().FindSession(SessionId("s1")).has_value());
}

TEST_F(GridTest, SpreadPrefersTheLeastLoadedNode) {
  Register(Node("a", 2));
  Register(Node("b", 2));
  CreateJob first = Submit().creates.at(0);
  grid().OnCreateResult(first.request, first.node_id, first.node_uri, first.slot_id, Created("s1"));
  CreateJob second = Submit().creates.at(0);
  EXPECT_NE(second.node_id, first.node_id);
}

TEST_F(GridTest, PackPrefersTheBusiestNodeWithRoom) {
  settings_.hub.slot_selection = config::SlotSelection::kPack;
  Register(Node("a", 2));
  Register(Node("b", 2));
  CreateJob first = Submit().creates.at(0);
  grid().OnCreateResult(first.request, first.node_id, first.node_uri, first.slot_id, Created("s1"));
  CreateJob second = Submit().creates.at(0);
  EXPECT_EQ(second.node_id, first.node_id);
}

TEST_F(GridTest, FailedCreationIsRetriedOnAnotherNode) {
  Register(Node("a"));
  Register(Node("b"));
  CreateJob first = Submit().creates.at(0);
  Effects retry =
      grid().OnCreateResult(first.request, first.node_id, first.node_uri, first.slot_id, Refused());
  EXPECT_TRUE(retry.replies.empty());
  ASSERT_EQ(retry.creates.size(), 1u);
  EXPECT_NE(retry.creates[0].node_id, first.node_id);
}

TEST_F(GridTest, FailureAfterRetryLimitSaysWhatFailed) {
  settings_.queue.retry_limit = 1;
  Register(Node("a"));
  CreateJob job = Submit().creates.at(0);
  Effects effects =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused());
  EXPECT_TRUE(effects.creates.empty());  // the node rests a moment after a failure
  clock_.Advance(1s);
  effects = grid().Tick();
  job = effects.creates.at(0);  // the same node: it is the only one
  effects = grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused());
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_EQ(StatusOf(effects.replies[0]), 500);
  std::string message = json::parse(BodyOf(effects.replies[0]))["value"]["message"];
  EXPECT_NE(message.find("node a"), std::string::npos) << message;
  EXPECT_NE(message.find("driver crashed"), std::string::npos) << message;
  EXPECT_TRUE(effects.creates.empty());
}

TEST_F(GridTest, WaiterTimesOutAtItsDeadline) {
  settings_.queue.timeout = 5s;
  Register(Node("n1"));
  CreateJob first = Submit().creates.at(0);
  grid().OnCreateResult(first.request, first.node_id, first.node_uri, first.slot_id, Created("s1"));
  Submit();
  clock_.Advance(4s);
  EXPECT_TRUE(grid().Tick().replies.empty());
  ASSERT_TRUE(grid().NextWake().has_value());
  clock_.Advance(1s);
  Effects expired = grid().Tick();
  ASSERT_EQ(expired.replies.size(), 1u);
  EXPECT_EQ(StatusOf(expired.replies[0]), 500);
  EXPECT_EQ(grid().snapshot()->queue_size, 0u);
}

TEST_F(GridTest, SessionCreatedAfterTheDeadlineIsDeletedOnTheNode) {
  settings_.queue.timeout = 5s;
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  clock_.Advance(6s);
  Effects effects =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("late"));
  ASSERT_EQ(effects.deletes.size(), 1u);
  EXPECT_EQ(effects.deletes[0].session_id, SessionId("late"));
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_EQ(StatusOf(effects.replies[0]), 500);
  EXPECT_FALSE(grid().FindSession(SessionId("late")).has_value());
  EXPECT_EQ(Submit().creates.size(), 1u);  // the slot is free again
}

TEST_F(GridTest, SlowCreationIsAnsweredAtTheDeadlineAndItsSessionDeletedLater) {
  settings_.queue.timeout = 5s;
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  EXPECT_GT(job.timeout, std::chrono::milliseconds(5000));  // hears about a late session
  ASSERT_TRUE(grid().NextWake().has_value());
  EXPECT_LE(*grid().NextWake(), clock_.Now() + 5s);
  clock_.Advance(5s);
  Effects expired = grid().Tick();
  ASSERT_EQ(expired.replies.size(), 1u);
  EXPECT_EQ(StatusOf(expired.replies[0]), 500);
  Effects late =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s9"));
  EXPECT_TRUE(late.replies.empty());
  ASSERT_EQ(late.deletes.size(), 1u);
  EXPECT_EQ(late.deletes[0].session_id, SessionId("s9"));
  EXPECT_EQ(Submit().creates.size(), 1u);  // the slot is free again
}

TEST_F(GridTest, SilentNodeGoesDownAndItsSessionsAreDropped) {
  settings_.hub.node_timeout = 10s;
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
  Effects none;
  clock_.Advance(6s);
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), {}, &none).value().availability, Availability::kUp);
  clock_.Advance(6s);
  grid().Tick();
  EXPECT_EQ(grid().snapshot()->nodes[0]->availability, Availability::kUp);
  clock_.Advance(5s);
  Effects down = grid().Tick();
  EXPECT_EQ(grid().snapshot()->nodes[0]->availability, Availability::kDown);
  EXPECT_FALSE(grid().FindSession(SessionId("s1")).has_value());
  EXPECT_EQ(down.deletes.size(), 1u);
  // Waiters are not served by a DOWN node, and stay queued.
  EXPECT_TRUE(Submit().creates.empty());
  EXPECT_EQ(grid().snapshot()->queue_size, 1u);
  EXPECT_FALSE(grid().Heartbeat(NodeId("ghost"), {}, &none).has_value());
}

TEST_F(GridTest, UnsatisfiableRequestFailsAtOnceWithAnExplanation) {
  Register(Node("n1"));
  Effects effects = Submit({{"browserName", "firefox"}});
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_EQ(StatusOf(effects.replies[0]), 500);
  EXPECT_NE(BodyOf(effects.replies[0]).find("unsatisfiable"), std::string::npos);
}

TEST_F(GridTest, ShutdownAnswersEveryWaiter) {
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  Submit();
  Effects effects = grid().Shutdown();
  EXPECT_EQ(effects.replies.size(), 2u);  // the waiter and the one being created
  Effects late =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
  EXPECT_EQ(late.deletes.size(), 1u);
  EXPECT_TRUE(late.replies.empty());
}

TEST_F(GridTest, DrainedNodeLeavesWhenEmptyAndItsHeartbeatsSayDraining) {
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
  Effects effects;
  ASSERT_TRUE(grid().Drain(NodeId("n1"), &effects));
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), {}, &effects).value().availability,
            Availability::kDraining);
  EXPECT_TRUE(Submit().replies.size() == 1);  // nothing else could serve it
  grid().EndSession(SessionId("s1"));
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), {}, &effects).value().availability,
            Availability::kDraining);
  Register(Node("n1"));  // an explicit registration brings it back
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), {}, &effects).value().availability, Availability::kUp);
}

TEST_F(GridTest, SessionCreatedOnANodeThatDeregisteredIsDeletedThereAndRetried) {
  Register(Node("a"));
  CreateJob job = Submit().creates.at(0);
  Effects effects;
  ASSERT_TRUE(grid().Deregister(NodeId("a"), &effects));
  Register(Node("b"));
  effects =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("orphan"));
  ASSERT_EQ(effects.deletes.size(), 1u);
  EXPECT_EQ(effects.deletes[0].node_uri, "http://a:5555");
  EXPECT_EQ(effects.deletes[0].session_id, SessionId("orphan"));
  ASSERT_EQ(effects.creates.size(), 1u);  // retried on the node that is still there
  EXPECT_EQ(effects.creates[0].node_id, NodeId("b"));
}

TEST_F(GridTest, AdoptedSessionsCountTowardsCapsUntilTheyEnd) {
  settings_.queue.concurrency_caps = {{"chrome", 1}};
  json node = Node("n1", 2);
  node["sessions"] = {{{"id", "old"}, {"slotId", "s"}, {"capabilities", {{"browserName", "x"}}}}};
  Register(node);
  Register(node);  // reported again by the same node: already known, not counted twice
  EXPECT_EQ(grid().QueueCounters()["chrome"].active, 1u);
  // The adopted session holds chrome's only unit of cap although a slot unit is free.
  EXPECT_TRUE(Submit().creates.empty());
  Effects freed = grid().EndSession(SessionId("old"));
  ASSERT_EQ(freed.creates.size(), 1u);
  CreateJob job = freed.creates[0];
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("new"));
  EXPECT_EQ(grid().QueueCounters()["chrome"].active, 1u);
  grid().EndSession(SessionId("new"));
  EXPECT_EQ(grid().QueueCounters()["chrome"].active, 0u);
}

TEST_F(GridTest, AdoptedSessionsUnderALabelledSlotAreReleasedWhenTheNodeLeaves) {
  json node = {{"id", "n1"},
               {"uri", "http://n1:5555"},
               {"slots",
                {{{"id", "s"},
                  {"label", "AppA:UAT"},
                  {"maxSessions", 3},
                  {"stereotype", {{"browserName", "chrome"}}}}}},
               {"sessions", {"a", "b"}}};  // bare ids: the first slot with room takes them
  Register(node);
  EXPECT_EQ(grid().QueueCounters()["appa:uat"].active, 2u);
  Effects effects;
  ASSERT_TRUE(grid().Deregister(NodeId("n1"), &effects));
  EXPECT_EQ(grid().QueueCounters()["appa:uat"].active, 0u);
}

// --- remembered LabelCanUse() answers (SlotCompatibility::Generation) ------------------------
// With one free slot unit the queue walks only the labels it remembered as able to use that
// unit. A remembered "cannot" that outlives the change that made it wrong would strand a waiter
// next to a free slot; each test below makes the queue remember such an answer first.

json LabelledNode(const std::string& id, const std::string& label, int max_sessions = 1,
                  const std::string& browser = "chrome") {
  json node = Node(id, max_sessions, browser);
  node["slots"][0]["label"] = label;
  return node;
}

TEST_F(GridTest, ReRegistrationWithAnotherLabelServesTheWaiterItNowFits) {
  settings_.queue.reject_unsatisfiable = false;
  Register(LabelledNode("n1", "AppA"));
  // The only free unit cannot serve label appb: remembered.
  EXPECT_TRUE(Submit({{"browserName", "chrome"}, {"gridhub:label", "AppB"}}).creates.empty());
  Effects effects;
  ASSERT_TRUE(RegisterNode(grid(), LabelledNode("n1", "AppB"), &effects).ok());
  ASSERT_EQ(effects.creates.size(), 1u);  // same unit id, new label
  EXPECT_EQ(effects.creates[0].node_id, NodeId("n1"));
}

TEST_F(GridTest, ToggleChangeServesTheWaiterItNowFits) {
  settings_.queue.reject_unsatisfiable = false;
  settings_.matching.prefix_expand = false;
  Register(LabelledNode("n1", "AppA:Chromium"));
  EXPECT_TRUE(Submit({{"browserName", "chrome"}, {"gridhub:label", "AppA"}}).creates.empty());
  config::Settings changed = settings_;
  changed.matching.prefix_expand = true;
  EXPECT_EQ(grid().Reconfigure(changed).creates.size(), 1u);
}

TEST_F(GridTest, RequestByBrowserNameReachingAnotherBrowserIsServedThere) {
  settings_.queue.reject_unsatisfiable = false;
  Register(Node("n1", 1, "firefox"));
  // Label "chrome", Chrome only: it cannot use the Firefox unit (remembered).
  EXPECT_TRUE(Submit({{"browserName", "chrome"}}).creates.empty());
  // Label "chrome" too (its first candidate), but its second candidate takes Firefox.
  auto spec = matching::ProcessNewSession(
      {{"capabilities",
        {{"firstMatch", {{{"browserName", "chrome"}}, {{"browserName", "firefox"}}}}}}});
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(spec->label.str(), "chrome");
  Effects effects = grid().SubmitNewSession(std::move(*spec), "", false, ReplyTarget());
  ASSERT_EQ(effects.creates.size(), 1u);
  EXPECT_EQ(effects.creates[0].capabilities["browserName"], "firefox");
  EXPECT_EQ(grid().snapshot()->queue_size, 1u);  // the Chrome-only waiter still waits
}

TEST_F(GridTest, NodeLeavingLetsAWaiterFallBackToAParentLabel) {
  settings_.queue.reject_unsatisfiable = false;
  Register(LabelledNode("uat", "AppA:Chromium:UAT"));
  CreateJob busy =
      Submit({{"browserName", "chrome"}, {"gridhub:label", "AppA:Chromium:UAT"}}).creates.at(0);
  grid().OnCreateResult(busy.request, busy.node_id, busy.node_uri, busy.slot_id, Created("s1"));
  Register(LabelledNode("base", "AppA:Chromium"));
  // A UAT slot exists, so this waits for it rather than falling back to the free base slot.
  EXPECT_TRUE(
      Submit({{"browserName", "chrome"}, {"gridhub:label", "AppA:Chromium:UAT"}}).creates.empty());
  Effects effects;
  ASSERT_TRUE(grid().Deregister(NodeId("uat"), &effects));
  ASSERT_EQ(effects.creates.size(), 1u);  // no UAT slot left: trailing fallback
  EXPECT_EQ(effects.creates[0].node_id, NodeId("base"));
}

// Random registrations, re-registrations, departures, toggles, requests (explicit labels with
// fallback, wildcards, requests by browser name, wide firstMatch) and session ends: after
// every step no waiter may be left that a free slot could serve — which is exactly what a wrong
// or stale LabelCanUse() answer would cause. Checked with the matcher, independently of the
// grid's own bookkeeping.
TEST_F(GridTest, RememberedLabelAnswersNeverStrandAWaiter) {
  settings_.queue.reject_unsatisfiable = false;
  settings_.queue.max_per_run = 1000;
  const std::vector<std::string> slot_labels = {
      "", "AppA", "AppA:Chromium", "AppA:Chromium:UAT", "AppB:X", "chrome"};
  const std::vector<std::string> request_labels = {
      "AppA", "AppA:Chromium", "AppA:Chromium:UAT", "AppA:*:UAT", "AppB", "chrome", "firefox"};
  const std::vector<std::string> browsers = {"chrome", "firefox"};
  int grants = 0;
  int checks = 0;
  for (unsigned seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    grid_.reset();
    config::MatchingSettings toggles = settings_.matching;
    std::map<std::string, matching::NewSessionSpec> specs;  // by queue id, in admission order
    int admitted = 0;
    int next_session = 0;
    // Creations succeed at once, so no unit stays reserved.
    auto settle = [&](Effects effects) {
      while (!effects.creates.empty()) {
        CreateJob job = effects.creates.back();
        effects.creates.pop_back();
        ++grants;
        effects.Append(grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id,
                                             Created("s" + std::to_string(++next_session))));
      }
    };
    for (int step = 0; step < 60; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      const size_t op = pick(10);
      const std::string node_id = "n" + std::to_string(pick(3));
      Effects effects;
      if (op <= 1) {
        json node = {
            {"id", node_id}, {"uri", "http://" + node_id + ":5555"}, {"slots", json::array()}};
        for (size_t i = 0, n = 1 + pick(2); i < n; ++i) {
          json slot = {{"id", std::to_string(i)},
                       {"maxSessions", 1 + pick(2)},
                       {"stereotype", {{"browserName", browsers[pick(2)]}}}};
          const std::string& label = slot_labels[pick(slot_labels.size())];
          if (!label.empty()) slot["label"] = label;
          node["slots"].push_back(slot);
        }
        ASSERT_TRUE(RegisterNode(grid(), node, &effects).ok());
      } else if (op <= 5) {
        json candidate = json::object();
        if (pick(4) != 0) candidate["browserName"] = browsers[pick(2)];
        if (pick(2) == 0) candidate["gridhub:label"] = request_labels[pick(request_labels.size())];
        json caps = {{"alwaysMatch", candidate}};
        if (pick(4) == 0) {  // a second candidate for the other browser
          caps = {{"firstMatch", {candidate, {{"browserName", "firefox"}}}}};
          caps["firstMatch"][0]["browserName"] = "chrome";
        }
        auto spec = matching::ProcessNewSession({{"capabilities", caps}});
        ASSERT_TRUE(spec.ok()) << caps.dump();
        specs.emplace(std::to_string(++admitted), *spec);
        effects = grid().SubmitNewSession(std::move(*spec), "", false, ReplyTarget());
        ASSERT_TRUE(effects.replies.empty()) << BodyOf(effects.replies[0]);
      } else if (op <= 7) {
        std::vector<std::string> live;
        for (const auto& node : grid().snapshot()->nodes) {
          for (const auto& slot : node->slots) {
            for (const auto& session : slot.sessions) live.push_back(session.id);
          }
        }
        if (!live.empty()) effects = grid().EndSession(SessionId(live[pick(live.size())]));
      } else if (op == 8) {
        grid().Deregister(NodeId(node_id), &effects);
      } else {
        config::Settings changed = settings_;
        changed.matching = {.prefix_expand = pick(2) == 0,
                            .wildcards = pick(2) == 0,
                            .trailing_fallback = pick(2) == 0};
        toggles = changed.matching;
        effects = grid().Reconfigure(changed);
      }
      settle(std::move(effects));

      // Nobody waits next to a free slot that could serve it.
      matching::SlotMatcher matcher({.prefix_expand = toggles.prefix_expand,
                                     .wildcards = toggles.wildcards,
                                     .trailing_fallback = toggles.trailing_fallback});
      std::vector<matching::Stereotype> slots;
      std::vector<bool> free;
      std::shared_ptr<const GridSnapshot> snapshot = grid().snapshot();
      for (const auto& node : snapshot->nodes) {
        for (const auto& slot : node->slots) {
          slots.push_back(*matching::Stereotype::Parse(slot.stereotype, slot.label));
          free.push_back(static_cast<int>(slot.sessions.size()) < slot.max_sessions);
        }
      }
      std::vector<const matching::Stereotype*> pool;
      for (const auto& slot : slots) pool.push_back(&slot);
      const json queue = grid().QueueJson();
      for (const json& waiter : queue["value"]) {
        const matching::NewSessionSpec& spec = specs.at(waiter["id"].get<std::string>());
        std::optional<matching::LabelKey> restriction = matcher.ResolveRestriction(spec, pool);
        for (size_t i = 0; i < slots.size(); ++i) {
          ++checks;
          ASSERT_FALSE(free[i] &&
                       matcher.Match(spec, restriction ? &*restriction : nullptr, slots[i]))
              << "waiter " << waiter.dump() << " strands next to free slot labelled "
              << slots[i].label().str() << " " << slots[i].json().dump();
        }
      }
    }
  }
  EXPECT_GT(grants, 1000);
  EXPECT_GT(checks, 10000);
}

TEST_F(GridTest, RejectsInvalidRegistrations) {
  Effects effects;
  EXPECT_FALSE(RegisterNode(grid(), json::array(), &effects).ok());
  EXPECT_FALSE(RegisterNode(grid(), {{"id", "a"}, {"uri", "http://a"}}, &effects).ok());
  EXPECT_FALSE(
      RegisterNode(
          grid(),
          {{"id", "a"}, {"uri", "http://a"}, {"slots", {{{"stereotype", {{"browserName", 3}}}}}}},
          &effects)
          .ok());
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
}

// A node that fails a creation rests (1 s, doubling per failure in a row), so a waiter's
// retries are spread over time instead of burnt back to back; a success resets the rest.
TEST_F(GridTest, FailingNodeRestsLongerAfterEachFailureUntilASuccess) {
  settings_.queue.retry_limit = 10;
  Register(Node("a", 2));
  auto fail = [&](const CreateJob& job) {
    return grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused());
  };
  CreateJob job = Submit().creates.at(0);
  EXPECT_TRUE(fail(job).creates.empty());
  // A second request finds no offered slot either while the node rests.
  EXPECT_TRUE(Submit().creates.empty());
  clock_.Advance(999ms);
  EXPECT_TRUE(grid().Tick().creates.empty());
  clock_.Advance(1ms);
  Effects retried = grid().Tick();
  ASSERT_EQ(retried.creates.size(), 2u);  // both waiters, on the node's two slots
  EXPECT_TRUE(fail(retried.creates[0]).creates.empty());
  // Its twin failed within the same rest: counted once, not doubling the rest again.
  EXPECT_TRUE(fail(retried.creates[1]).creates.empty());
  ASSERT_TRUE(grid().NextWake().has_value());
  EXPECT_EQ(*grid().NextWake(), clock_.Now() + 2s);
  clock_.Advance(2s);
  retried = grid().Tick();
  ASSERT_EQ(retried.creates.size(), 2u);
  const CreateJob& ok = retried.creates[0];
  EXPECT_EQ(grid()
                .OnCreateResult(ok.request, ok.node_id, ok.node_uri, ok.slot_id, Created("s1"))
                .replies.size(),
            1u);
  EXPECT_TRUE(fail(retried.creates[1]).creates.empty());
  clock_.Advance(1s);  // after a success the rest starts again at 1 s
  EXPECT_EQ(grid().Tick().creates.size(), 1u);
}

TEST_F(GridTest, RegistrationGraceEndFailsWaitersNoSlotCouldServe) {
  settings_.queue.registration_grace = 10s;
  settings_.queue.timeout = 300s;
  Register(Node("a"));  // chrome
  CreateJob busy = Submit().creates.at(0);
  grid().OnCreateResult(busy.request, busy.node_id, busy.node_uri, busy.slot_id, Created("s1"));
  EXPECT_TRUE(Submit({{"browserName", "firefox"}}).replies.empty());  // waits: grace
  EXPECT_TRUE(Submit().replies.empty());                              // waits: slot busy
  ASSERT_TRUE(grid().NextWake().has_value());
  EXPECT_EQ(*grid().NextWake(), clock_.Now() + 10s);
  clock_.Advance(10s);
  Effects ended = grid().Tick();
  ASSERT_EQ(ended.replies.size(), 1u);
  EXPECT_EQ(StatusOf(ended.replies[0]), 500);
  std::string message = json::parse(BodyOf(ended.replies[0]))["value"]["message"];
  EXPECT_NE(message.find("unsatisfiable"), std::string::npos) << message;
  EXPECT_NE(message.find("firefox"), std::string::npos) << message;
  EXPECT_EQ(grid().snapshot()->queue_size, 1u);  // the chrome waiter stays
}

TEST_F(GridTest, ExpiredTicketIsGoneButAFailedOneAnswersTakeOnce) {
  settings_.queue.timeout = 5s;
  settings_.queue.retry_limit = 0;
  Register(Node("a"));
  CreateJob busy = Submit().creates.at(0);
  grid().OnCreateResult(busy.request, busy.node_id, busy.node_uri, busy.slot_id, Created("s1"));
  Effects effects;
  Result<json> expiring = grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects);
  ASSERT_TRUE(expiring.ok());
  std::string expiring_id = (*expiring)["id"];
  clock_.Advance(5s);
  grid().Tick();
  EXPECT_FALSE(grid().TicketStatus(expiring_id, (*expiring)["token"].get<std::string>()).ok());
  EXPECT_EQ(grid().TakeTicket(expiring_id, (*expiring)["token"].get<std::string>()).outcome,
            TakeOutcome::kUnknown);

  grid().EndSession(SessionId("s1"));
  Result<json> failing = grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects);
  ASSERT_TRUE(failing.ok());
  ASSERT_EQ(effects.creates.size(), 1u);
  const CreateJob& job = effects.creates.back();
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused());
  std::string id = (*failing)["id"];
  std::string token = (*failing)["token"];
  EXPECT_FALSE(grid().TicketStatus(id, token).ok());  // GET shows only waiting or ready
  TicketBook::Taken taken = grid().TakeTicket(id, token);
  EXPECT_EQ(taken.outcome, TakeOutcome::kFailed);
  EXPECT_EQ(taken.error.code, ErrorCode::kSessionNotCreated);
  EXPECT_NE(taken.error.message.find("driver crashed"), std::string::npos) << taken.error.message;
  EXPECT_EQ(TakeAnswer(std::move(taken)).status, 500);
  EXPECT_EQ(grid().TakeTicket(id, token).outcome, TakeOutcome::kUnknown);
}

// Every ticket call needs the ticket's own token: 403 for a wrong or missing one (nothing
// changes), 404 for an unknown ticket whatever the token.
TEST_F(GridTest, EveryTicketCallNeedsTheTicketsToken) {
  Register(Node("a"));
  CreateJob busy = Submit().creates.at(0);
  grid().OnCreateResult(busy.request, busy.node_id, busy.node_uri, busy.slot_id, Created("s1"));
  Effects effects;
  Result<json> ticket = grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects);
  ASSERT_TRUE(ticket.ok());
  const std::string id = (*ticket)["id"];
  const std::string token = (*ticket)["token"];
  Result<json> other = grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects);
  ASSERT_TRUE(other.ok());
  const std::string other_token = (*other)["token"];

  for (std::string_view wrong :
       {std::string_view(), std::string_view(other_token), std::string_view(token).substr(1)}) {
    Result<json> got = grid().TicketStatus(id, wrong);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, ErrorCode::kForbidden);
    Status beat = grid().TicketHeartbeat(id, wrong);
    ASSERT_FALSE(beat.ok());
    EXPECT_EQ(beat.error().code, ErrorCode::kForbidden);
    Status deleted = grid().DeleteTicket(id, wrong, &effects);
    ASSERT_FALSE(deleted.ok());
    EXPECT_EQ(deleted.error().code, ErrorCode::kForbidden);
    TicketBook::Taken taken = grid().TakeTicket(id, wrong);
    EXPECT_EQ(taken.outcome, TakeOutcome::kWrongToken);
    EXPECT_EQ(TakeAnswer(std::move(taken)).status, 403);
  }
  // Nothing of that touched the ticket.
  Result<json> got = grid().TicketStatus(id, token);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["status"], "waiting");
  EXPECT_EQ((*got)["position"], 1);
  EXPECT_TRUE(grid().TicketHeartbeat(id, token).ok());
  EXPECT_TRUE(grid().DeleteTicket(id, token, &effects).ok());

  Result<json> gone = grid().TicketStatus(id, token);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  Status beat = grid().TicketHeartbeat("no-such-ticket", token);
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(beat.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(grid().DeleteTicket(id, token, &effects).error().code, ErrorCode::kNotFound);
}

// GET /queue names each waiter by its request id, never by the id of its ticket.
TEST_F(GridTest, QueueListingShowsNoTicketIds) {
  Register(Node("a"));
  CreateJob busy = Submit().creates.at(0);
  grid().OnCreateResult(busy.request, busy.node_id, busy.node_uri, busy.slot_id, Created("s1"));
  Effects effects;
  Result<json> ticket = grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects);
  ASSERT_TRUE(ticket.ok());
  json queue = grid().QueueJson()["value"];
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_NE(queue[0]["id"], (*ticket)["id"]);
  EXPECT_EQ(queue[0].dump().find((*ticket)["id"].get<std::string>()), std::string::npos);
  EXPECT_EQ(queue[0].dump().find((*ticket)["token"].get<std::string>()), std::string::npos);
}

// Fills `sessions` chrome slots with sessions, so that later requests wait.
void Occupy(Grid& grid, int sessions, const std::string& label = "") {
  for (int i = 0; i < sessions; ++i) {
    json always = {{"browserName", "chrome"}};
    if (!label.empty()) always["gridhub:label"] = label;
    auto spec = matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", always}}}});
    Effects effects = grid.SubmitNewSession(std::move(*spec), "", false, ReplyTarget());
    ASSERT_EQ(effects.creates.size(), 1u);
    const CreateJob& job = effects.creates[0];
    grid.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id,
                        Created("busy" + std::to_string(i)));
  }
}

// The gridhub:label suffix trick: chrome:x1, chrome:x2, ... are served by the "chrome" slots
// through trailing fallback, so they are counted under "chrome" and share its max-per-label.
TEST_F(GridTest, FallbackLabelsCountUnderTheLabelThatServesThem) {
  settings_.queue.max_per_label = 2;
  Register(LabelledNode("a", "chrome"));
  Occupy(grid(), 1);
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    Effects effects;
    Result<json> ticket = grid().CreateTicket(
        Spec({{"browserName", "chrome"}, {"gridhub:label", "chrome:x" + std::to_string(i)}}), "",
        &effects);
    statuses.push_back(ticket.ok() ? 201 : TicketRefusalStatus(ticket.error().code));
    if (ticket.ok()) {
      EXPECT_EQ((*ticket)["label"], "chrome");
    } else {
      EXPECT_NE(ticket.error().message.find("queue.max-per-label"), std::string::npos);
    }
  }
  EXPECT_EQ(statuses, (std::vector<int>{201, 201, 429, 429, 429}));
  EXPECT_EQ(grid().QueueCounters()["chrome"].waiting, 2u);
  // A cap on the label that serves them holds them all.
  EXPECT_EQ(grid().QueueCounters().count("chrome:x0"), 0u);
}

// Labels no slot or cap declares (while reject-unsatisfiable is off, or during the grace)
// share one bucket and one max-per-label; a declared label keeps its own.
TEST_F(GridTest, UndeclaredLabelsShareOneBucket) {
  settings_.queue.max_per_label = 3;
  settings_.queue.reject_unsatisfiable = false;
  settings_.queue.concurrency_caps = {{"declared:by:cap", 0}};
  Register(LabelledNode("a", "chrome"));
  Occupy(grid(), 1);
  int admitted = 0;
  for (int i = 0; i < 10; ++i) {
    Effects effects;
    admitted +=
        grid()
            .CreateTicket(
                Spec({{"browserName", "chrome"}, {"gridhub:label", "nowhere" + std::to_string(i)}}),
                "", &effects)
            .ok();
  }
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(grid().QueueCounters()[std::string(kUndeclaredLabel)].waiting, 3u);
  for (int i = 0; i < 3; ++i) {
    Effects effects;
    Result<json> ticket = grid().CreateTicket(
        Spec({{"browserName", "chrome"}, {"gridhub:label", "declared:by:cap"}}), "", &effects);
    ASSERT_TRUE(ticket.ok());
    EXPECT_EQ((*ticket)["label"], "declared:by:cap");
  }
  // A request by browser name with a slot of that browser is its own label.
  Effects effects;
  ASSERT_TRUE(grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects).ok());
  EXPECT_EQ(grid().QueueCounters()["chrome"].waiting, 1u);
}

// Nothing grows with requests that are gone: 20,000 refused requests with distinct labels, and
// waiters that came and went, leave the per-label structures as they were.
TEST_F(GridTest, RefusedAndFinishedRequestsLeaveNothingBehind) {
  settings_.queue.max_per_label = 5;
  settings_.queue.max_per_run = 1;
  Register(LabelledNode("a", "chrome"));
  const Grid::Footprint before = grid().footprint();
  for (int i = 0; i < 20000; ++i) {
    Effects effects =
        grid().SubmitNewSession(Spec({{"browserName", "chrome"},
                                      {"gridhub:label", "l" + std::to_string(i) + ":x:y"},
                                      {"platformName", "nowhere"}}),
                                "run" + std::to_string(i), false, ReplyTarget());
    ASSERT_EQ(effects.replies.size(), 1u);  // unsatisfiable
  }
  EXPECT_EQ(grid().footprint().queue_labels, before.queue_labels);
  EXPECT_EQ(grid().footprint().label_uses, before.label_uses);
  EXPECT_EQ(grid().footprint().metric_labels, before.metric_labels);

  Occupy(grid(), 1);
  std::vector<std::string> tickets;
  for (int i = 0; i < 50; ++i) {
    Effects effects;
    Result<json> ticket = grid().CreateTicket(
        Spec({{"browserName", "chrome"}, {"gridhub:label", "chrome:r" + std::to_string(i)}}),
        "run" + std::to_string(i), &effects);
    if (ticket.ok()) tickets.push_back((*ticket)["id"]);
  }
  EXPECT_EQ(tickets.size(), 5u);
  clock_.Advance(settings_.queue.abandon_after);  // nobody polls: abandoned
  grid().Tick();
  grid().EndSession(SessionId("busy0"));
  Grid::Footprint after = grid().footprint();
  EXPECT_EQ(after.tickets, 0u);
  EXPECT_EQ(after.waiters, 0u);
  EXPECT_EQ(after.sessions, 0u);
  EXPECT_EQ(after.queue_labels, before.queue_labels);
  EXPECT_EQ(after.label_uses, 0u);
}

// --- Nodes: what a node may register and report (DESIGN 7a) -----------------------------------

// Creates one session on whatever slot dispatch picks and returns the job that made it.
CreateJob CreateSession(Grid& grid, const std::string& session_id, Effects submitted) {
  EXPECT_EQ(submitted.creates.size(), 1u);
  if (submitted.creates.empty()) return {};
  CreateJob job = submitted.creates[0];
  grid.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created(session_id));
  return job;
}

std::string RegistrationError(Grid& grid, const json& node) {
  Effects effects;
  Result<json> result = RegisterNode(grid, node, &effects);
  return result.ok() ? "accepted" : result.error().message;
}

TEST_F(GridTest, NodeUriMustBeHostAndPortWithoutUserInfoQueryOrFragment) {
  auto with_uri = [](const std::string& uri) {
    json node = Node("n1");
    node["uri"] = uri;
    return node;
  };
  EXPECT_EQ(RegistrationError(grid(), with_uri("http://127.0.0.1:5/x#")),
            "uri must not have a query or fragment");
  EXPECT_EQ(RegistrationError(grid(), with_uri("http://admin:pw@n1:5555")),
            "uri must not contain user-info");
  EXPECT_EQ(RegistrationError(grid(), with_uri("http://n1")),
            "uri must give an explicit port (http(s)://host:port)");
  EXPECT_EQ(RegistrationError(grid(), with_uri("file:///etc/passwd")),
            "uri must be an http:// or https:// URL (http(s)://host:port[/path])");
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
  // Accepted URIs are normalised: lower-case host, no trailing slash.
  Register(with_uri("HTTP://N1:5555/wd/hub/"));
  EXPECT_EQ(grid().NodesJson()["value"][0]["uri"], "http://n1:5555/wd/hub");
}

TEST_F(GridTest, NodeUriMustNotBeTheHubItself) {
  grid().SetSelfAddress({.port = 4444, .ips = {"10.1.2.3"}, .names = {"hubhost"}});
  for (const std::string uri :
       {"http://127.0.0.1:4444", "http://localhost:4444/wd/hub", "http://0.0.0.0:4444",
        "http://[::1]:4444", "http://10.1.2.3:4444", "http://hubhost:4444"}) {
    json node = Node("n1");
    node["uri"] = uri;
    EXPECT_EQ(RegistrationError(grid(), node).rfind("uri ", 0), 0u) << uri;
    EXPECT_NE(RegistrationError(grid(), node).find("this hub's own address"), std::string::npos);
  }
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
  json other_port = Node("n1");
  other_port["uri"] = "http://127.0.0.1:4445";
  Register(other_port);  // a node on the hub's machine is fine
}

TEST_F(GridTest, RegistrationIsBoundedInSlotsSessionsAndIds) {
  json node = Node("n1");
  node["slots"] = json::array();
  for (int i = 0; i < 1025; ++i) node["slots"].push_back({{"id", std::to_string(i)}});
  EXPECT_EQ(RegistrationError(grid(), node), "slots has 1025 entries; at most 1024 are allowed");
  node["slots"].erase(node["slots"].size() - 1);
  EXPECT_EQ(RegistrationError(grid(), node), "accepted");

  json big = Node("n2", 1025);
  EXPECT_EQ(RegistrationError(grid(), big),
            "slots[0].maxSessions must be an integer from 1 to 1024");
  big = Node("n2", 1024);
  big["sessions"] = json::array();
  for (int i = 0; i < 1025; ++i) big["sessions"].push_back("s" + std::to_string(i));
  EXPECT_EQ(RegistrationError(grid(), big),
            "sessions has 1025 entries but the slots offer only 1024");
  big["sessions"] = {"../../drain"};
  EXPECT_NE(RegistrationError(grid(), big).find("sessions[0] must be a session id"),
            std::string::npos);

  json bad_id = Node("n3");
  bad_id["id"] = "a/b";
  EXPECT_NE(RegistrationError(grid(), bad_id).find("id must be 1 to 128 characters"),
            std::string::npos);
  bad_id["id"] = std::string(129, 'a');
  EXPECT_NE(RegistrationError(grid(), bad_id).find("id must be 1 to 128 characters"),
            std::string::npos);
  EXPECT_EQ(grid().snapshot()->nodes.size(), 1u);
}

// A node with 1,024 slots of 1,024 sessions each costs /status and dispatch per slot, not per
// session unit: /status lists one entry per slot (plus one per running session).
TEST_F(GridTest, StatusListsSlotsAndSessionsNotSessionUnits) {
  json node = Node("n1", 1024);
  node["slots"] = json::array();
  for (int i = 0; i < 1024; ++i) {
    node["slots"].push_back({{"id", std::to_string(i)},
                             {"maxSessions", 1024},
                             {"stereotype", {{"browserName", i == 0 ? "chrome" : "firefox"}}}});
  }
  Register(node);
  CreateSession(grid(), "abc", Submit());
  json status = StatusJson(*grid().snapshot());
  const json& shown = status["value"]["nodes"][0];
  EXPECT_EQ(shown["maxSessions"], 1024 * 1024);
  EXPECT_EQ(shown["sessionCount"], 1);
  ASSERT_EQ(shown["slots"].size(), 1025u);  // 1,024 free entries and one session
  EXPECT_EQ(shown["slots"][0]["session"]["sessionId"], "abc");
  EXPECT_EQ(shown["slots"][0]["id"], "0/0");
  EXPECT_EQ(shown["slots"][1]["session"], nullptr);
  EXPECT_EQ(shown["slots"][1]["id"], "0/1");
  EXPECT_EQ(shown["slots"][1]["free"], 1023);
  EXPECT_EQ(shown["slots"][2]["free"], 1024);
}

TEST_F(GridTest, OneSlotOfManySessionsServesAWholeBacklogInOneCall) {
  settings_.queue.reject_unsatisfiable = false;
  settings_.queue.max_per_label = 1000;
  for (int i = 0; i < 300; ++i) EXPECT_TRUE(Submit().creates.empty());
  Effects effects;
  ASSERT_TRUE(RegisterNode(grid(), Node("n1", 1024), &effects).ok());
  EXPECT_EQ(effects.creates.size(), 300u);
  EXPECT_EQ(grid().QueueJson()["value"].size(), 0u);
}

// Raising a cap grants several waiters in one call: spread interleaves them across nodes,
// pack fills the busiest node first.
class SlotSelectionTest : public GridTest,
                          public ::testing::WithParamInterface<config::SlotSelection> {};

TEST_P(SlotSelectionTest, GrantsInOneCallFollowTheSlotSelection) {
  settings_.hub.slot_selection = GetParam();
  settings_.queue.concurrency_caps = {{"chrome", 1}};
  Register(Node("a", 4));
  Register(Node("b", 4));
  CreateJob first = CreateSession(grid(), "s0", Submit());
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Submit().creates.empty());
  config::Settings raised = settings_;
  raised.queue.concurrency_caps = {{"chrome", 5}};
  Effects effects = grid().Reconfigure(raised);
  std::map<NodeId, int> per_node;
  for (const CreateJob& job : effects.creates) per_node[job.node_id]++;
  ASSERT_EQ(effects.creates.size(), 4u);
  const NodeId other(first.node_id == NodeId("a") ? "b" : "a");
  if (GetParam() == config::SlotSelection::kSpread) {
    EXPECT_EQ(per_node[first.node_id], 2);
    EXPECT_EQ(per_node[other], 2);
  } else {
    EXPECT_EQ(per_node[first.node_id], 3);
    EXPECT_EQ(per_node[other], 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, SlotSelectionTest,
                         ::testing::Values(config::SlotSelection::kSpread,
                                           config::SlotSelection::kPack));

TEST_F(GridTest, ReRegistrationFromAnotherUriIsRefusedWhileTheNodeHasSessions) {
  Register(Node("n1"));
  CreateSession(grid(), "abc", Submit());
  json moved = Node("n1");
  moved["uri"] = "http://evil:5555";
  Effects effects;
  Result<json> refused = RegisterNode(grid(), moved, &effects);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("cannot re-register from another uri"), std::string::npos);
  EXPECT_EQ(grid().FindSession(SessionId("abc"))->node_uri, "http://n1:5555");
  EXPECT_EQ(grid().NodesJson()["value"][0]["uri"], "http://n1:5555");

  // The same uri (the agent restarted, or the hub did) keeps working and keeps the session.
  Register(Node("n1"));
  EXPECT_EQ(grid().FindSession(SessionId("abc"))->node_uri, "http://n1:5555");

  // Once the node has no session (or is DOWN), another uri may take the id.
  grid().EndSession(SessionId("abc"));
  Register(moved);
  EXPECT_EQ(grid().NodesJson()["value"][0]["uri"], "http://evil:5555");
}

TEST_F(GridTest, ReRegistrationFromAnotherUriIsAllowedOnceTheNodeIsDown) {
  Register(Node("n1"));
  CreateSession(grid(), "abc", Submit());
  clock_.Advance(settings_.hub.node_timeout + 1s);
  grid().Tick();  // DOWN: its sessions are dropped
  json moved = Node("n1");
  moved["uri"] = "http://n1-new:5555";
  Register(moved);
  EXPECT_FALSE(grid().FindSession(SessionId("abc")).has_value());
}

TEST_F(GridTest, ReRegistrationFromAnotherUriIsRefusedWhileACreationIsInFlight) {
  Register(Node("n1"));
  ASSERT_EQ(Submit().creates.size(), 1u);  // reserved, not answered yet
  json moved = Node("n1");
  moved["uri"] = "http://evil:5555";
  EXPECT_NE(RegistrationError(grid(), moved).find("cannot re-register"), std::string::npos);
}

// A node answering a new session with a live session's id: that creation fails, the existing
// route stays, the slot is freed, the request is retried on another node, and nothing is
// deleted anywhere (the decision is explained in OnCreateResult).
TEST_F(GridTest, NodeAnsweringALiveSessionIdFailsThatCreationOnly) {
  Register(Node("n1"));
  Register(Node("n2"));
  Register(Node("n3"));
  CreateJob real = CreateSession(grid(), "abc", Submit());
  CreateJob liar = Submit().creates.at(0);
  ASSERT_NE(liar.node_id, real.node_id);
  Effects effects = grid().OnCreateResult(liar.request, liar.node_id, liar.node_uri, liar.slot_id,
                                          Created("abc"));
  EXPECT_TRUE(effects.replies.empty());
  EXPECT_TRUE(effects.deletes.empty());
  ASSERT_EQ(effects.creates.size(), 1u);  // retried elsewhere
  EXPECT_NE(effects.creates[0].node_id, liar.node_id);
  EXPECT_NE(effects.creates[0].node_id, real.node_id);
  EXPECT_EQ(grid().FindSession(SessionId("abc"))->node_id, real.node_id);
  for (const auto& node : grid().snapshot()->nodes) {
    size_t expected = node->id == real.node_id.str() ? 1 : 0;
    EXPECT_EQ(node->slots[0].sessions.size(), expected) << node->id;
  }
  CreateJob retry = effects.creates[0];
  Effects done = grid().OnCreateResult(retry.request, retry.node_id, retry.node_uri, retry.slot_id,
                                       Created("def"));
  ASSERT_EQ(done.replies.size(), 1u);
  EXPECT_EQ(StatusOf(done.replies[0]), 200);
}

TEST_F(GridTest, NodeAnsweringASessionIdTheHubCannotRouteFailsTheCreation) {
  settings_.queue.retry_limit = 0;
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  Effects effects =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("../x"));
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_EQ(StatusOf(effects.replies[0]), 500);
  EXPECT_NE(BodyOf(effects.replies[0]).find("cannot route"), std::string::npos);
  EXPECT_TRUE(effects.deletes.empty());
  EXPECT_FALSE(grid().FindSession(SessionId("../x")).has_value());
}

HeartbeatReport Listing(const std::vector<std::string>& sessions) {
  std::vector<SessionId> ids(sessions.begin(), sessions.end());
  return {.sessions = std::move(ids), .draining = false};
}

TEST_F(GridTest, HeartbeatEndsSessionsTheNodeNoLongerHas) {
  Register(Node("n1", 2));
  Effects none;
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);
  CreateSession(grid(), "kept", Submit());
  CreateSession(grid(), "gone", Submit());
  clock_.Advance(1s);
  // Composed before the sessions were recorded here, maybe: nothing ends yet.
  grid().Heartbeat(NodeId("n1"), Listing({"kept"}), &none);
  EXPECT_TRUE(grid().FindSession(SessionId("gone")).has_value());
  clock_.Advance(15s);
  Effects effects;
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), Listing({"kept"}), &effects).value().availability,
            Availability::kUp);
  EXPECT_FALSE(grid().FindSession(SessionId("gone")).has_value());
  EXPECT_TRUE(grid().FindSession(SessionId("kept")).has_value());
  EXPECT_TRUE(effects.deletes.empty());  // the node said it has none
  EXPECT_EQ(grid().snapshot()->nodes[0]->slots[0].sessions.size(), 1u);
  // Its slot unit is free again: a new request is granted at once.
  EXPECT_EQ(Submit().creates.size(), 1u);
}

// The race the rule avoids: a session created just before a heartbeat that was composed
// earlier reaches the hub. Only sessions recorded before the previous heartbeat arrived (and
// older than the grace) can be ended by a list that lacks them.
TEST_F(GridTest, HeartbeatDoesNotEndASessionYoungerThanThePreviousHeartbeat) {
  Register(Node("n1", 2));
  Effects none;
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);
  clock_.Advance(30s / 4);
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);
  clock_.Advance(1s);
  CreateSession(grid(), "young", Submit());
  clock_.Advance(20s);  // old enough, but recorded after the previous heartbeat arrived
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);
  EXPECT_TRUE(grid().FindSession(SessionId("young")).has_value());
  clock_.Advance(1s);
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);  // this one was composed after it existed
  EXPECT_FALSE(grid().FindSession(SessionId("young")).has_value());
}

TEST_F(GridTest, HeartbeatWithinTheGraceOrWithoutAListEndsNothing) {
  Register(Node("n1", 2));
  Effects none;
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);
  CreateSession(grid(), "a", Submit());
  clock_.Advance(2s);
  grid().Heartbeat(NodeId("n1"), {}, &none);  // no "sessions": a node that does not report them
  clock_.Advance(2s);
  grid().Heartbeat(NodeId("n1"), Listing({}),
                   &none);  // recorded before the previous, but only 4 s old
  EXPECT_TRUE(grid().FindSession(SessionId("a")).has_value());
  clock_.Advance(20s);
  grid().Heartbeat(NodeId("n1"), {}, &none);
  EXPECT_TRUE(grid().FindSession(SessionId("a")).has_value());
}

TEST_F(GridTest, HeartbeatSayingDrainingDrainsTheNode) {
  Register(Node("n1"));
  CreateSession(grid(), "a", Submit());
  Effects effects;
  EXPECT_EQ(grid()
                .Heartbeat(NodeId("n1"), {.sessions = Listing({"a"}).sessions, .draining = true},
                           &effects)
                .value()
                .availability,
            Availability::kDraining);
  EXPECT_TRUE(Submit().creates.empty());
  grid().EndSession(SessionId("a"));  // empty: it leaves, and its heartbeats keep saying DRAINING
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), {}, &effects).value().availability,
            Availability::kDraining);
}

TEST_F(GridTest, HeartbeatEndingTheLastSessionOfADrainingNodeLetsItLeave) {
  Register(Node("n1"));
  Effects none;
  grid().Heartbeat(NodeId("n1"), Listing({}), &none);
  CreateSession(grid(), "a", Submit());
  grid().Drain(NodeId("n1"), &none);
  clock_.Advance(1s);
  grid().Heartbeat(NodeId("n1"), Listing({"a"}), &none);
  clock_.Advance(15s);
  EXPECT_EQ(grid().Heartbeat(NodeId("n1"), Listing({}), &none).value().availability,
            Availability::kDraining);
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
}

// The heartbeat answer names what the node runs that the hub does not route to it — unknown ids
// and ids live on another node — and the hub changes nothing for them.
TEST_F(GridTest, HeartbeatAnswerListsSessionsTheHubDoesNotRouteToTheNode) {
  Register(Node("n1", 2));
  Register(Node("n2"));
  CreateSession(grid(), "mine", Submit());
  CreateSession(grid(), "theirs", Submit());
  const NodeId other = grid().FindSession(SessionId("theirs"))->node_id;
  const NodeId node = grid().FindSession(SessionId("mine"))->node_id;
  ASSERT_NE(other, node);  // spread: one session on each node
  Effects effects;
  std::optional<HeartbeatAnswer> answer =
      grid().Heartbeat(node, Listing({"mine", "ghost", "theirs"}), &effects);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->availability, Availability::kUp);
  EXPECT_EQ(answer->unknown_sessions,
            (std::vector<SessionId>{SessionId("ghost"), SessionId("theirs")}));
  EXPECT_TRUE(effects.deletes.empty());  // nothing is ended by the hub for them
  EXPECT_EQ(grid().FindSession(SessionId("theirs"))->node_id, other);
  EXPECT_FALSE(grid().FindSession(SessionId("ghost")).has_value());

  EXPECT_TRUE(grid().Heartbeat(node, Listing({"mine"}), &effects)->unknown_sessions.empty());
  EXPECT_TRUE(grid().Heartbeat(node, {}, &effects)->unknown_sessions.empty());  // none listed
}

TEST_F(GridTest, ADepartedDrainedNodeHearsThatEverySessionItListsIsUnknown) {
  Register(Node("n1"));
  Effects none;
  grid().Drain(NodeId("n1"), &none);  // empty: it leaves at once
  ASSERT_TRUE(grid().snapshot()->nodes.empty());
  std::optional<HeartbeatAnswer> answer =
      grid().Heartbeat(NodeId("n1"), Listing({"left-over"}), &none);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->availability, Availability::kDraining);
  EXPECT_EQ(answer->unknown_sessions, std::vector<SessionId>{SessionId("left-over")});
}

// Every way a session leaves the session map is reported once by TakeEndedSessions, so the
// service can close the session's WebSockets (hub_sockets.cc), whatever ended it.
TEST_F(GridTest, EveryEndedSessionIsReportedOnceForItsSockets) {
  settings_.hub.node_timeout = 5s;
  Register(Node("a", 3));
  Register(Node("b", 1));
  auto create = [&](const std::string& id) {
    CreateJob job = Submit().creates.at(0);
    grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created(id));
    return job.node_id;
  };
  std::map<std::string, NodeId> where;
  for (const char* id : {"s1", "s2", "s3", "s4"}) where[id] = create(id);
  EXPECT_TRUE(grid().TakeEndedSessions().empty());

  // DELETE through the hub.
  grid().EndSession(SessionId("s1"));
  EXPECT_EQ(grid().TakeEndedSessions(), std::vector<SessionId>{SessionId("s1")});
  EXPECT_TRUE(grid().TakeEndedSessions().empty());
  grid().EndSession(SessionId("s1"));  // already gone: not reported again
  EXPECT_TRUE(grid().TakeEndedSessions().empty());

  // The node deregisters: every session on it.
  const NodeId gone = where["s2"];
  Effects effects;
  ASSERT_TRUE(grid().Deregister(gone, &effects));
  std::vector<SessionId> ended = grid().TakeEndedSessions();
  for (const auto& [id, node] : where) {
    if (id == "s1") continue;
    const bool listed = std::find(ended.begin(), ended.end(), SessionId(id)) != ended.end();
    EXPECT_EQ(listed, node == gone) << id;
  }

  // A node that goes silent is DOWN and its sessions dropped.
  clock_.Advance(6s);
  grid().Tick();
  std::vector<SessionId> down = grid().TakeEndedSessions();
  size_t remaining = 0;
  for (const auto& [id, node] : where) remaining += id != "s1" && node != gone;
  EXPECT_EQ(down.size(), remaining);
  EXPECT_EQ(grid().footprint().sessions, 0u);
}

TEST_F(GridTest, ReRegistrationWithoutTheSessionsSlotReportsIt) {
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
  json other = Node("n1");
  other["slots"][0]["id"] = "t";  // the session's slot is gone
  Register(other);
  EXPECT_EQ(grid().TakeEndedSessions(), std::vector<SessionId>{SessionId("s1")});
}

TEST_F(GridTest, SessionsKeepWhatTheirAnswerOfferedAndTheirLastEvent) {
  Register(Node("n1"));
  Effects submitted = grid().SubmitNewSession(Spec({{"browserName", "chrome"}}), "run-9", false,
                                              ReplyTarget(), "ws://hub:4444");
  CreateJob job = submitted.creates.at(0);
  EXPECT_EQ(job.public_base, "ws://hub:4444");
  EXPECT_FALSE(job.bare_node);
  CreateAnswer answer = Created("s1");
  answer.sockets.bidi = true;
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, std::move(answer));
  std::optional<SessionRoute> route = grid().FindSession(SessionId("s1"));
  ASSERT_TRUE(route.has_value());
  EXPECT_TRUE(route->sockets.bidi);
  EXPECT_EQ(route->run_id, "run-9");
  EXPECT_EQ(route->label, "chrome");
  std::optional<SessionRoute> noted = grid().NoteSessionEvent(SessionId("s1"), "test:passed");
  ASSERT_TRUE(noted.has_value());
  EXPECT_EQ(noted->run_id, "run-9");
  EXPECT_EQ(grid().FindSession(SessionId("s1"))->last_event, "test:passed");
  EXPECT_FALSE(grid().NoteSessionEvent(SessionId("nope"), "x").has_value());
}

TEST_F(GridTest, TicketCreationsCarryTheirPublicBase) {
  Register(Node("n1"));
  Effects effects;
  ASSERT_TRUE(grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &effects, "wss://g").ok());
  ASSERT_EQ(effects.creates.size(), 1u);
  EXPECT_EQ(effects.creates[0].public_base, "wss://g");
}

}  // namespace
}  // namespace gridhub::hub
