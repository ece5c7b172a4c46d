// Model-based test: random sequences of operations are applied both to SessionQueue and to a
// deliberately naive reference written here (vectors and linear scans, the rules of DESIGN §3
// spelled out literally), and every answer is compared step by step. Seeds are fixed, so a
// failure names the seed and step that reproduce it.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "queue/session_queue.h"

namespace gridhub::queue {
namespace {

using std::chrono::seconds;

const std::vector<std::string> kLabels = {"a", "b", "c", "d:x"};
const std::vector<std::string> kRuns = {"", "r1", "r2", "r3"};
const std::vector<SlotId> kSlots = {"n1/0", "n1/1", "n2/0", "n2/1", "n3/0", "n3/1"};
// Which slots a request can use, as a bit mask over kSlots: two "browsers", anything, one
// special slot, and nothing at all (a waiter that must never block anybody).
const std::vector<unsigned> kMasks = {0b000111, 0b111000, 0b111111, 0b000001, 0};

// The slots each label may use (what a hub derives from slot labels and matching toggles);
// `variant` plays a toggle change or a node re-registering with other stereotypes.
unsigned LabelMask(std::string_view label, int variant) {
  if (variant == 1) {
    if (label == "a") return 0b000011;
    if (label == "b") return 0b111100;
    return 0b101010;
  }
  if (label == "a") return 0b111111;
  if (label == "b") return 0b111000;
  if (label == "c") return 0b000111;
  return 0b011110;
}

size_t SlotIndex(const SlotId& slot) {
  return static_cast<size_t>(std::find(kSlots.begin(), kSlots.end(), slot) - kSlots.begin());
}

// The hub's matcher in this test: each request drew a mask when it was admitted, and can use
// a slot only within its label's current mask, so LabelCanUse() keeps its promise. Generation()
// is 0 (never remember) or changes with the variant, as the contract asks.
class MaskCompat : public SlotCompatibility {
 public:
  explicit MaskCompat(const std::map<RequestId, std::pair<std::string, unsigned>>& masks)
      : masks_(masks) {}
  bool CanServe(RequestId request, const SlotId& slot) const override {
    const auto& [label, mask] = masks_.at(request);
    return ((mask & LabelMask(label, variant)) >> SlotIndex(slot)) & 1u;
  }
  bool LabelCanUse(std::string_view label, const SlotId& slot) const override {
    return (LabelMask(label, variant) >> SlotIndex(slot)) & 1u;
  }
  uint64_t Generation() const override { return generation; }

  int variant = 0;
  uint64_t generation = 0;

 private:
  const std::map<RequestId, std::pair<std::string, unsigned>>& masks_;
};

struct RefRequest {
  RequestId id;
  std::string label;
  std::string run;
  SteadyTime enqueued_at;
  SteadyTime deadline;
  int failures = 0;
};

// The naive reference. Every rule is a loop over everything.
class Reference {
 public:
  Reference(const FakeClock& clock, QueueOptions options)
      : clock_(clock), options_(std::move(options)), start_(clock.Now()) {}

  void Reconfigure(const QueueOptions& options) { options_ = options; }

  int Cap(const std::string& label) const {
    auto it = options_.concurrency_caps.find(label);
    int cap = it != options_.concurrency_caps.end() ? it->second : options_.concurrency_default;
    return std::max(cap, 0);
  }
  bool AtCap(const std::string& label) const {
    int cap = Cap(label);
    return cap > 0 && Active(label) >= cap;
  }
  int Active(const std::string& label) const {
    auto it = active_.find(label);
    return it == active_.end() ? 0 : it->second;
  }
  size_t Waiting(const std::string& label) const {
    size_t n = 0;
    for (const RefRequest& r : waiters_) n += r.label == label;
    return n;
  }
  size_t RunWaiting(const std::string& run) const {
    size_t n = 0;
    for (const RefRequest& r : waiters_) n += r.run == run;
    return n;
  }

