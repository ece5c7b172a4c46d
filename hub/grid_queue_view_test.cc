// The snapshot's waiters (GridSnapshot::waiting_by_label, kept per change, and the list
// snapshot_with_queue() makes on demand) against GET /queue, which the grid computes from the
// queue itself under its lock: after every step both say the same.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hub/grid.h"
#include "hub/grid_fakes.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string LabelOf(int i) { return "app" + std::to_string(i) + ":chromium"; }

matching::NewSessionSpec Request(int label) {
  auto spec = matching::ProcessNewSession(
      {{"capabilities",
        {{"alwaysMatch", {{"browserName", "chrome"}, {"gridhub:label", LabelOf(label)}}}}}});
  EXPECT_TRUE(spec.ok());
  return std::move(*spec);
}

json Node(int label, int max_sessions = 1) {
  return {{"id", "n" + std::to_string(label)},
          {"uri", "http://127.0.0.1:" + std::to_string(10000 + label)},
          {"slots",
           {{{"id", "s"},
             {"label", LabelOf(label)},
             {"maxSessions", max_sessions},
             {"stereotype", {{"browserName", "chrome"}}}}}}};
}

class GridQueueViewTest : public ::testing::Test {
 protected:
  GridQueueViewTest() : grid_(clock_, ids_, Settings()) {}

  static config::Settings Settings() {
    config::Settings settings;
    settings.queue.registration_grace = 0s;
    settings.queue.max_per_label = 10'000;
    settings.queue.max_per_run = 10'000;
    return settings;
  }

  void Register(int label, int max_sessions = 1) {
    Effects effects;
    ASSERT_TRUE(RegisterNode(grid_, Node(label, max_sessions), &effects).ok());
  }
  // Takes the creations of `effects` into pending_.
  void Keep(const Effects& effects) {
    for (const CreateJob& job : effects.creates) pending_.push_back(job);
  }
  void Submit(int label) {
    Effects effects = grid_.SubmitNewSession(Request(label), "", false, ReplyTarget());
    for (const Reply& r : effects.replies) ADD_FAILURE() << BodyOf(r);
    Keep(effects);
  }
  void Create(const CreateJob& job) {
    const std::string id = "s" + std::to_string(++sessions_);
    Keep(grid_.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created(id)));
    live_.push_back(SessionId(id));
  }
  void Fail(const CreateJob& job) {
    Keep(grid_.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Refused()));
  }
  CreateJob TakePending(size_t i) {
    CreateJob job = pending_.at(i);
    pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    return job;
  }
  std::vector<std::string> WaitingIds() {
    std::vector<std::string> ids;
    const json listed = grid_.QueueJson()["value"];
    for (const json& w : listed) ids.push_back(w["id"]);
    return ids;
  }

  // What the snapshot shows of the waiters equals what GET /queue lists, in the same order.
  void ExpectSnapshotMatchesQueue() {
    const json listed = grid_.QueueJson()["value"];
    std::map<std::string, size_t, std::less<>> by_label;
    for (const json& w : listed) by_label[w["label"].get<std::string>()]++;
    const LabelCounts::Map counts(by_label.begin(), by_label.end());
    EXPECT_EQ(grid_.snapshot()->waiting_by_label.ToMap(), counts);
    EXPECT_EQ(grid_.snapshot()->queue_size, listed.size());

    std::shared_ptr<const GridSnapshot> snapshot = grid_.snapshot_with_queue();
    ASSERT_NE(snapshot->queue, nullptr);
    EXPECT_EQ(snapshot->waiting_by_label.ToMap(), counts);
    const GridSnapshot::QueueView& view = *snapshot->queue;
    ASSERT_EQ(view.waiting.size(), listed.size());
    ASSERT_EQ(view.requests.size(), listed.size());
    for (size_t i = 0; i < listed.size(); ++i) {
      const GridSnapshot::WaiterView& w = *view.waiting[i].waiter;
      EXPECT_EQ(w.id, listed[i]["id"]) << "at " << i;
      EXPECT_EQ(w.label, listed[i]["label"]) << "at " << i;
      EXPECT_EQ(view.waiting[i].position, listed[i]["position"]) << "at " << i;
      EXPECT_EQ(json::parse(*view.requests[i]), listed[i]["capabilities"]) << "at " << i;
    }
  }

  FakeClock clock_;
  CountingIds ids_;
  Grid grid_;
  std::vector<CreateJob> pending_;  // creations the grid asked for, not answered yet
  std::vector<SessionId> live_;
  int sessions_ = 0;
};

