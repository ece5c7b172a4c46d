#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <vector>

#include "common/mutex.h"

namespace gridhub {

using SteadyTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

// A source of monotonic time for deadlines. Cores (matching/, queue/) take a `const Clock&`
// and never read the wall clock themselves, so tests drive time with FakeClock. A thread that
// sleeps until a deadline sleeps on the clock too (WaitUntil), so FakeClock::Advance() wakes it.
//
//   FakeClock clock;
//   SessionQueue queue(clock, options);
//   clock.Advance(std::chrono::seconds(30));
//
//   MutexLock lock(mu_);   // a thread waiting for a deadline or a change
//   while (!changed_ && clock.Now() < deadline) clock.WaitUntil(mu_, cv_, deadline);
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  // Blocks on `cv` until it is notified or this clock reaches `deadline`, releasing `mu` while
  // blocked, as std::condition_variable_any::wait_until. May return early (a spurious or
  // unrelated wake-up): callers loop on their condition. The default suits any clock that
  // runs at real speed; it waits in real time for what is left.
  virtual void WaitUntil(Mutex& mu, std::condition_variable_any& cv, SteadyTime deadline) const
      REQUIRES(mu) {
    cv.wait_until(mu, std::chrono::steady_clock::now() + (deadline - Now()));
  }
};

// The real monotonic clock. Thread-safe.
class SteadyClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  void WaitUntil(Mutex& mu, std::condition_variable_any& cv, SteadyTime deadline) const override
      REQUIRES(mu) {
    cv.wait_until(mu, deadline);
  }
};

// A clock that only moves when told to. Thread-safe: the test's thread advances it while the
// code under test reads it or waits on it from its own threads. A waiter's `mu` and `cv` must
// outlive any Advance() that may still notify them (tests stop the code under test before
// they destroy it, and do not advance while it is being destroyed).
class FakeClock final : public Clock {
 public:
  FakeClock() : now_(SteadyTime{} + std::chrono::hours(1)) {}
  SteadyTime Now() const override { return now_.load(); }

  // Moves time forward by `d` and wakes every WaitUntil() whose deadline has come.
  void Advance(Duration d) EXCLUDES(waiters_mu_) {
    std::vector<Waiter> due;
    {
      MutexLock lock(waiters_mu_);
      now_.store(now_.load() + d);
      for (const Waiter& waiter : waiters_) {
        if (waiter.deadline <= now_.load()) due.push_back(waiter);
      }
    }
    // Under the waiter's own mutex: it holds that from its check of the time until it blocks,
    // so the notification cannot fall between the two and be lost.
    for (const Waiter& waiter : due) {
      MutexLock lock(*waiter.mu);
      waiter.cv->notify_all();
    }
  }

  void WaitUntil(Mutex& mu, std::condition_variable_any& cv, SteadyTime deadline) const override
      REQUIRES(mu) EXCLUDES(waiters_mu_) {
    const Waiter me{&mu, &cv, deadline};
    {
      MutexLock lock(waiters_mu_);
      if (now_.load() >= deadline) return;
      waiters_.push_back(me);
    }
    cv.wait(mu);
    MutexLock lock(waiters_mu_);
    auto it = std::find_if(waiters_.begin(), waiters_.end(),
                           [&](const Waiter& w) { return w.mu == me.mu && w.cv == me.cv; });
    if (it != waiters_.end()) waiters_.erase(it);
  }

 private:
  struct Waiter {
    Mutex* mu;
    std::condition_variable_any* cv;
    SteadyTime deadline;
  };

  std::atomic<SteadyTime> now_;
  mutable Mutex waiters_mu_;
  mutable std::vector<Waiter> waiters_ GUARDED_BY(waiters_mu_);
};

}  // namespace gridhub