  // Returns the id, or the refusal.
  std::variant<Enqueued, Refusal> Enqueue(const EnqueueRequest& q) {
    if (!q.satisfiable && options_.reject_unsatisfiable &&
        clock_.Now() - start_ >= options_.registration_grace) {
      return Refusal::kUnsatisfiable;
    }
    if (q.no_wait && (!q.servable_now || AtCap(q.label))) return Refusal::kNoWait;
    if (Waiting(q.label) >= options_.max_per_label) return Refusal::kQueueFull;
    if (!q.run_id.empty() && RunWaiting(q.run_id) >= options_.max_per_run) {
      return Refusal::kRunLimit;
    }
    RefRequest r{next_id_++, q.label, q.run_id, clock_.Now(), clock_.Now() + options_.timeout};
    waiters_.push_back(r);  // global admission order; per-label order is the sub-sequence
    return Enqueued{r.id, r.deadline};
  }

  // Labels with waiters in round-robin order: after the cursor first, then the rest.
  std::vector<std::string> RoundOrder() const {
    std::set<std::string> labels;
    for (const RefRequest& r : waiters_) labels.insert(r.label);
    std::vector<std::string> order;
    for (const std::string& l : labels) {
      if (l > cursor_) order.push_back(l);
    }
    for (const std::string& l : labels) {
      if (l <= cursor_) order.push_back(l);
    }
    return order;
  }

  std::vector<Assignment> Dispatch(const std::vector<SlotId>& slots,
                                   const SlotCompatibility& compat) {
    std::vector<Assignment> out;
    std::vector<bool> taken(slots.size(), false);
    bool granted = true;
    while (granted) {
      granted = false;
      for (const std::string& label : RoundOrder()) {
        if (AtCap(label)) continue;
        for (size_t w = 0; w < waiters_.size() && !granted; ++w) {
          if (waiters_[w].label != label) continue;
          for (size_t s = 0; s < slots.size(); ++s) {
            if (taken[s] || !compat.CanServe(waiters_[w].id, slots[s])) continue;
            taken[s] = true;
            out.push_back(
                {waiters_[w].id, slots[s], label, clock_.Now() - waiters_[w].enqueued_at});
            granted_[waiters_[w].id] = waiters_[w];
            waiters_.erase(waiters_.begin() + static_cast<long>(w));
            ++active_[label];
            cursor_ = label;
            granted = true;
            break;
          }
        }
        if (granted) break;
      }
    }
    return out;
  }

  bool OnSessionCreated(RequestId id) { return granted_.erase(id) == 1; }

  bool OnCreateFailed(RequestId id) {
    auto it = granted_.find(id);
    if (it == granted_.end()) return false;
    RefRequest r = it->second;
    granted_.erase(it);
    if (active_[r.label] > 0) --active_[r.label];
    ++r.failures;
    if (r.failures > options_.retry_limit || clock_.Now() >= r.deadline) return false;
    // The head of its label is ahead of every other waiter of that label: the front of the
    // global list works, as other labels' order is not affected.
    waiters_.insert(waiters_.begin(), r);
    return true;
  }

  void OnGrantCancelled(RequestId id) {
    const std::string label = granted_.at(id).label;
    granted_.erase(id);
    if (active_[label] > 0) --active_[label];
  }

  void OnSessionEnded(const std::string& label) {
    if (active_[label] > 0) --active_[label];
  }

  void OnSessionAdopted(const std::string& label) { ++active_[label]; }

  bool Cancel(RequestId id) {
    for (size_t w = 0; w < waiters_.size(); ++w) {
      if (waiters_[w].id == id) {
        waiters_.erase(waiters_.begin() + static_cast<long>(w));
        return true;
      }
    }
    return false;
  }

  std::vector<RequestId> ExpireDue() {
    std::vector<RefRequest> due;
    for (const RefRequest& r : waiters_) {
      if (r.deadline <= clock_.Now()) due.push_back(r);
    }
    std::sort(due.begin(), due.end(), [](const RefRequest& x, const RefRequest& y) {
      return std::pair(x.deadline, x.id) < std::pair(y.deadline, y.id);
    });
    std::vector<RequestId> ids;
    for (const RefRequest& r : due) {
      Cancel(r.id);
      ids.push_back(r.id);
    }
    return ids;
  }

