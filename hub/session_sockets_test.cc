#include "hub/session_sockets.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace gridhub::hub {
namespace {

const SessionId kS1("s1");
const SessionId kS2("s2");

TEST(SessionSocketsTest, LimitCountsEverySocketOfTheSession) {
  SessionSockets book;
  std::optional<SessionSockets::Key> a = book.Reserve(kS1, SocketKind::kBidi, 2);
  std::optional<SessionSockets::Key> b = book.Reserve(kS1, SocketKind::kCdp, 2);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_FALSE(book.Reserve(kS1, SocketKind::kBidi, 2).has_value());
  EXPECT_TRUE(book.Reserve(kS2, SocketKind::kBidi, 2).has_value());  // another session
  EXPECT_EQ(book.count(kS1), 2u);
  book.Release(*a);
  EXPECT_EQ(book.count(kS1), 1u);
  EXPECT_TRUE(book.Reserve(kS1, SocketKind::kBidi, 2).has_value());
}

TEST(SessionSocketsTest, OpenCountsOnlyUpgradedSocketsByKind) {
  SessionSockets book;
  SessionSockets::Key a = *book.Reserve(kS1, SocketKind::kBidi, 10);
  SessionSockets::Key b = *book.Reserve(kS1, SocketKind::kCdp, 10);
  EXPECT_EQ(book.open(SocketKind::kBidi), 0u);
  book.MarkOpen(a);
  book.MarkOpen(a);  // once
  book.MarkOpen(b);
  EXPECT_EQ(book.open(SocketKind::kBidi), 1u);
  EXPECT_EQ(book.open(SocketKind::kCdp), 1u);
  book.Release(a);
  book.Release(a);  // no-op
  EXPECT_EQ(book.open(SocketKind::kBidi), 0u);
  EXPECT_EQ(book.open(SocketKind::kCdp), 1u);
}

TEST(SessionSocketsTest, EndSessionReturnsItsAttachedTunnelsAndForgetsIt) {
  SessionSockets book;
  SessionSockets::Key a = *book.Reserve(kS1, SocketKind::kBidi, 10);
  SessionSockets::Key b = *book.Reserve(kS1, SocketKind::kCdp, 10);
  SessionSockets::Key pending = *book.Reserve(kS1, SocketKind::kBidi, 10);
  SessionSockets::Key other = *book.Reserve(kS2, SocketKind::kBidi, 10);
  EXPECT_TRUE(book.Attach(a, 11));
  EXPECT_TRUE(book.Attach(b, 12));
  EXPECT_TRUE(book.Attach(other, 13));
  book.MarkOpen(a);
  std::vector<uint64_t> closed = book.EndSession(kS1);
  EXPECT_EQ(closed, (std::vector<uint64_t>{11, 12}));
  EXPECT_EQ(book.count(kS1), 0u);
  EXPECT_EQ(book.open(SocketKind::kBidi), 0u);
  EXPECT_EQ(book.sessions(), 1u);  // s2 only
  // The socket still being handed over learns that its session is gone.
  EXPECT_FALSE(book.Attach(pending, 14));
  book.Release(a);  // its tunnel's on_closed, later: harmless
  EXPECT_TRUE(book.EndSession(kS1).empty());
  EXPECT_EQ(book.EndSession(kS2), (std::vector<uint64_t>{13}));
  EXPECT_EQ(book.sessions(), 0u);
}

TEST(SessionSocketsTest, ReleaseBeforeAttachMakesAttachFalse) {
  SessionSockets book;
  SessionSockets::Key a = *book.Reserve(kS1, SocketKind::kBidi, 1);
  book.Release(a);  // the tunnel failed and closed before Open() returned its id
  EXPECT_FALSE(book.Attach(a, 5));
  EXPECT_EQ(book.sessions(), 0u);
  book.MarkOpen(a);
  EXPECT_EQ(book.open(SocketKind::kBidi), 0u);
}

TEST(SessionSocketsTest, RefusedReservationLeavesNothing) {
  SessionSockets book;
  EXPECT_FALSE(book.Reserve(kS1, SocketKind::kBidi, 0).has_value());
  EXPECT_EQ(book.sessions(), 0u);
}

TEST(SessionSocketsTest, ConcurrentReservationsNeverExceedTheLimit) {
  SessionSockets book;
  std::vector<std::thread> threads;
  std::atomic<int> granted{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (book.Reserve(kS1, SocketKind::kBidi, 10).has_value()) ++granted;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 10);
  EXPECT_EQ(book.count(kS1), 10u);
}

}  // namespace
}  // namespace gridhub::hub
