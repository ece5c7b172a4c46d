// Hub-level dispatch: the cost of Grid::EndSession() when it frees the one slot unit a waiter
// can use, so the grid builds its free-unit list, asks the queue and makes one grant. Every
// slot belongs to one label ("appN:chromium", one node each, all busy); `depth` waiters with
// explicit labels are spread evenly over the labels. The ended session's label is random, so
// the queue's round passes about half the labels before reaching one that can use the unit —
// unless it may remember which labels can use it (SlotCompatibility::Generation()).
// Arguments: depth/labels/warm. warm = 1: before timing, every label's session is ended and
// its slot granted once (untimed), so the queue has remembered for every slot which labels can
// use it (SessionQueue's slot index, built on a slot's first dispatch after a registration at
// O(labels)); with warm = 0 the timed calls include those first dispatches. Run by hand
// (docs/benchmarks.md); never a test. The time is the wall clock of the call (manual time); the
// `cpu_us` counter is the thread's CPU time in it, which a loaded machine inflates less (the CPU
// column covers the untimed part too).

#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "hub/grid.h"
#include "hub/grid_fakes.h"
#include "matching/capabilities.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::string LabelOf(int i) { return "app" + std::to_string(i) + ":chromium"; }

matching::NewSessionSpec Request(int label) {
  auto spec = matching::ProcessNewSession(
      {{"capabilities",
        {{"alwaysMatch", {{"browserName", "chrome"}, {"gridhub:label", LabelOf(label)}}}}}});
  return std::move(*spec);
}

struct Fixture {
  Fixture(int64_t depth, int labels) : grid(clock, ids, Settings()) {
    for (int i = 0; i < labels; ++i) {
      json node = {{"id", "n" + std::to_string(i)},
                   {"uri", "http://127.0.0.1:" + std::to_string(10000 + i)},
                   {"slots",
                    {{{"id", "s"},
                      {"label", LabelOf(i)},
                      {"maxSessions", 1},
                      {"stereotype", {{"browserName", "chrome"}}}}}}};
      Effects effects;
      RegisterNode(grid, node, &effects);
      session_of.push_back(Fill(i));  // the first request of each label takes its slot
    }
    for (int64_t k = 0; k < depth; ++k) {
      grid.SubmitNewSession(Request(static_cast<int>(k % labels)), "", false, ReplyTarget());
    }
  }

  // Ends the session on `label`'s slot, starts the one granted instead and queues a new
  // waiter for the label, as the timed loop does; returns the grant's effects.
  Effects Cycle(int label) {
    Effects effects = grid.EndSession(session_of[static_cast<size_t>(label)]);
    session_of[static_cast<size_t>(label)] = Complete(effects);
    grid.SubmitNewSession(Request(label), "", false, ReplyTarget());
    return effects;
  }

  static config::Settings Settings() {
    config::Settings settings;
    settings.queue.reject_unsatisfiable = false;
    settings.queue.max_per_label = 1'000'000;
    settings.queue.max_per_run = 1'000'000;
    settings.queue.timeout = std::chrono::hours(1);
    return settings;
  }

  // Creates the session of every grant in `effects`; returns the last session id.
  SessionId Complete(const Effects& effects) {
    std::string id;
    for (const CreateJob& job : effects.creates) {
      id = "s" + std::to_string(++sessions);
      grid.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created(id));
    }
    return SessionId(id);
  }

  SessionId Fill(int label) {
    return Complete(grid.SubmitNewSession(Request(label), "", false, ReplyTarget()));
  }

  FakeClock clock;
  CountingIds ids;
  Grid grid;
  std::vector<SessionId> session_of;  // the live session on each label's slot
  uint64_t sessions = 0;
};

void BM_EndSessionDispatch(benchmark::State& state) {
  const int labels = static_cast<int>(state.range(1));
  Fixture f(state.range(0), labels);
  if (state.range(2) != 0) {
    for (int label = 0; label < labels; ++label) f.Cycle(label);
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> pick(0, labels - 1);
  double cpu = 0;
  for (auto _ : state) {
    const int label = pick(rng);
    const double cpu_start = ThreadCpuSeconds();
    auto start = std::chrono::steady_clock::now();
    Effects effects = f.grid.EndSession(f.session_of[static_cast<size_t>(label)]);
    auto end = std::chrono::steady_clock::now();
    cpu += ThreadCpuSeconds() - cpu_start;
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
    if (effects.creates.size() != 1) state.SkipWithError("the freed slot was not granted");
    // Untimed: the grant's session starts, and a new waiter keeps the depth.
    f.session_of[static_cast<size_t>(label)] = f.Complete(effects);
    f.grid.SubmitNewSession(Request(label), "", false, ReplyTarget());
  }
  state.counters["cpu_us"] = benchmark::Counter(cpu * 1e6, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_EndSessionDispatch)
    ->UseManualTime()
    ->Args({100, 10, 0})
    ->Args({1000, 100, 0})
    ->Args({10'000, 10, 0})
    ->Args({10'000, 1000, 0})
    ->Args({100, 10, 1})
    ->Args({1000, 100, 1})
    ->Args({10'000, 10, 1})
    ->Args({10'000, 1000, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gridhub::hub

BENCHMARK_MAIN();
