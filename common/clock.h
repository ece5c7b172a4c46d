#pragma once

#include <chrono>

namespace gridhub {

using SteadyTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

// A source of monotonic time for deadlines. Cores (matching/, queue/) take a `const Clock&`
// and never read the wall clock themselves, so tests drive time with FakeClock.
//
//   FakeClock clock;
//   SessionQueue queue(clock, options);
//   clock.Advance(std::chrono::seconds(30));
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
};

// The real monotonic clock. Thread-safe.
class SteadyClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
};

// A clock that only moves when told to. Not thread-safe: tests own it.
class FakeClock final : public Clock {
 public:
  FakeClock() : now_(SteadyTime{} + std::chrono::hours(1)) {}
  SteadyTime Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }

 private:
  SteadyTime now_;
};

}  // namespace gridhub
