#include "hub/grid.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

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

  Grid& grid() {
    if (!grid_) grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
    return *grid_;
  }
  void Register(const json& node) {
    Effects effects;
    ASSERT_TRUE(grid().RegisterNode(node, &effects).ok());
  }
  Effects Submit(json always = {{"browserName", "chrome"}}) {
    return grid().SubmitNewSession(Spec(std::move(always)), "", false, http::Responder());
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
  EXPECT_EQ(done.replies[0].status, 200);
  EXPECT_EQ(done.replies[0].session_id, "abc");
  json body = json::parse(done.replies[0].body);
  EXPECT_EQ(body["value"]["capabilities"]["se:gridhubNode"], "n1");
  ASSERT_TRUE(grid().FindSession("abc").has_value());
  EXPECT_EQ(grid().FindSession("abc")->node_uri, "http://n1:5555");
  EXPECT_EQ(grid().snapshot()->nodes[0]->slots[0].sessions.size(), 1u);
}

// The snapshot is rebuilt in parts: an unchanged node's view and an unchanged queue view are
// shared with the previous snapshot, and every part that changed shows the change at once.
TEST_F(GridTest, SnapshotRebuildsOnlyWhatChangedAndShowsEveryChange) {
  Register(Node("n1"));
  Register(Node("n2", 1, "firefox"));
  CreateJob job = Submit().creates.at(0);  // n1's slot: reserved, the queue view shows nobody
  auto before = grid().snapshot();
  ASSERT_EQ(before->nodes.size(), 2u);
  EXPECT_TRUE(before->queue->requests.empty());
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("a"));
  Submit();  // waits for n1
  auto waiting = grid().snapshot();
  EXPECT_GT(waiting->version, before->version);
  EXPECT_EQ(waiting->nodes[0]->slots[0].sessions.size(), 1u);  // n1 rebuilt
  EXPECT_EQ(waiting->nodes[1], before->nodes[1]);              // n2 shared
  ASSERT_EQ(waiting->queue->requests.size(), 1u);
  EXPECT_EQ(waiting->queue->waiting_by_label.at("chrome"), 1u);
  EXPECT_EQ(waiting->queue_size, 1u);

  // A heartbeat changes nothing shown: both parts are shared.
  Effects effects;
  grid().Heartbeat("n2", &effects);
  auto same = grid().snapshot();
  EXPECT_EQ(same->queue, waiting->queue);
  EXPECT_EQ(same->nodes[1], waiting->nodes[1]);

  // The session ends: the waiter is granted at once, so the slot is reserved, not shown busy,
  // and the waiter leaves the queue view, all in the snapshot the call published.
  Effects granted = grid().EndSession("a");
  ASSERT_EQ(granted.creates.size(), 1u);
  auto after = grid().snapshot();
  EXPECT_TRUE(after->nodes[0]->slots[0].sessions.empty());
  EXPECT_TRUE(after->queue->requests.empty());
  EXPECT_TRUE(after->queue->waiting_by_label.empty());
  EXPECT_EQ(after->queue_size, 0u);

  // The creation fails and n1 is the only chrome node: the waiter waits again and is shown.
  const CreateJob& again = granted.creates[0];
  grid().OnCreateResult(again.request, again.node_id, again.node_uri, again.slot_id, Refused());
  EXPECT_EQ(grid().snapshot()->queue->requests.size(), 1u);

  // A node going DOWN or leaving is shown too.
  ASSERT_TRUE(grid().Drain("n2", &effects));
  EXPECT_EQ(grid().snapshot()->nodes.size(), 1u);  // idle, so it left at once
}

TEST_F(GridTest, WaitsWhileBusyAndDispatchesWhenTheSessionEnds) {
  Register(Node("n1"));
  CreateJob first = Submit().creates.at(0);
  grid().OnCreateResult(first.request, first.node_id, first.node_uri, first.slot_id, Created("s1"));
  EXPECT_TRUE(Submit().creates.empty());
  Effects freed = grid().EndSession("s1");
  ASSERT_EQ(freed.creates.size(), 1u);
  EXPECT_FALSE(grid().FindSession("s1").has_value());
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
  EXPECT_EQ(effects.replies[0].status, 500);
  std::string message = json::parse(effects.replies[0].body)["value"]["message"];
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
  EXPECT_EQ(expired.replies[0].status, 500);
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
  EXPECT_EQ(effects.deletes[0].session_id, "late");
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_EQ(effects.replies[0].status, 500);
  EXPECT_FALSE(grid().FindSession("late").has_value());
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
  EXPECT_EQ(expired.replies[0].status, 500);
  Effects late =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s9"));
  EXPECT_TRUE(late.replies.empty());
  ASSERT_EQ(late.deletes.size(), 1u);
  EXPECT_EQ(late.deletes[0].session_id, "s9");
  EXPECT_EQ(Submit().creates.size(), 1u);  // the slot is free again
}

