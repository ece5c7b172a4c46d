#include "http/connection_clock.h"

#include <gtest/gtest.h>

namespace gridhub::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimeLimits kLimits{
    .header_timeout = seconds(30), .min_body_rate = 4096, .idle_timeout = seconds(300)};

TEST(ConnectionClockTest, ANewConnectionMustSendItsFirstHeadInTime) {
  SteadyTime t0{};
  ConnectionClock clock(t0);
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, t0 + seconds(29), kLimits), Expiry::kNone);
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, t0 + seconds(31), kLimits), Expiry::kClose);
  // A first byte late does not restart the clock: the head counts from the accept.
  ConnectionClock late(t0);
  late.Observe(FramePhase::kHead, 0, t0 + seconds(20));
  EXPECT_EQ(late.Check(FramePhase::kHead, 0, false, t0 + seconds(31), kLimits), Expiry::kTimeout);
}

TEST(ConnectionClockTest, ALaterHeadHasTheHeaderTimeoutFromItsFirstByte) {
  SteadyTime t0{};
  ConnectionClock clock(t0);
  clock.OnRequest(t0 + seconds(1));
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, t0 + seconds(200), kLimits), Expiry::kNone);
  clock.Observe(FramePhase::kHead, 0, t0 + seconds(250));
  EXPECT_EQ(clock.Check(FramePhase::kHead, 0, false, t0 + seconds(279), kLimits), Expiry::kNone);
  EXPECT_EQ(clock.Check(FramePhase::kHead, 0, false, t0 + seconds(281), kLimits), Expiry::kTimeout);
}

TEST(ConnectionClockTest, IdleKeptAliveConnectionsCloseSilently) {
  SteadyTime t0{};
  ConnectionClock clock(t0);
  clock.OnRequest(t0);
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, t0 + seconds(299), kLimits), Expiry::kNone);
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, t0 + seconds(301), kLimits), Expiry::kClose);
}

TEST(ConnectionClockTest, AHeldRequestNeverExpiresAndIdleCountsFromItsAnswer) {
  SteadyTime t0{};
  ConnectionClock clock(t0);
  clock.OnRequest(t0);
  // POST /session waits in the queue for an hour after its body arrived.
  for (int minute = 1; minute <= 60; ++minute) {
    EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, true, t0 + seconds(60 * minute), kLimits),
              Expiry::kNone);
  }
  SteadyTime answered = t0 + seconds(3600);
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, answered + seconds(299), kLimits),
            Expiry::kNone);
  EXPECT_EQ(clock.Check(FramePhase::kIdle, 0, false, answered + seconds(301), kLimits),
            Expiry::kClose);
}

TEST(ConnectionClockTest, ABodyMustKeepUpTheMinimumRatePerWindow) {
  SteadyTime t0{};
  ConnectionClock clock(t0);
  clock.Observe(FramePhase::kBody, 0, t0);
  // Within the first window nothing is judged.
  EXPECT_EQ(clock.Check(FramePhase::kBody, 0, false, t0 + seconds(29), kLimits), Expiry::kNone);
  // 30 s at >= 4 KiB/s: fine, and a new window starts.
  EXPECT_EQ(clock.Check(FramePhase::kBody, 31 * 4096, false, t0 + seconds(31), kLimits),
            Expiry::kNone);
  // A burst does not buy a stall: the next window must bring its own share.
  EXPECT_EQ(clock.Check(FramePhase::kBody, 31 * 4096 + 10, false, t0 + seconds(62), kLimits),
            Expiry::kTimeout);
}

TEST(ConnectionClockTest, ZeroRateTurnsTheBodyCheckOff) {
  SteadyTime t0{};
  ConnectionClock clock(t0);
  clock.Observe(FramePhase::kBody, 0, t0);
  TimeLimits off = kLimits;
  off.min_body_rate = 0;
  EXPECT_EQ(clock.Check(FramePhase::kBody, 0, false, t0 + seconds(3600), off), Expiry::kNone);
}

}  // namespace
}  // namespace gridhub::http
