#include "queue/session_queue.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace gridhub::queue {
namespace {

using std::chrono::seconds;

// Compatibility decided by a function, so each test states its matching rule in one line.
class FnCompat : public SlotCompatibility {
 public:
  explicit FnCompat(std::function<bool(RequestId, const SlotId&)> fn) : fn_(std::move(fn)) {}
  bool CanServe(RequestId request, const SlotId& slot) const override { return fn_(request, slot); }

 private:
  std::function<bool(RequestId, const SlotId&)> fn_;
};

const FnCompat kAnySlot([](RequestId, const SlotId&) { return true; });

RequestId Admit(SessionQueue& queue, const std::string& label, const std::string& run = "") {
  auto result = queue.Enqueue({.label = label, .run_id = run});
  EXPECT_TRUE(std::holds_alternative<Enqueued>(result)) << label;
  return std::holds_alternative<Enqueued>(result) ? std::get<Enqueued>(result).id : 0;
}

std::optional<Refusal> RefusalOf(const std::variant<Enqueued, Refused>& result) {
  if (const auto* refused = std::get_if<Refused>(&result)) return refused->reason;
  return std::nullopt;
}

// Serves one slot at a time, ending each session at once, and returns the order of grants.
std::vector<RequestId> ServeOneByOne(SessionQueue& queue, const SlotCompatibility& compat,
                                     const SlotId& slot = "n/0") {
  std::vector<RequestId> order;
  const std::vector<SlotId> slots = {slot};
  while (true) {
    std::vector<Assignment> grants = queue.Dispatch(slots, compat);
    if (grants.empty()) break;
    EXPECT_EQ(grants.size(), 1u);
    order.push_back(grants[0].request);
    EXPECT_TRUE(queue.OnSessionCreated(grants[0].request));
    queue.OnSessionEnded(grants[0].label);
  }
  return order;
}

TEST(SessionQueueTest, ServesFifoWithinALabel) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId a1 = Admit(queue, "chrome");
  RequestId a2 = Admit(queue, "chrome");
  RequestId a3 = Admit(queue, "chrome");
  EXPECT_EQ(ServeOneByOne(queue, kAnySlot), (std::vector<RequestId>{a1, a2, a3}));
}

TEST(SessionQueueTest, ServesLabelsRoundRobin) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  std::vector<RequestId> a, b;
  for (int i = 0; i < 4; ++i) a.push_back(Admit(queue, "A"));
  for (int i = 0; i < 2; ++i) b.push_back(Admit(queue, "B"));
  EXPECT_EQ(ServeOneByOne(queue, kAnySlot),
            (std::vector<RequestId>{a[0], b[0], a[1], b[1], a[2], a[3]}));
}

TEST(SessionQueueTest, LabelAtItsCapWaitsWhileAnotherLabelIsServed) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"A", 1}}});
  RequestId a1 = Admit(queue, "A");
  RequestId a2 = Admit(queue, "A");
  RequestId b1 = Admit(queue, "B");
  const std::vector<SlotId> slots = {"n/0", "n/1", "n/2"};
  std::vector<Assignment> grants = queue.Dispatch(slots, kAnySlot);
  ASSERT_EQ(grants.size(), 2u);
  EXPECT_EQ(grants[0].request, a1);
  EXPECT_EQ(grants[0].slot, "n/0");
  EXPECT_EQ(grants[1].request, b1);
  EXPECT_EQ(grants[1].slot, "n/1");
  EXPECT_TRUE(queue.AtCap("A"));
  // A slot is still free, but A is at its cap until its session ends.
  EXPECT_TRUE(queue.Dispatch(std::vector<SlotId>{"n/2"}, kAnySlot).empty());
  EXPECT_EQ(queue.Position(a2), 1u);
  ASSERT_TRUE(queue.OnSessionCreated(a1));
  queue.OnSessionEnded("A");
  grants = queue.Dispatch(std::vector<SlotId>{"n/2"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, a2);
}

TEST(SessionQueueTest, ACountedSlotIsGrantedUpToItsCountAndKeepsItsPlace) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  std::vector<RequestId> a;
  for (int i = 0; i < 4; ++i) a.push_back(Admit(queue, "A"));
  RequestId b = Admit(queue, "B");
  const std::vector<SlotId> slots = {"big", "small"};
  const std::vector<int> counts = {2, 5};
  // "big" is preferred while it has units; then "small" takes the rest, labels alternating.
  std::vector<Assignment> grants = queue.Dispatch(slots, counts, kAnySlot);
  ASSERT_EQ(grants.size(), 5u);
  EXPECT_EQ(grants[0].request, a[0]);
  EXPECT_EQ(grants[0].slot, "big");
  EXPECT_EQ(grants[1].request, b);
  EXPECT_EQ(grants[1].slot, "big");
  for (size_t i = 2; i < grants.size(); ++i) {
    EXPECT_EQ(grants[i].request, a[i - 1]);
    EXPECT_EQ(grants[i].slot, "small");
  }
}

