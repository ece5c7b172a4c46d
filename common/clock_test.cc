#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace gridhub {
namespace {

using namespace std::chrono_literals;

// A thread that sleeps until `deadline` on `clock` (or until poked), as the hub's timer does.
class Sleeper {
 public:
  Sleeper(const Clock& clock, SteadyTime deadline)
      : clock_(clock), deadline_(deadline), thread_([this] { Run(); }) {}
  ~Sleeper() {
    Poke();
    thread_.join();
  }

  void Poke() {
    MutexLock lock(mu_);
    poked_ = true;
    cv_.notify_all();
  }
  // Waits (in real time, bounded) until the sleeper has woken for good.
  bool Woke(std::chrono::milliseconds within) {
    MutexLock lock(mu_);
    const auto until = std::chrono::steady_clock::now() + within;
    while (!woke_ && std::chrono::steady_clock::now() < until) cv_.wait_until(mu_, until);
    return woke_;
  }
  // Whether it went to sleep at all (an early return would make the tests pass by accident).
  bool Waiting() {
    MutexLock lock(mu_);
    return waits_ > 0 && !woke_;
  }

 private:
  void Run() {
    MutexLock lock(mu_);
    while (!poked_ && clock_.Now() < deadline_) {
      ++waits_;
      clock_.WaitUntil(mu_, cv_, deadline_);
    }
    woke_ = true;
    cv_.notify_all();
  }

  const Clock& clock_;
  const SteadyTime deadline_;
  Mutex mu_;
  std::condition_variable_any cv_;
  bool poked_ GUARDED_BY(mu_) = false;
  bool woke_ GUARDED_BY(mu_) = false;
  int waits_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

void WaitUntilWaiting(Sleeper& sleeper) {
  for (int i = 0; i < 2000 && !sleeper.Waiting(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(sleeper.Waiting());
}

TEST(FakeClockTest, AdvancingPastTheDeadlineWakesTheWaiter) {
  FakeClock clock;
  Sleeper sleeper(clock, clock.Now() + 30s);
  WaitUntilWaiting(sleeper);
  clock.Advance(29s);
  EXPECT_FALSE(sleeper.Woke(50ms));  // not yet due: still asleep
  clock.Advance(1s);
  EXPECT_TRUE(sleeper.Woke(5s));
}

TEST(FakeClockTest, ANotificationStillWakesTheWaiter) {
  FakeClock clock;
  Sleeper sleeper(clock, clock.Now() + std::chrono::hours(1));
  WaitUntilWaiting(sleeper);
  sleeper.Poke();
  EXPECT_TRUE(sleeper.Woke(5s));
}

TEST(FakeClockTest, APastDeadlineDoesNotBlock) {
  FakeClock clock;
  Mutex mu;
  std::condition_variable_any cv;
  MutexLock lock(mu);
  clock.WaitUntil(mu, cv, clock.Now());  // returns at once; a hang would time the test out
  clock.WaitUntil(mu, cv, clock.Now() - 1s);
}

TEST(SteadyClockTest, WaitsUntilTheDeadlineInRealTime) {
  SteadyClock clock;
  const SteadyTime start = clock.Now();
  Sleeper sleeper(clock, start + 50ms);
  EXPECT_TRUE(sleeper.Woke(5s));
  EXPECT_GE(clock.Now() - start, 50ms);
}

}  // namespace
}  // namespace gridhub