TEST_F(GridTest, SilentNodeGoesDownAndItsSessionsAreDropped) {
  settings_.hub.node_timeout = 10s;
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
  Effects none;
  clock_.Advance(6s);
  EXPECT_EQ(grid().Heartbeat("n1", &none), Availability::kUp);
  clock_.Advance(6s);
  grid().Tick();
  EXPECT_EQ(grid().snapshot()->nodes[0]->availability, Availability::kUp);
  clock_.Advance(5s);
  Effects down = grid().Tick();
  EXPECT_EQ(grid().snapshot()->nodes[0]->availability, Availability::kDown);
  EXPECT_FALSE(grid().FindSession("s1").has_value());
  EXPECT_EQ(down.deletes.size(), 1u);
  // Waiters are not served by a DOWN node, and stay queued.
  EXPECT_TRUE(Submit().creates.empty());
  EXPECT_EQ(grid().snapshot()->queue_size, 1u);
  EXPECT_FALSE(grid().Heartbeat("ghost", &none).has_value());
}

TEST_F(GridTest, UnsatisfiableRequestFailsAtOnceWithAnExplanation) {
  Register(Node("n1"));
  Effects effects = Submit({{"browserName", "firefox"}});
  ASSERT_EQ(effects.replies.size(), 1u);
  EXPECT_EQ(effects.replies[0].status, 500);
  EXPECT_NE(effects.replies[0].body.find("unsatisfiable"), std::string::npos);
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
  ASSERT_TRUE(grid().Drain("n1", &effects));
  EXPECT_EQ(grid().Heartbeat("n1", &effects), Availability::kDraining);
  EXPECT_TRUE(Submit().replies.size() == 1);  // nothing else could serve it
  grid().EndSession("s1");
  EXPECT_TRUE(grid().snapshot()->nodes.empty());
  EXPECT_EQ(grid().Heartbeat("n1", &effects), Availability::kDraining);
  Register(Node("n1"));  // an explicit registration brings it back
  EXPECT_EQ(grid().Heartbeat("n1", &effects), Availability::kUp);
}

TEST_F(GridTest, SessionCreatedOnANodeThatDeregisteredIsDeletedThereAndRetried) {
  Register(Node("a"));
  CreateJob job = Submit().creates.at(0);
  Effects effects;
  ASSERT_TRUE(grid().Deregister("a", &effects));
  Register(Node("b"));
  effects =
      grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("orphan"));
  ASSERT_EQ(effects.deletes.size(), 1u);
  EXPECT_EQ(effects.deletes[0].node_uri, "http://a:5555");
  EXPECT_EQ(effects.deletes[0].session_id, "orphan");
  ASSERT_EQ(effects.creates.size(), 1u);  // retried on the node that is still there
  EXPECT_EQ(effects.creates[0].node_id, "b");
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
  Effects freed = grid().EndSession("old");
  ASSERT_EQ(freed.creates.size(), 1u);
  CreateJob job = freed.creates[0];
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("new"));
  EXPECT_EQ(grid().QueueCounters()["chrome"].active, 1u);
  grid().EndSession("new");
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
  ASSERT_TRUE(grid().Deregister("n1", &effects));
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
  ASSERT_TRUE(grid().RegisterNode(LabelledNode("n1", "AppB"), &effects).ok());
  ASSERT_EQ(effects.creates.size(), 1u);  // same unit id, new label
  EXPECT_EQ(effects.creates[0].node_id, "n1");
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
  Effects effects = grid().SubmitNewSession(std::move(*spec), "", false, http::Responder());
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
  ASSERT_TRUE(grid().Deregister("uat", &effects));
  ASSERT_EQ(effects.creates.size(), 1u);  // no UAT slot left: trailing fallback
  EXPECT_EQ(effects.creates[0].node_id, "base");
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
        ASSERT_TRUE(grid().RegisterNode(node, &effects).ok());
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
        effects = grid().SubmitNewSession(std::move(*spec), "", false, http::Responder());
        ASSERT_TRUE(effects.replies.empty()) << effects.replies[0].body;
      } else if (op <= 7) {
        std::vector<std::string> live;
        for (const auto& node : grid().snapshot()->nodes) {
          for (const auto& slot : node->slots) {
            for (const auto& session : slot.sessions) live.push_back(session.id);
          }
        }
        if (!live.empty()) effects = grid().EndSession(live[pick(live.size())]);
      } else if (op == 8) {
        grid().Deregister(node_id, &effects);
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
  EXPECT_FALSE(grid().RegisterNode(json::array(), &effects).ok());
  EXPECT_FALSE(grid().RegisterNode({{"id", "a"}, {"uri", "http://a"}}, &effects).ok());
  EXPECT_FALSE(grid()
                   .RegisterNode({{"id", "a"},
                                  {"uri", "http://a"},
                                  {"slots", {{{"stereotype", {{"browserName", 3}}}}}}},
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
  EXPECT_EQ(ended.replies[0].status, 500);
  std::string message = json::parse(ended.replies[0].body)["value"]["message"];
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
  int status = 0;
  Effects effects;
  Result<json> expiring =
      grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &status, &effects);
  ASSERT_TRUE(expiring.ok());
  std::string expiring_id = (*expiring)["id"];
  clock_.Advance(5s);
  grid().Tick();
  EXPECT_FALSE(grid().TicketStatus(expiring_id, (*expiring)["token"].get<std::string>()).ok());
  grid().TakeTicket(expiring_id, (*expiring)["token"].get<std::string>(), &status, &effects);
  EXPECT_EQ(status, 404);

  grid().EndSession("s1");
  Result<json> failing =
      grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &status, &effects);
  ASSERT_TRUE(failing.ok());
  ASSERT_EQ(effects.creates.size(), 1u);
  const CreateJob& job = effects.creates.back();
  grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused());
  std::string id = (*failing)["id"];
  std::string token = (*failing)["token"];
  EXPECT_FALSE(grid().TicketStatus(id, token).ok());  // GET shows only waiting or ready
  std::string body = grid().TakeTicket(id, token, &status, &effects);
  EXPECT_EQ(status, 500);
  EXPECT_NE(body.find("driver crashed"), std::string::npos) << body;
  grid().TakeTicket(id, token, &status, &effects);
  EXPECT_EQ(status, 404);
}

