// Costs of SessionQueue operations as the queue grows: enqueue, cancel and dispatch with 100,
// 10,000 and 100,000 waiters over 10 and 1,000 labels, and the heap bytes each waiter holds.
// Targets (issue 3): dispatch flat in depth (100k <= 2x the cost at 100), median dispatch
// <= 5 us, enqueue <= 2 us, <= 1 KiB per waiter.

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "common/clock.h"
#include "queue/session_queue.h"

// Heap accounting for the memory benchmark: every allocation in this binary is counted by the
// allocator's usable size, which includes its rounding.
namespace {
std::atomic<int64_t> g_heap_bytes{0};
}  // namespace

// g++ 12 inlines these replacements into each other's callers and then takes the free() below
// for a mismatch with `new`; here malloc and free are the pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  g_heap_bytes.fetch_add(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  g_heap_bytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace gridhub::queue {
namespace {

// Label names shaped like real ones, long enough to defeat the small-string optimisation.
std::vector<std::string> MakeLabels(int count) {
  std::vector<std::string> labels;
  labels.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) labels.push_back("App" + std::to_string(i) + ":Chromium:UAT");
  return labels;
}

QueueOptions Unbounded() {
  QueueOptions options;
  options.max_per_label = 1'000'000;
  options.max_per_run = 1'000'000;
  options.timeout = std::chrono::hours(1);
  return options;
}

// A queue pre-filled with `depth` waiters spread evenly over `labels`, remembering each
// request's label so compatibility can be label-aware like the hub's.
struct Fixture {
  Fixture(int64_t depth, int label_count)
      : labels(MakeLabels(label_count)), queue(clock, Unbounded()) {
    for (int64_t i = 0; i < depth; ++i) Add(static_cast<int>(i % label_count));
  }
  RequestId Add(int label) {
    auto result = queue.Enqueue({.label = labels[label], .run_id = "run-" + std::to_string(label)});
    RequestId id = std::get<Enqueued>(result).id;
    if (label_of.size() <= id) label_of.resize(id + 1, -1);
    label_of[id] = label;
    return id;
  }

  FakeClock clock;
  std::vector<std::string> labels;
  std::vector<int> label_of;  // by request id
  SessionQueue queue;
};

// Any waiter can use any slot: dispatch takes the head of the next label.
class AnySlot : public SlotCompatibility {
 public:
  bool CanServe(RequestId, const SlotId&) const override { return true; }
};

// Slots are named after the one label they serve ("<label>/0"), like a hub with one stereotype
// per label; LabelCanUse lets the queue skip every other label without touching its waiters.
class LabelSlot : public SlotCompatibility {
 public:
  LabelSlot(const Fixture& f, uint64_t generation) : f_(f), generation_(generation) {}
  bool CanServe(RequestId id, const SlotId& slot) const override {
    return LabelCanUse(f_.labels[f_.label_of[id]], slot);
  }
  bool LabelCanUse(std::string_view label, const SlotId& slot) const override {
    return slot.size() == label.size() + 2 && slot.starts_with(label);
  }
  // Slots never change stereotype here, so the answers can be remembered.
  uint64_t Generation() const override { return generation_; }

 private:
  const Fixture& f_;
  uint64_t generation_;
};

void DepthArgs(benchmark::internal::Benchmark* b) {
  for (int64_t depth : {100, 10'000, 100'000}) {
    for (int64_t labels : {10, 1000}) b->Args({depth, labels});
  }
}

