#include "app/signals.h"

#include <gtest/gtest.h>

#include <vector>

namespace gridhub::app {
namespace {

using namespace std::chrono_literals;

// raise() sends to the calling thread, where the signal stays pending (it is blocked) until
// Wait() takes it: nothing here runs in a signal handler.

TEST(ProcessSignalsTest, TakesABlockedSignalSynchronously) {
  ProcessSignals signals;
  ASSERT_EQ(raise(SIGHUP), 0);
  EXPECT_EQ(signals.Wait(1s), SIGHUP);
  EXPECT_EQ(signals.Wait(10ms), 0);  // nothing pending
}

TEST(ProcessSignalsTest, WaitWithoutLimitReturnsThePendingSignal) {
  ProcessSignals signals;
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ(signals.Wait(std::nullopt), SIGTERM);
}

TEST(WaitForStopTest, ReloadsOnHangupAndStopsWhenTold) {
  ProcessSignals signals;
  int reloads = 0;
  std::vector<int> stops;
  ASSERT_EQ(raise(SIGHUP), 0);
  ASSERT_EQ(raise(SIGINT), 0);
  ASSERT_EQ(raise(SIGTERM), 0);
  WaitForStop(signals, {.reload = [&] { ++reloads; },
                        .stop =
                            [&](int signal_number) {
                              stops.push_back(signal_number);
                              return stops.size() == 2;  // the first only drains
                            }});
  EXPECT_EQ(reloads, 1);
  ASSERT_EQ(stops.size(), 2u);
  EXPECT_EQ(signals.Wait(10ms), 0);  // all three were taken
}

TEST(WaitForStopTest, DoneEndsTheWaitWithoutASignal) {
  ProcessSignals signals;
  int asked = 0;
  WaitForStop(signals, {.stop = [](int) { return true; }, .done = [&] { return ++asked == 3; }});
  EXPECT_EQ(asked, 3);
}

TEST(WaitForStopTest, HangupWithoutReloadIsIgnored) {
  ProcessSignals signals;
  ASSERT_EQ(raise(SIGHUP), 0);
  ASSERT_EQ(raise(SIGTERM), 0);
  int stopped_by = 0;
  WaitForStop(signals, {.stop = [&](int signal_number) {
                stopped_by = signal_number;
                return true;
              }});
  EXPECT_EQ(stopped_by, SIGTERM);
}

}  // namespace
}  // namespace gridhub::app