  std::optional<SteadyTime> NextDeadline() const {
    std::optional<SteadyTime> next;
    for (const RefRequest& r : waiters_) {
      if (!next || r.deadline < *next) next = r.deadline;
    }
    return next;
  }

  // (id, position) of every waiter in service order.
  std::vector<std::pair<RequestId, size_t>> Snapshot() const {
    std::vector<std::pair<RequestId, size_t>> out;
    for (const std::string& label : RoundOrder()) {
      size_t position = 1;
      for (const RefRequest& r : waiters_) {
        if (r.label == label) out.emplace_back(r.id, position++);
      }
    }
    return out;
  }

  const std::map<RequestId, RefRequest>& Granted() const { return granted_; }

 private:
  const FakeClock& clock_;
  QueueOptions options_;
  const SteadyTime start_;
  RequestId next_id_ = 1;
  std::string cursor_;
  std::vector<RefRequest> waiters_;
  std::map<RequestId, RefRequest> granted_;
  std::map<std::string, int> active_;
};

QueueOptions RandomOptions(std::mt19937& rng) {
  auto pick = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  QueueOptions o;
  o.timeout = seconds(pick(1, 20));
  o.max_per_label = static_cast<size_t>(pick(0, 6));
  o.max_per_run = static_cast<size_t>(pick(0, 4));
  o.concurrency_default = pick(-1, 3);
  for (const std::string& label : kLabels) {
    if (pick(0, 2) == 0) o.concurrency_caps[label] = pick(0, 3);
  }
  o.reject_unsatisfiable = pick(0, 1) == 1;
  o.registration_grace = seconds(pick(0, 30));
  o.retry_limit = pick(0, 3);
  return o;
}

// How often each interesting outcome happened over all seeds, so the test fails if the random
// sequences stop reaching a behaviour (a model test that never retries proves nothing).
struct Coverage {
  std::map<Refusal, int> refused;
  int grants = 0;
  int multi_grant_dispatches = 0;
  int retries = 0;
  int final_failures = 0;
  int expired = 0;
  int cancelled = 0;
  int adopted = 0;
};

// Drives one random sequence through both implementations, comparing as it goes.
class ModelRun {
 public:
  ModelRun(unsigned seed, Coverage& coverage)
      : coverage_(coverage),
        rng_(seed),
        options_(RandomOptions(rng_)),
        queue_(clock_, options_),
        ref_(clock_, options_),
        compat_(masks_) {
    compat_.generation = seed % 2;  // half the seeds let the queue remember LabelCanUse()
  }

  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void Step() {
    switch (Pick(0, 11)) {
      case 0:
      case 1:
      case 2:
        return DoEnqueue();
      case 3:
        return DoCancel();
      case 4:
      case 5:
        return DoDispatch();
      case 6:
        return DoCreationOutcome();
      case 7:
        return DoSessionEnded();
      case 8:
        clock_.Advance(std::chrono::milliseconds(Pick(0, 5000)));
        return;
      case 9:
        return DoExpire();
      case 10:
        return DoQueries();
      default:
        if (Pick(0, 3) == 0) return DoReconfigure();
        return DoEnqueue();
    }
  }

  void DoEnqueue() {
    EnqueueRequest q{.label = kLabels[Pick(0, 3)],
                     .run_id = kRuns[Pick(0, 3)],
                     .no_wait = Pick(0, 5) == 0,
                     .satisfiable = Pick(0, 5) != 0,
                     .servable_now = Pick(0, 1) == 1};
    auto got = queue_.Enqueue(q);
    auto want = ref_.Enqueue(q);
    if (const auto* refusal = std::get_if<Refusal>(&want)) {
      ASSERT_TRUE(std::holds_alternative<Refused>(got));
      ASSERT_EQ(std::get<Refused>(got).reason, *refusal);
      ASSERT_FALSE(std::get<Refused>(got).message.empty());
      ++coverage_.refused[*refusal];
      return;
    }
    ASSERT_TRUE(std::holds_alternative<Enqueued>(got));
    const Enqueued& e = std::get<Enqueued>(got);
    ASSERT_EQ(e.id, std::get<Enqueued>(want).id);
    ASSERT_EQ(e.deadline, std::get<Enqueued>(want).deadline);
    ASSERT_TRUE(ever_.insert(e.id).second) << "id reused";
    masks_[e.id] = {q.label, kMasks[Pick(0, static_cast<int>(kMasks.size()) - 1)]};
    // Admission never overfills what it checks.
    ASSERT_LE(queue_.Counters()[q.label].waiting, queue_.options().max_per_label);
  }