TEST_F(GridQueueViewTest, CancelInTheMiddleKeepsTheOthersInOrder) {
  Register(0);
  Submit(0);
  Create(TakePending(0));  // the slot is busy from now on
  for (int i = 0; i < 5; ++i) Submit(0);
  ExpectSnapshotMatchesQueue();
  const std::vector<std::string> before = WaitingIds();
  ASSERT_EQ(before.size(), 5u);
  Effects effects;
  ASSERT_TRUE(grid_.CancelWaiter(before[2], &effects).ok());
  const std::vector<std::string> after = WaitingIds();
  EXPECT_EQ(after, (std::vector<std::string>{before[0], before[1], before[3], before[4]}));
  ExpectSnapshotMatchesQueue();
  EXPECT_EQ(grid_.snapshot_with_queue()->queue->waiting[2].position, 3u);
}

TEST_F(GridQueueViewTest, AFailedCreationWaitsAgainAtTheHead) {
  Register(0);
  Register(1);
  Submit(0);
  Create(TakePending(0));
  for (int i = 0; i < 3; ++i) Submit(0);
  Submit(1);
  Create(TakePending(0));  // label 1's slot is busy too
  Submit(1);
  const std::vector<std::string> before = WaitingIds();
  Keep(grid_.EndSession(live_[0]));  // label 0's first waiter is granted
  ASSERT_EQ(pending_.size(), 1u);
  ExpectSnapshotMatchesQueue();
  EXPECT_EQ(grid_.snapshot()->waiting_by_label.ToMap(),
            (LabelCounts::Map{{LabelOf(0), 2}, {LabelOf(1), 1}}));
  Fail(TakePending(0));  // its only node refused: back to the head of label 0
  ExpectSnapshotMatchesQueue();
  EXPECT_EQ(grid_.snapshot()->waiting_by_label.ToMap(),
            (LabelCounts::Map{{LabelOf(0), 3}, {LabelOf(1), 1}}));
  const GridSnapshot::QueueView& view = *grid_.snapshot_with_queue()->queue;
  bool found = false;
  for (const GridSnapshot::QueuedWaiter& q : view.waiting) {
    if (q.waiter->id != before[0]) continue;
    found = true;
    EXPECT_EQ(q.position, 1u);
  }
  EXPECT_TRUE(found);
}

TEST_F(GridQueueViewTest, AbdicatingShowsNoWaiters) {
  Register(0);
  Submit(0);
  Create(TakePending(0));
  for (int i = 0; i < 3; ++i) Submit(0);
  Keep(grid_.EndSession(live_[0]));  // one waiter creating while the grid abdicates
  ASSERT_EQ(pending_.size(), 1u);
  ASSERT_NE(grid_.snapshot_with_queue()->queue, nullptr);
  grid_.Abdicate({ErrorCode::kUnavailable, "lease lost"});
  ExpectSnapshotMatchesQueue();
  EXPECT_TRUE(grid_.snapshot()->waiting_by_label.ToMap().empty());
  // The creation's answer arriving afterwards changes nothing shown.
  Create(TakePending(0));
  ExpectSnapshotMatchesQueue();
  EXPECT_TRUE(grid_.snapshot()->waiting_by_label.ToMap().empty());
}

TEST_F(GridQueueViewTest, ClearingTheQueueShowsNoWaiters) {
  Register(0);
  Register(1);
  Submit(0);
  Create(TakePending(0));
  Submit(1);
  Create(TakePending(0));
  for (int i = 0; i < 4; ++i) Submit(i % 2);
  Effects effects;
  EXPECT_EQ(grid_.ClearQueue(&effects), 4u);
  ExpectSnapshotMatchesQueue();
  EXPECT_TRUE(grid_.snapshot()->waiting_by_label.ToMap().empty());
}