// Every ticket call needs the ticket's own token: 403 for a wrong or missing one (nothing
// changes), 404 for an unknown ticket whatever the token.
TEST_F(GridTest, EveryTicketCallNeedsTheTicketsToken) {
  Register(Node("a"));
  CreateJob busy = Submit().creates.at(0);
  grid().OnCreateResult(busy.request, busy.node_id, busy.node_uri, busy.slot_id, Created("s1"));
  int status = 0;
  Effects effects;
  Result<json> ticket =
      grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &status, &effects);
  ASSERT_TRUE(ticket.ok());
  const std::string id = (*ticket)["id"];
  const std::string token = (*ticket)["token"];
  Result<json> other =
      grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &status, &effects);
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
    grid().TakeTicket(id, wrong, &status, &effects);
    EXPECT_EQ(status, 403);
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
  int status = 0;
  Effects effects;
  Result<json> ticket =
      grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &status, &effects);
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
    Effects effects = grid.SubmitNewSession(std::move(*spec), "", false, http::Responder());
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
    int status = 0;
    Effects effects;
    Result<json> ticket = grid().CreateTicket(
        Spec({{"browserName", "chrome"}, {"gridhub:label", "chrome:x" + std::to_string(i)}}), "",
        &status, &effects);
    statuses.push_back(status);
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
    int status = 0;
    Effects effects;
    admitted +=
        grid()
            .CreateTicket(
                Spec({{"browserName", "chrome"}, {"gridhub:label", "nowhere" + std::to_string(i)}}),
                "", &status, &effects)
            .ok();
  }
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(grid().QueueCounters()[std::string(kUndeclaredLabel)].waiting, 3u);
  for (int i = 0; i < 3; ++i) {
    int status = 0;
    Effects effects;
    Result<json> ticket =
        grid().CreateTicket(Spec({{"browserName", "chrome"}, {"gridhub:label", "declared:by:cap"}}),
                            "", &status, &effects);
    ASSERT_TRUE(ticket.ok());
    EXPECT_EQ((*ticket)["label"], "declared:by:cap");
  }
  // A request by browser name with a slot of that browser is its own label.
  int status = 0;
  Effects effects;
  ASSERT_TRUE(grid().CreateTicket(Spec({{"browserName", "chrome"}}), "", &status, &effects).ok());
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
                                "run" + std::to_string(i), false, http::Responder());
    ASSERT_EQ(effects.replies.size(), 1u);  // unsatisfiable
  }
  EXPECT_EQ(grid().footprint().queue_labels, before.queue_labels);
  EXPECT_EQ(grid().footprint().label_uses, before.label_uses);
  EXPECT_EQ(grid().footprint().metric_labels, before.metric_labels);

  Occupy(grid(), 1);
  std::vector<std::string> tickets;
  for (int i = 0; i < 50; ++i) {
    int status = 0;
    Effects effects;
    Result<json> ticket = grid().CreateTicket(
        Spec({{"browserName", "chrome"}, {"gridhub:label", "chrome:r" + std::to_string(i)}}),
        "run" + std::to_string(i), &status, &effects);
    if (ticket.ok()) tickets.push_back((*ticket)["id"]);
  }
  EXPECT_EQ(tickets.size(), 5u);
  clock_.Advance(settings_.queue.abandon_after);  // nobody polls: abandoned
  grid().Tick();
  grid().EndSession("busy0");
  Grid::Footprint after = grid().footprint();
  EXPECT_EQ(after.tickets, 0u);
  EXPECT_EQ(after.waiters, 0u);
  EXPECT_EQ(after.sessions, 0u);
  EXPECT_EQ(after.queue_labels, before.queue_labels);
  EXPECT_EQ(after.label_uses, 0u);
}

}  // namespace
}  // namespace gridhub::hub