  void DoCancel() {
    RequestId id = RandomKnownId();
    const bool cancelled = ref_.Cancel(id);
    ASSERT_EQ(queue_.Cancel(id), cancelled) << "cancel " << id;
    coverage_.cancelled += cancelled;
  }

  void DoDispatch() {
    std::vector<SlotId> free;
    for (const SlotId& slot : kSlots) {
      if (Pick(0, 2) == 0) free.push_back(slot);
    }
    std::shuffle(free.begin(), free.end(), rng_);  // the hub's preference order varies
    std::vector<Assignment> got = queue_.Dispatch(free, compat_);
    std::vector<Assignment> want = ref_.Dispatch(free, compat_);
    ASSERT_EQ(got.size(), want.size());
    coverage_.grants += static_cast<int>(got.size());
    coverage_.multi_grant_dispatches += got.size() > 1;
    std::set<SlotId> slots_used;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].request, want[i].request) << "grant " << i;
      ASSERT_EQ(got[i].slot, want[i].slot);
      ASSERT_EQ(got[i].label, want[i].label);
      ASSERT_EQ(got[i].waited, want[i].waited);
      ASSERT_TRUE(slots_used.insert(got[i].slot).second) << "slot given twice";
      ASSERT_TRUE(pending_.insert(got[i].request).second) << "granted twice";
      ASSERT_EQ(created_.count(got[i].request), 0u) << "granted after creation";
    }
    // Grants only happen under the cap, so a label that got one is within it now.
    std::map<std::string, LabelCounters> counters = queue_.Counters();
    for (const Assignment& a : got) {
      int cap = queue_.ConcurrencyCap(a.label);
      if (cap > 0) {
        ASSERT_LE(counters[a.label].active, static_cast<size_t>(cap));
      }
    }
  }

  void DoCreationOutcome() {
    if (pending_.empty()) return;
    auto it = pending_.begin();
    std::advance(it, Pick(0, static_cast<int>(pending_.size()) - 1));
    RequestId id = *it;
    std::string label = ref_.Granted().at(id).label;
    switch (Pick(0, 2)) {
      case 0: {
        const bool retried = ref_.OnCreateFailed(id);
        ASSERT_EQ(queue_.OnCreateFailed(id), retried);
        ++(retried ? coverage_.retries : coverage_.final_failures);
      } break;
      case 1:
        ASSERT_TRUE(queue_.OnGrantCancelled(id));
        ref_.OnGrantCancelled(id);
        break;
      default:
        ASSERT_TRUE(queue_.OnSessionCreated(id));
        ASSERT_TRUE(ref_.OnSessionCreated(id));
        created_.insert(id);
        live_sessions_.push_back(label);
        break;
    }
    pending_.erase(id);
  }

  void DoSessionEnded() {
    if (Pick(0, 5) == 0) {
      // A live session the queue never granted (found on a re-registering node) starts.
      const std::string& label = kLabels[Pick(0, 3)];
      queue_.OnSessionAdopted(label);
      ref_.OnSessionAdopted(label);
      live_sessions_.push_back(label);
      ++coverage_.adopted;
      return;
    }
    if (live_sessions_.empty() || Pick(0, 9) == 0) {
      // A stray end (the hub lost count) must not drive anything negative.
      const std::string& label = kLabels[Pick(0, 3)];
      queue_.OnSessionEnded(label);
      ref_.OnSessionEnded(label);
      return;
    }
    size_t i = static_cast<size_t>(Pick(0, static_cast<int>(live_sessions_.size()) - 1));
    queue_.OnSessionEnded(live_sessions_[i]);
    ref_.OnSessionEnded(live_sessions_[i]);
    live_sessions_.erase(live_sessions_.begin() + static_cast<long>(i));
  }

  void DoExpire() {
    std::vector<RequestId> expired = ref_.ExpireDue();
    ASSERT_EQ(queue_.ExpireDue(), expired);
    coverage_.expired += static_cast<int>(expired.size());
  }

  void DoReconfigure() {
    QueueOptions o = RandomOptions(rng_);
    queue_.Reconfigure(o);
    ref_.Reconfigure(o);
    // Matching changes too, announced by a new generation when the hub uses generations.
    compat_.variant = Pick(0, 1);
    if (compat_.generation != 0) ++compat_.generation;
  }

  void DoQueries() {
    ASSERT_EQ(queue_.NextDeadline(), ref_.NextDeadline());
    RequestId id = RandomKnownId();
    std::optional<size_t> want;
    for (const auto& [waiter, position] : ref_.Snapshot()) {
      if (waiter == id) want = position;
    }
    ASSERT_EQ(queue_.Position(id), want);
    for (const std::string& label : kLabels) {
      ASSERT_EQ(queue_.AtCap(label), ref_.AtCap(label)) << label;
    }
  }

  // Compared after every step: the whole waiting set, in order, and the gauges.
  void CheckState() {
    std::vector<std::pair<RequestId, size_t>> got;
    for (const WaiterInfo& w : queue_.Snapshot()) got.emplace_back(w.id, w.position);
    ASSERT_EQ(got, ref_.Snapshot());
    ASSERT_EQ(queue_.size(), got.size());
    std::map<std::string, LabelCounters> counters = queue_.Counters();
    for (const std::string& label : kLabels) {
      ASSERT_EQ(counters[label].waiting, ref_.Waiting(label)) << label;
      ASSERT_EQ(counters[label].active, static_cast<size_t>(ref_.Active(label))) << label;
    }
    // Nothing lost: every admitted id is waiting, pending, or resolved exactly once.
    for (const auto& [waiter, position] : got) {
      ASSERT_EQ(pending_.count(waiter), 0u);
      ASSERT_EQ(created_.count(waiter), 0u);
    }
  }

  void Run(int steps) {
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      Step();
      if (::testing::Test::HasFatalFailure()) return;
      CheckState();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

 private:
  RequestId RandomKnownId() {
    // Mostly ids that exist, sometimes one never issued.
    if (ever_.empty() || Pick(0, 9) == 0) return static_cast<RequestId>(Pick(0, 10000));
    auto it = ever_.begin();
    std::advance(it, Pick(0, static_cast<int>(ever_.size()) - 1));
    return *it;
  }

  Coverage& coverage_;
  std::mt19937 rng_;
  FakeClock clock_;
  QueueOptions options_;
  SessionQueue queue_;
  Reference ref_;
  std::map<RequestId, std::pair<std::string, unsigned>> masks_;
  MaskCompat compat_;
  std::set<RequestId> ever_;
  std::set<RequestId> pending_;  // granted, creation outcome not yet reported
  std::set<RequestId> created_;
  std::vector<std::string> live_sessions_;
};

TEST(SessionQueueModelTest, MatchesNaiveReferenceOnRandomSequences) {
  Coverage coverage;
  for (unsigned seed = 1; seed <= 3000; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ModelRun run(seed, coverage);
    run.Run(200);
    if (HasFatalFailure()) return;
  }
  for (Refusal r :
       {Refusal::kQueueFull, Refusal::kRunLimit, Refusal::kUnsatisfiable, Refusal::kNoWait}) {
    EXPECT_GT(coverage.refused[r], 100) << RefusalName(r);
  }
  EXPECT_GT(coverage.grants, 10000);
  EXPECT_GT(coverage.multi_grant_dispatches, 1000);
  EXPECT_GT(coverage.retries, 500);
  EXPECT_GT(coverage.final_failures, 500);
  EXPECT_GT(coverage.expired, 1000);
  EXPECT_GT(coverage.cancelled, 500);
  EXPECT_GT(coverage.adopted, 500);
}

}  // namespace
}  // namespace gridhub::queue