// Many labels (more than LabelCounts::kMinChanges, so its chain is cut several times) and a
// random mix of arrivals, grants, failed and successful creations, cancellations in the middle
// and timeouts: after every step the snapshot shows what GET /queue lists.
TEST_F(GridQueueViewTest, ManyLabelsRandomStepsAlwaysMatchTheQueue) {
  constexpr int kLabels = 150;
  for (int i = 0; i < kLabels; ++i) Register(i, 1 + i % 2);
  std::mt19937 rng(5);
  auto pick = [&rng](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int step = 0; step < 1200; ++step) {
    const size_t op = pick(10);
    if (op < 5) {
      Submit(static_cast<int>(pick(kLabels)));
    } else if (op == 5 && !pending_.empty()) {
      Fail(TakePending(pick(pending_.size())));
    } else if (op == 6 && !pending_.empty()) {
      Create(TakePending(pick(pending_.size())));
    } else if (op == 7 && !live_.empty()) {
      const size_t i = pick(live_.size());
      Keep(grid_.EndSession(live_[i]));
      live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (op == 8) {
      const std::vector<std::string> ids = WaitingIds();
      Effects effects;
      if (!ids.empty()) {
        ASSERT_TRUE(grid_.CancelWaiter(ids[pick(ids.size())], &effects).ok());
      }
    } else if (op == 9 && step % 500 == 9) {
      clock_.Advance(400s);  // past queue.timeout: every waiter times out
      Keep(grid_.Tick());
    }
    if (step % 11 == 0 || step % 500 == 9) ExpectSnapshotMatchesQueue();
    ASSERT_EQ(grid_.IndexProblem(), "") << "after step " << step;
    if (HasFatalFailure()) return;
  }
  ExpectSnapshotMatchesQueue();
}

// Readers on other threads (the console's and /metrics' ways in) while the grid grants and
// admits: every snapshot a reader gets is consistent in itself — its per-label counts and, when
// listed, its waiters add up to its queue size — whatever the writer does meanwhile. Run under
// TSan to check the listing's locking.
TEST_F(GridQueueViewTest, ReadersOnOtherThreadsSeeConsistentSnapshots) {
  constexpr int kLabels = 20;
  for (int i = 0; i < kLabels; ++i) Register(i);
  for (int i = 0; i < kLabels; ++i) Submit(i);
  for (size_t i = pending_.size(); i > 0; --i) Create(TakePending(i - 1));
  for (int i = 0; i < 200; ++i) Submit(i % kLabels);
  std::atomic<bool> done{false};
  auto reader = [&](bool listed) {
    size_t reads = 0;
    while (!done.load() || reads == 0) {
      std::shared_ptr<const GridSnapshot> s =
          listed ? grid_.snapshot_with_queue() : grid_.snapshot();
      size_t counted = 0;
      for (const auto& [label, waiting] : s->waiting_by_label.ToMap()) counted += waiting;
      EXPECT_EQ(counted, s->queue_size);
      if (listed) {
        EXPECT_EQ(s->queue->waiting.size(), s->queue_size);
        EXPECT_EQ(s->queue->requests.size(), s->queue_size);
      }
      ++reads;
    }
  };
  std::thread lister(reader, true);
  std::thread counter(reader, false);
  for (int step = 0; step < 600; ++step) {
    const size_t i = static_cast<size_t>(step) % live_.size();
    Keep(grid_.EndSession(live_[i]));  // grants the label's next waiter
    live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(i));
    for (size_t k = pending_.size(); k > 0; --k) Create(TakePending(k - 1));
    Submit(step % kLabels);
  }
  done = true;
  lister.join();
  counter.join();
  ExpectSnapshotMatchesQueue();
}

}  // namespace
}  // namespace gridhub::hub