TEST(SessionQueueTest, CountedDispatchHonoursCapsAndZeroCounts) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"A", 2}}});
  for (int i = 0; i < 5; ++i) Admit(queue, "A");
  const std::vector<SlotId> slots = {"none", "many"};
  const std::vector<int> counts = {0, 1000};
  std::vector<Assignment> grants = queue.Dispatch(slots, counts, kAnySlot);
  ASSERT_EQ(grants.size(), 2u);  // the cap, not the 1000 units, decides
  EXPECT_EQ(grants[0].slot, "many");
  EXPECT_EQ(grants[1].slot, "many");
  EXPECT_EQ(queue.size(), 3u);
}

TEST(SessionQueueTest, OneCountedSlotUsesTheRememberedPathUpToItsCount) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  for (int i = 0; i < 5; ++i) Admit(queue, "A");
  struct Remembering : FnCompat {
    using FnCompat::FnCompat;
    uint64_t Generation() const override { return 7; }
  } compat([](RequestId, const SlotId&) { return true; });
  const std::vector<SlotId> slots = {"one"};
  const std::vector<int> counts = {3};
  EXPECT_EQ(queue.Dispatch(slots, counts, compat).size(), 3u);
  EXPECT_EQ(queue.size(), 2u);
}

TEST(SessionQueueTest, ConcurrencyDefaultAppliesToLabelsWithoutOwnCap) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_default = 1, .concurrency_caps = {{"B", 0}}});
  Admit(queue, "A");
  Admit(queue, "A");
  Admit(queue, "B");
  Admit(queue, "B");
  const std::vector<SlotId> slots = {"1", "2", "3", "4"};
  std::vector<Assignment> grants = queue.Dispatch(slots, kAnySlot);
  // A is capped at 1 by the default; B's explicit 0 means unlimited.
  ASSERT_EQ(grants.size(), 3u);
  EXPECT_EQ(queue.ConcurrencyCap("A"), 1);
  EXPECT_EQ(queue.ConcurrencyCap("B"), 0);
  EXPECT_EQ(queue.Counters()["A"].active, 1u);
  EXPECT_EQ(queue.Counters()["B"].active, 2u);
}

TEST(SessionQueueTest, RefusesBeyondMaxPerLabel) {
  FakeClock clock;
  SessionQueue queue(clock, {.max_per_label = 2});
  Admit(queue, "A");
  Admit(queue, "A");
  auto result = queue.Enqueue({.label = "A"});
  ASSERT_EQ(RefusalOf(result), Refusal::kQueueFull);
  EXPECT_NE(std::get<Refused>(result).message.find("'A'"), std::string::npos);
  EXPECT_NE(std::get<Refused>(result).message.find('2'), std::string::npos);
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "B"})), std::nullopt);
  EXPECT_EQ(queue.Counters()["A"].refused[Refusal::kQueueFull], 1u);
}

TEST(SessionQueueTest, RefusesBeyondMaxPerRunAcrossLabels) {
  FakeClock clock;
  SessionQueue queue(clock, {.max_per_run = 2});
  Admit(queue, "A", "run-1");
  RequestId b = Admit(queue, "B", "run-1");
  auto result = queue.Enqueue({.label = "C", .run_id = "run-1"});
  ASSERT_EQ(RefusalOf(result), Refusal::kRunLimit);
  EXPECT_NE(std::get<Refused>(result).message.find("run-1"), std::string::npos);
  // Another run, and requests with no run, are not limited by run-1's count.
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "C", .run_id = "run-2"})), std::nullopt);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "C"})), std::nullopt);
  // A granted request no longer counts towards its run.
  const FnCompat only_b([b](RequestId id, const SlotId&) { return id == b; });
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, only_b).size(), 1u);
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "C", .run_id = "run-1"})), std::nullopt);
}