void BM_Enqueue(benchmark::State& state) {
  Fixture f(state.range(0), static_cast<int>(state.range(1)));
  std::vector<RequestId> added;
  int label = 0;
  for (auto _ : state) {
    added.push_back(f.Add(label));
    label = (label + 1) % static_cast<int>(f.labels.size());
    if (added.size() == 4096) {  // keep the depth where it was
      state.PauseTiming();
      for (RequestId id : added) f.queue.Cancel(id);
      added.clear();
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_Enqueue)->Apply(DepthArgs);

// Cancels waiters spread over the whole set; each batch is refilled while the timer is paused
// so the depth stays put.
void BM_Cancel(benchmark::State& state) {
  Fixture f(state.range(0), static_cast<int>(state.range(1)));
  std::vector<RequestId> live;
  for (WaiterInfo& w : f.queue.Snapshot()) live.push_back(w.id);
  size_t cursor = 0;
  size_t in_batch = 0;
  const size_t batch = std::min<size_t>(live.size() / 2, 4096);
  for (auto _ : state) {
    const size_t i = (cursor * 7919) % live.size();
    benchmark::DoNotOptimize(f.queue.Cancel(live[i]));
    ++cursor;
    if (++in_batch == batch) {
      state.PauseTiming();
      for (size_t k = cursor - batch; k < cursor; ++k) {
        const size_t j = (k * 7919) % live.size();
        live[j] = f.Add(static_cast<int>(j % f.labels.size()));
      }
      in_batch = 0;
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_Cancel)->Apply(DepthArgs);

// One slot frees and is dispatched; the session then ends and a new waiter arrives, so the
// depth stays put. Only the Dispatch() call is timed.
template <typename Compat>
void RunDispatch(benchmark::State& state, Fixture& f, const Compat& compat, bool label_slots) {
  std::vector<SlotId> slot(1);
  int label = 0;
  uint64_t lcg = 42;
  const int label_count = static_cast<int>(f.labels.size());
  for (auto _ : state) {
    // A pseudo-random label each time: on average the round passes half the labels before
    // reaching the one the slot serves.
    lcg = lcg * 6364136223846793005u + 1442695040888963407u;
    label = static_cast<int>((lcg >> 33) % static_cast<uint64_t>(label_count));
    slot[0] = label_slots ? f.labels[label] + "/0" : "node/0";
    auto start = std::chrono::steady_clock::now();
    std::vector<Assignment> grants = f.queue.Dispatch(slot, compat);
    auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    if (grants.size() != 1) {
      state.SkipWithError("expected one grant");
      return;
    }
    f.queue.OnSessionCreated(grants[0].request);
    f.queue.OnSessionEnded(grants[0].label);
    f.Add(f.label_of[grants[0].request]);
  }
}

void BM_DispatchAnySlot(benchmark::State& state) {
  Fixture f(state.range(0), static_cast<int>(state.range(1)));
  RunDispatch(state, f, AnySlot(), /*label_slots=*/false);
}
BENCHMARK(BM_DispatchAnySlot)->Apply(DepthArgs)->UseManualTime();

void BM_DispatchLabelSlot(benchmark::State& state) {
  Fixture f(state.range(0), static_cast<int>(state.range(1)));
  if (state.range(0) < state.range(1)) {
    state.SkipWithError("fewer waiters than labels: some slots would find nobody");
    return;
  }
  LabelSlot compat(f, /*generation=*/0);  // LabelCanUse() is asked of every label passed
  RunDispatch(state, f, compat, /*label_slots=*/true);
}
BENCHMARK(BM_DispatchLabelSlot)->Apply(DepthArgs)->UseManualTime();

// As above, but the hub announces a generation, so the queue remembers which labels can use
// each slot and walks only those.
void BM_DispatchLabelSlotRemembered(benchmark::State& state) {
  Fixture f(state.range(0), static_cast<int>(state.range(1)));
  if (state.range(0) < state.range(1)) {
    state.SkipWithError("fewer waiters than labels: some slots would find nobody");
    return;
  }
  LabelSlot compat(f, /*generation=*/1);
  RunDispatch(state, f, compat, /*label_slots=*/true);
}
BENCHMARK(BM_DispatchLabelSlotRemembered)->Apply(DepthArgs)->UseManualTime();

// Heap bytes held per waiter (request node, deadline index, list links, run id), measured by
// filling a queue and counting what the allocator handed out. Reported as a counter.
void BM_MemoryPerWaiter(benchmark::State& state) {
  const int64_t depth = state.range(0);
  double per_waiter = 0;
  for (auto _ : state) {
    FakeClock clock;
    std::vector<std::string> labels = MakeLabels(static_cast<int>(state.range(1)));
    SessionQueue queue(clock, Unbounded());
    const int64_t before = g_heap_bytes.load();
    for (int64_t i = 0; i < depth; ++i) {
      queue.Enqueue({.label = labels[i % labels.size()], .run_id = "run-" + std::to_string(i)});
    }
    per_waiter = static_cast<double>(g_heap_bytes.load() - before) / static_cast<double>(depth);
  }
  state.counters["bytes_per_waiter"] = per_waiter;
}
BENCHMARK(BM_MemoryPerWaiter)->Apply(DepthArgs)->Iterations(1);

}  // namespace
}  // namespace gridhub::queue

BENCHMARK_MAIN();
