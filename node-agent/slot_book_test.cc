#include "node-agent/slot_book.h"

#include <gtest/gtest.h>

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;

std::vector<SlotInfo> TwoSlots() {
  return {SlotInfo{SlotId("n-slot-0"), "chrome", {{"browserName", "chrome"}}, 2},
          SlotInfo{SlotId("n-slot-1"), "firefox", {{"browserName", "firefox"}}, 1}};
}

TEST(SlotBookTest, ReservesUpToMaxSessionsPerSlot) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {}, clock);
  EXPECT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  EXPECT_TRUE(book.Reserve(0).ok());  // reserved but not committed still holds a place
  Status full = book.Reserve(0);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kSessionNotCreated);
  EXPECT_EQ(book.FreePlaces(0), 0);
  book.CancelReservation(0);
  EXPECT_EQ(book.FreePlaces(0), 1);
  EXPECT_TRUE(book.Reserve(1).ok());
  EXPECT_FALSE(book.Reserve(1).ok());
}

TEST(SlotBookTest, RemoveFreesThePlaceOnce) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {}, clock);
  ASSERT_TRUE(book.Reserve(1).ok());
  book.Commit(1, SessionId("a"));
  EXPECT_EQ(book.SlotOf(SessionId("a")), 1u);
  EXPECT_EQ(book.Remove(SessionId("a")), 1u);
  EXPECT_EQ(book.Remove(SessionId("a")), std::nullopt);
  EXPECT_EQ(book.FreePlaces(1), 1);
  EXPECT_TRUE(book.empty());
}

TEST(SlotBookTest, SessionIdlesOutAfterTimeoutWithoutCommands) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.session_timeout = 10s}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  EXPECT_EQ(book.NextIdleDeadline(), clock.Now() + 10s);
  clock.Advance(9s);
  EXPECT_TRUE(book.IdleSessions().empty());
  clock.Advance(1s);
  EXPECT_EQ(book.IdleSessions(), std::vector<SessionId>{SessionId("a")});
}

TEST(SlotBookTest, CommandsResetTheIdleTimerAndBlockItWhileInFlight) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.session_timeout = 10s}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  clock.Advance(8s);
  ASSERT_TRUE(book.BeginCommand(SessionId("a")));
  clock.Advance(60s);  // a long executeAsyncScript
  EXPECT_TRUE(book.IdleSessions().empty());
  EXPECT_EQ(book.NextIdleDeadline(), std::nullopt);
  book.EndCommand(SessionId("a"));
  clock.Advance(9s);
  EXPECT_TRUE(book.IdleSessions().empty());
  clock.Advance(1s);
  EXPECT_EQ(book.IdleSessions().size(), 1u);
  EXPECT_FALSE(book.BeginCommand(SessionId("unknown")));
}

TEST(SlotBookTest, SocketActivityResetsTheIdleTimerWithoutHoldingIt) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.session_timeout = 10s}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  clock.Advance(8s);
  ASSERT_TRUE(book.Touch(SessionId("a")));
  EXPECT_EQ(book.NextIdleDeadline(), clock.Now() + 10s);
  clock.Advance(9s);
  EXPECT_TRUE(book.IdleSessions().empty());
  // Unlike a command, a touch is over at once: silence after it idles the session out.
  clock.Advance(1s);
  EXPECT_EQ(book.IdleSessions(), std::vector<SessionId>{SessionId("a")});
  EXPECT_FALSE(book.Touch(SessionId("unknown")));
}

TEST(SlotBookTest, TouchAsOfAnEarlierTimeNeverMovesTheIdleTimerBack) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.session_timeout = 10s}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  SteadyTime start = clock.Now();
  clock.Advance(4s);
  ASSERT_TRUE(book.Touch(SessionId("a"), start + 3s));
  EXPECT_EQ(book.NextIdleDeadline(), start + 13s);
  ASSERT_TRUE(book.Touch(SessionId("a"), start + 1s));  // older: no change
  EXPECT_EQ(book.NextIdleDeadline(), start + 13s);
}

TEST(SlotBookTest, ZeroTimeoutNeverIdles) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.session_timeout = 0s}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  clock.Advance(1000h);
  EXPECT_TRUE(book.IdleSessions().empty());
  EXPECT_EQ(book.NextIdleDeadline(), std::nullopt);
}

TEST(SlotBookTest, DrainingRefusesNewSessionsButKeepsRunningOnes) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  book.StartDrain(DrainReason::kSignal);
  EXPECT_TRUE(book.draining());
  EXPECT_FALSE(book.Reserve(0).ok());
  EXPECT_FALSE(book.empty());
  EXPECT_TRUE(book.BeginCommand(SessionId("a")));
  book.EndCommand(SessionId("a"));
  book.Remove(SessionId("a"));
  EXPECT_TRUE(book.empty());
  book.StartDrain(DrainReason::kHub);  // the first reason stays
  EXPECT_EQ(book.drain_reason(), DrainReason::kSignal);
}

TEST(SlotBookTest, DrainsAfterConfiguredSessionCountIncludingReservations) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.drain_after_sessions = 2}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  ASSERT_TRUE(book.Reserve(0).ok());
  // Two sessions are being created: a third would exceed the quota even though slot 1 is free.
  EXPECT_FALSE(book.Reserve(1).ok());
  book.CancelReservation(0);  // a failed creation does not count
  ASSERT_TRUE(book.Reserve(1).ok());
  book.Commit(0, SessionId("a"));
  EXPECT_FALSE(book.draining());
  book.Commit(1, SessionId("b"));
  EXPECT_TRUE(book.draining());
  EXPECT_EQ(book.drain_reason(), DrainReason::kAfterSessions);
}

TEST(SlotBookTest, NewOptionsApplyToRunningSessions) {
  FakeClock clock;
  SlotBook book(TwoSlots(), {.session_timeout = 100s}, clock);
  ASSERT_TRUE(book.Reserve(0).ok());
  book.Commit(0, SessionId("a"));
  clock.Advance(20s);
  EXPECT_TRUE(book.IdleSessions().empty());
  book.SetOptions({.session_timeout = 10s});  // a SIGHUP shortened node.session-timeout
  EXPECT_EQ(book.IdleSessions(), std::vector<SessionId>{SessionId("a")});
  book.SetOptions({.session_timeout = 0s});
  EXPECT_TRUE(book.IdleSessions().empty());
  EXPECT_EQ(book.NextIdleDeadline(), std::nullopt);
  EXPECT_FALSE(book.draining());
  book.SetOptions({.session_timeout = 0s, .drain_after_sessions = 1});  // already served one
  EXPECT_TRUE(book.draining());
  EXPECT_EQ(book.drain_reason(), DrainReason::kAfterSessions);
}

}  // namespace
}  // namespace gridhub::node
