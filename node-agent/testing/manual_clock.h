#pragma once

// Test helper: FakeClock's behaviour (time moves only when told to) for code that reads the
// clock on its own threads, such as the node agent's maintenance loop. Thread-safe.
//
//   ManualClock clock;
//   NodeAgent agent(options, clock, client);
//   clock.Advance(std::chrono::seconds(10));   // the agent's waits notice within a few ms

#include <atomic>
#include <chrono>

#include "common/clock.h"

namespace gridhub::node {

class ManualClock final : public Clock {
 public:
  SteadyTime Now() const override { return SteadyTime{} + Duration(ticks_.load()); }
  void Advance(Duration d) { ticks_ += d.count(); }

 private:
  std::atomic<Duration::rep> ticks_{
      std::chrono::duration_cast<Duration>(std::chrono::hours(1)).count()};
};

}  // namespace gridhub::node
