#pragma once

// Condition-variable waits measured on an injected Clock, so that code which waits (the node
// agent's maintenance loop, WaitDone, a driver's readiness) can be driven by a test clock.
//
//   MutexLock lock(mu_);
//   WaitUntil(wake_, mu_, clock_, next_heartbeat);           // a notify or the deadline
//   bool done = WaitUntil(wake_, mu_, clock_, deadline, [&] { return done_; });
//
// With SteadyClock one wait covers the time left. With any other clock (a test's, which only
// moves when told to) the wait is cut into short slices of real time and the clock is read
// again after each, so time moved by hand is noticed within a slice. Thread-safe as the
// condition variable is; the clock must be safe to read from the waiting thread.

#include <condition_variable>

#include "common/clock.h"
#include "common/mutex.h"

namespace gridhub::node {

// Real time between two readings of a clock that is not SteadyClock.
inline constexpr std::chrono::milliseconds kManualClockSlice{5};

// Waits on `cv` until a notify (or a spurious wake-up) or until `clock` reads `deadline`.
// Callers loop on their own condition.
void WaitUntil(std::condition_variable_any& cv, Mutex& mu, const Clock& clock, SteadyTime deadline)
    REQUIRES(mu);

// Waits until `done()` holds or `clock` reads `deadline`; returns done().
template <typename Predicate>
bool WaitUntil(std::condition_variable_any& cv, Mutex& mu, const Clock& clock, SteadyTime deadline,
               Predicate done) REQUIRES(mu) {
  while (!done()) {
    if (clock.Now() >= deadline) return false;
    WaitUntil(cv, mu, clock, deadline);
  }
  return true;
}

}  // namespace gridhub::node