TEST(SessionQueueTest, UnsatisfiableWaitsDuringGraceThenIsRefused) {
  FakeClock clock;
  SessionQueue queue(clock, {.registration_grace = seconds(30)});
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "edge", .satisfiable = false})), std::nullopt);
  clock.Advance(seconds(30));
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "edge", .satisfiable = false})),
            Refusal::kUnsatisfiable);
  queue.Reconfigure({.reject_unsatisfiable = false});
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "edge", .satisfiable = false})), std::nullopt);
}

TEST(SessionQueueTest, NoWaitNeedsAFreeSlotAndRoomUnderTheCap) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"A", 1}}});
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "A", .no_wait = true})), Refusal::kNoWait);
  auto ok = queue.Enqueue({.label = "A", .no_wait = true, .servable_now = true});
  ASSERT_EQ(RefusalOf(ok), std::nullopt);
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  // A is now at its cap: a free slot is not enough.
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "A", .no_wait = true, .servable_now = true})),
            Refusal::kNoWait);
}

TEST(SessionQueueTest, WaitersTimeOutAtTheirDeadline) {
  FakeClock clock;
  SessionQueue queue(clock, {.timeout = seconds(10)});
  auto first = queue.Enqueue({.label = "A"});
  clock.Advance(seconds(4));
  RequestId second = Admit(queue, "A");
  EXPECT_EQ(queue.NextDeadline(), std::get<Enqueued>(first).deadline);
  clock.Advance(seconds(5));
  EXPECT_TRUE(queue.ExpireDue().empty());
  clock.Advance(seconds(1));  // exactly the first deadline
  EXPECT_EQ(queue.ExpireDue(), std::vector<RequestId>{std::get<Enqueued>(first).id});
  EXPECT_EQ(queue.Position(second), 1u);
  EXPECT_EQ(queue.Counters()["A"].timed_out, 1u);
  clock.Advance(seconds(4));
  EXPECT_EQ(queue.ExpireDue(), std::vector<RequestId>{second});
  EXPECT_EQ(queue.NextDeadline(), std::nullopt);
  EXPECT_EQ(queue.Counters().count("A"), 0u);  // nothing refers to it any more
}

TEST(SessionQueueTest, RetryGoesBackToTheHeadWithItsOriginalTimes) {
  FakeClock clock;
  SessionQueue queue(clock, {.timeout = seconds(100), .retry_limit = 1});
  auto first = queue.Enqueue({.label = "A"});
  const RequestId a1 = std::get<Enqueued>(first).id;
  clock.Advance(seconds(5));
  const RequestId a2 = Admit(queue, "A");
  std::vector<Assignment> grants = queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, a1);
  EXPECT_EQ(grants[0].waited, seconds(5));
  EXPECT_EQ(queue.Position(a1), std::nullopt);
  EXPECT_FALSE(queue.Cancel(a1));  // a pending grant is the hub's to resolve

  EXPECT_TRUE(queue.OnCreateFailed(a1));
  EXPECT_EQ(queue.Position(a1), 1u);
  EXPECT_EQ(queue.Position(a2), 2u);
  EXPECT_EQ(queue.Counters()["A"].active, 0u);
  ASSERT_EQ(queue.Snapshot().size(), 2u);
  EXPECT_EQ(queue.Snapshot()[0].deadline, std::get<Enqueued>(first).deadline);

  clock.Advance(seconds(1));
  grants = queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, a1);
  EXPECT_EQ(grants[0].waited, seconds(6));
  // Second failure exceeds retry_limit = 1: the hub fails it.
  EXPECT_FALSE(queue.OnCreateFailed(a1));
  EXPECT_EQ(queue.Position(a1), std::nullopt);
  EXPECT_EQ(queue.Position(a2), 1u);
}

TEST(SessionQueueTest, NoRetryAfterTheDeadline) {
  FakeClock clock;
  SessionQueue queue(clock, {.timeout = seconds(10)});
  const RequestId a = Admit(queue, "A");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  clock.Advance(seconds(10));
  EXPECT_FALSE(queue.OnCreateFailed(a));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(SessionQueueTest, CancelKeepsTheOthersOrder) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId a1 = Admit(queue, "A");
  RequestId a2 = Admit(queue, "A");
  RequestId a3 = Admit(queue, "A");
  RequestId a4 = Admit(queue, "A");
  EXPECT_TRUE(queue.Cancel(a2));
  EXPECT_FALSE(queue.Cancel(a2));
  EXPECT_EQ(queue.Position(a3), 2u);
  EXPECT_TRUE(queue.Cancel(a1));
  EXPECT_EQ(queue.Position(a3), 1u);
  EXPECT_EQ(queue.Counters()["A"].cancelled, 2u);
  EXPECT_EQ(ServeOneByOne(queue, kAnySlot), (std::vector<RequestId>{a3, a4}));
}

