#include "node-agent/clock_wait.h"

#include <gtest/gtest.h>

#include <thread>

#include "node-agent/testing/manual_clock.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;

TEST(ClockWaitTest, WaitsOnTheInjectedClockNotOnRealTime) {
  ManualClock clock;
  Mutex mu;
  std::condition_variable_any cv;
  SteadyTime deadline = clock.Now() + 1h;
  std::thread advancer([&] {
    std::this_thread::sleep_for(50ms);
    clock.Advance(1h);
  });
  SteadyClock real;
  SteadyTime started = real.Now();
  bool done = false;
  {
    MutexLock lock(mu);
    done = WaitUntil(cv, mu, clock, deadline, [] { return false; });
  }
  advancer.join();
  EXPECT_FALSE(done);  // the deadline passed; the condition never held
  EXPECT_GE(clock.Now(), deadline);
  EXPECT_LT(real.Now() - started, 5s);  // an hour of manual time, not of real time
}

TEST(ClockWaitTest, ReturnsOnceTheConditionHolds) {
  ManualClock clock;
  Mutex mu;
  std::condition_variable_any cv;
  bool flag = false;
  std::thread setter([&] {
    std::this_thread::sleep_for(20ms);
    MutexLock lock(mu);
    flag = true;
    cv.notify_all();
  });
  bool done = false;
  {
    MutexLock lock(mu);
    done = WaitUntil(cv, mu, clock, clock.Now() + 1h,
                     [&]() NO_THREAD_SAFETY_ANALYSIS { return flag; });
  }
  setter.join();
  EXPECT_TRUE(done);
}

TEST(ClockWaitTest, TheRealClockWaitsTheTimeLeft) {
  SteadyClock clock;
  Mutex mu;
  std::condition_variable_any cv;
  SteadyTime deadline = clock.Now() + 30ms;
  MutexLock lock(mu);
  EXPECT_FALSE(WaitUntil(cv, mu, clock, deadline, [] { return false; }));
  EXPECT_GE(clock.Now(), deadline);
}

}  // namespace
}  // namespace gridhub::node