TEST(SessionQueueTest, NoHeadOfLineBlockingAcrossLabels) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId c1 = Admit(queue, "chrome");
  RequestId c2 = Admit(queue, "chrome");
  RequestId f1 = Admit(queue, "firefox");
  auto compat = FnCompat([f1](RequestId id, const SlotId& slot) {
    return slot.starts_with(id == f1 ? "ff" : "chrome");
  });
  std::vector<Assignment> grants = queue.Dispatch(std::vector<SlotId>{"ff/0"}, compat);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, f1);
  EXPECT_EQ(queue.Position(c1), 1u);
  EXPECT_EQ(queue.Position(c2), 2u);
}

TEST(SessionQueueTest, FcfsAmongWaitersTheSlotCanServe) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId old_version = Admit(queue, "chrome");  // wants a slot that is busy
  RequestId any_version = Admit(queue, "chrome");
  auto compat = FnCompat(
      [&](RequestId id, const SlotId& slot) { return id == any_version || slot == "chrome/120"; });
  const std::vector<SlotId> slots = {"chrome/121", "chrome/120"};
  std::vector<Assignment> grants = queue.Dispatch(slots, compat);
  ASSERT_EQ(grants.size(), 2u);
  // The first waiter takes the only slot it can use; the second the first remaining.
  EXPECT_EQ(grants[0].request, old_version);
  EXPECT_EQ(grants[0].slot, "chrome/120");
  EXPECT_EQ(grants[1].request, any_version);
  EXPECT_EQ(grants[1].slot, "chrome/121");
}

TEST(SessionQueueTest, RaisingACapDispatchesAtOnceAndLoweringEndsNothing) {
  FakeClock clock;
  QueueOptions options{.concurrency_caps = {{"A", 1}}};
  SessionQueue queue(clock, options);
  for (int i = 0; i < 4; ++i) Admit(queue, "A");
  const std::vector<SlotId> slots = {"1", "2", "3", "4"};
  EXPECT_EQ(queue.Dispatch(slots, kAnySlot).size(), 1u);
  options.concurrency_caps["A"] = 3;
  queue.Reconfigure(options);
  std::vector<Assignment> grants = queue.Dispatch(std::vector<SlotId>{"2", "3", "4"}, kAnySlot);
  EXPECT_EQ(grants.size(), 2u);
  options.concurrency_caps["A"] = 1;
  queue.Reconfigure(options);
  EXPECT_EQ(queue.Counters()["A"].active, 3u);
  EXPECT_EQ(queue.Counters()["A"].waiting, 1u);
  queue.OnSessionEnded("A");
  EXPECT_TRUE(queue.Dispatch(std::vector<SlotId>{"2"}, kAnySlot).empty());  // 2 active > cap 1
  queue.OnSessionEnded("A");
  queue.OnSessionEnded("A");
  EXPECT_EQ(queue.Dispatch(std::vector<SlotId>{"2"}, kAnySlot).size(), 1u);
}

TEST(SessionQueueTest, LoweringMaxPerLabelKeepsExistingWaiters) {
  FakeClock clock;
  QueueOptions options{.max_per_label = 5};
  SessionQueue queue(clock, options);
  for (int i = 0; i < 4; ++i) Admit(queue, "A");
  options.max_per_label = 2;
  queue.Reconfigure(options);
  EXPECT_EQ(queue.size(), 4u);
  EXPECT_EQ(RefusalOf(queue.Enqueue({.label = "A"})), Refusal::kQueueFull);
}

TEST(SessionQueueTest, ChangedTimeoutAppliesToNewWaitersOnly) {
  FakeClock clock;
  QueueOptions options{.timeout = seconds(10)};
  SessionQueue queue(clock, options);
  auto old_waiter = queue.Enqueue({.label = "A"});
  options.timeout = seconds(100);
  queue.Reconfigure(options);
  auto new_waiter = queue.Enqueue({.label = "A"});
  EXPECT_EQ(std::get<Enqueued>(old_waiter).deadline, clock.Now() + seconds(10));
  EXPECT_EQ(std::get<Enqueued>(new_waiter).deadline, clock.Now() + seconds(100));
}

TEST(SessionQueueTest, SnapshotListsWaitersInServiceOrder) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId a1 = Admit(queue, "A", "r");
  RequestId a2 = Admit(queue, "A");
  RequestId b1 = Admit(queue, "B");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot)[0].request, a1);
  // B is next after A was served.
  std::vector<WaiterInfo> snapshot = queue.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].id, b1);
  EXPECT_EQ(snapshot[0].position, 1u);
  EXPECT_EQ(snapshot[1].id, a2);
  EXPECT_EQ(snapshot[1].label, "A");
  EXPECT_EQ(snapshot[1].position, 1u);
}

TEST(SessionQueueTest, ForEachWaiterWalksTheSnapshotsOrder) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  Admit(queue, "A");
  Admit(queue, "A");
  Admit(queue, "B");
  Admit(queue, "C");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  std::vector<WaiterInfo> snapshot = queue.Snapshot();
  size_t k = 0;
  queue.ForEachWaiter([&](RequestId id, std::string_view label, size_t position) {
    ASSERT_LT(k, snapshot.size());
    EXPECT_EQ(id, snapshot[k].id);
    EXPECT_EQ(label, snapshot[k].label);
    EXPECT_EQ(position, snapshot[k].position);
    ++k;
  });
  EXPECT_EQ(k, 3u);
}

TEST(SessionQueueTest, ClearCancelsEveryWaiterButNotGrants) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId a1 = Admit(queue, "A");
  RequestId a2 = Admit(queue, "A");
  RequestId b1 = Admit(queue, "B");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  EXPECT_EQ(queue.Clear(), (std::vector<RequestId>{b1, a2}));
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_TRUE(queue.OnSessionCreated(a1));
}

TEST(SessionQueueTest, GrantCancelledReleasesTheCap) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"A", 1}}});
  RequestId a1 = Admit(queue, "A");
  RequestId a2 = Admit(queue, "A");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  EXPECT_TRUE(queue.OnGrantCancelled(a1));
  EXPECT_FALSE(queue.OnGrantCancelled(a1));
  EXPECT_FALSE(queue.OnCreateFailed(a1));
  std::vector<Assignment> grants = queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, a2);
}

TEST(SessionQueueTest, AdoptedSessionsCountTowardsTheCapUntilTheyEnd) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"A", 1}}});
  queue.OnSessionAdopted("A");
  EXPECT_TRUE(queue.AtCap("A"));
  RequestId a1 = Admit(queue, "A");
  RequestId b1 = Admit(queue, "B");
  // A is at its cap with a session the queue never granted: only B is served.
  std::vector<Assignment> grants = queue.Dispatch(std::vector<SlotId>{"s1", "s2"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, b1);
  std::map<std::string, LabelCounters> counters = queue.Counters();
  EXPECT_EQ(counters["A"].active, 1u);
  EXPECT_EQ(counters["A"].granted, 0u);  // adopted, not granted
  queue.OnSessionEnded("A");
  EXPECT_FALSE(queue.AtCap("A"));
  grants = queue.Dispatch(std::vector<SlotId>{"s2"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, a1);
}

TEST(SessionQueueTest, AdoptionMayExceedTheCapAndEndingReleasesEachOnce) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"A", 1}}});
  queue.OnSessionAdopted("A");
  queue.OnSessionAdopted("A");
  queue.OnSessionAdopted("new-label");  // a label the queue has not seen yet
  EXPECT_EQ(queue.Counters()["A"].active, 2u);
  EXPECT_EQ(queue.Counters()["new-label"].active, 1u);
  Admit(queue, "A");
  queue.OnSessionEnded("A");
  EXPECT_TRUE(queue.AtCap("A"));  // one adopted session left: at the cap
  EXPECT_TRUE(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).empty());
  queue.OnSessionEnded("A");
  queue.OnSessionEnded("new-label");
  EXPECT_EQ(queue.Counters()["A"].active, 0u);
  EXPECT_EQ(queue.Counters()["new-label"].active, 0u);
  EXPECT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
}

TEST(SessionQueueTest, CapLabelsAreCountedFromConstruction) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"AppA:Chromium:UAT", 2}}});
  std::map<std::string, LabelCounters> counters = queue.Counters();
  ASSERT_EQ(counters.count("AppA:Chromium:UAT"), 1u);
  EXPECT_EQ(counters["AppA:Chromium:UAT"].waiting, 0u);
}

TEST(SessionQueueTest, IdsAreNeverReused) {
  FakeClock clock;
  SessionQueue queue(clock, {});
  RequestId a = Admit(queue, "A");
  ASSERT_TRUE(queue.Cancel(a));
  EXPECT_GT(Admit(queue, "A"), a);
}

// docs/queue.md walks through this sequence; keep the two in step.
TEST(SessionQueueTest, WorkedExampleFromTheDocs) {
  FakeClock clock;
  SessionQueue queue(clock, {.concurrency_caps = {{"B", 1}}});
  RequestId a1 = Admit(queue, "A"), a2 = Admit(queue, "A"), a3 = Admit(queue, "A");
  RequestId b1 = Admit(queue, "B"), b2 = Admit(queue, "B");
  RequestId c1 = Admit(queue, "C");
  const FnCompat compat(
      [c1](RequestId id, const SlotId& slot) { return (id == c1) == slot.starts_with("f"); });
  auto pairs = [](const std::vector<Assignment>& grants) {
    std::vector<std::pair<RequestId, SlotId>> out;
    out.reserve(grants.size());
    for (const Assignment& a : grants) out.emplace_back(a.request, a.slot);
    return out;
  };
  using Pairs = std::vector<std::pair<RequestId, SlotId>>;
  EXPECT_EQ(pairs(queue.Dispatch(std::vector<SlotId>{"c1", "c2", "c3"}, compat)),
            (Pairs{{a1, "c1"}, {b1, "c2"}, {a2, "c3"}}));
  EXPECT_EQ(pairs(queue.Dispatch(std::vector<SlotId>{"f1"}, compat)), (Pairs{{c1, "f1"}}));
  EXPECT_TRUE(queue.OnCreateFailed(b1));
  EXPECT_EQ(pairs(queue.Dispatch(std::vector<SlotId>{"c2"}, compat)), (Pairs{{a3, "c2"}}));
  std::vector<WaiterInfo> snapshot = queue.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[0].id, b1);
  EXPECT_EQ(snapshot[1].id, b2);
  EXPECT_EQ(snapshot[1].position, 2u);
  queue.OnSessionEnded("A");
  EXPECT_EQ(pairs(queue.Dispatch(std::vector<SlotId>{"c1"}, compat)), (Pairs{{b1, "c1"}}));
}

// No per-label state outlives what refers to it: refused requests leave nothing, a label is
// forgotten once its last waiter, grant and session are gone, and a capped label stays.
TEST(SessionQueueTest, LabelsAreForgottenOnceNothingRefersToThem) {
  FakeClock clock;
  SessionQueue queue(clock, {.max_per_label = 1,
                             .max_per_run = 1,
                             .concurrency_caps = {{"capped", 0}},
                             .registration_grace = seconds(0)});
  EXPECT_EQ(queue.label_count(), 1u);  // the cap
  for (int i = 0; i < 1000; ++i) {
    auto refused = queue.Enqueue({.label = "l" + std::to_string(i), .satisfiable = false});
    ASSERT_EQ(RefusalOf(refused), Refusal::kUnsatisfiable);
  }
  EXPECT_EQ(queue.label_count(), 1u);
  Admit(queue, "A", "run");
  ASSERT_EQ(RefusalOf(queue.Enqueue({.label = "B", .run_id = "run"})), Refusal::kRunLimit);
  EXPECT_EQ(queue.label_count(), 2u);  // capped, A

  // Waiting -> granted -> created -> ended: A stays while its session runs.
  std::vector<Assignment> grants = queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(queue.label_count(), 2u);
  ASSERT_TRUE(queue.OnSessionCreated(grants[0].request));
  EXPECT_EQ(queue.Counters()["A"].active, 1u);
  queue.OnSessionEnded("A");
  EXPECT_EQ(queue.label_count(), 1u);

  // Cancelled, expired, failed for good: each leaves nothing.
  queue.Cancel(Admit(queue, "C"));
  Admit(queue, "D");
  clock.Advance(seconds(301));
  ASSERT_EQ(queue.ExpireDue().size(), 1u);
  RequestId e = Admit(queue, "E");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  clock.Advance(seconds(301));
  EXPECT_FALSE(queue.OnCreateFailed(e));
  RequestId f = Admit(queue, "F");
  ASSERT_EQ(queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot).size(), 1u);
  EXPECT_TRUE(queue.OnGrantCancelled(f));
  EXPECT_EQ(queue.label_count(), 1u);

  // A label whose cap is removed goes as well; a waiter of a pruned label is served normally.
  queue.Reconfigure({.max_per_label = 1});
  EXPECT_EQ(queue.label_count(), 0u);
  RequestId g = Admit(queue, "A");
  grants = queue.Dispatch(std::vector<SlotId>{"s"}, kAnySlot);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].request, g);
}

}  // namespace
}  // namespace gridhub::queue
