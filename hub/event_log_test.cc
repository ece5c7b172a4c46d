#include "hub/event_log.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::hub {
namespace {

GridEvent Numbered(int n) {
  return {.kind = GridEventKind::kGranted, .session_id = "s" + std::to_string(n)};
}

TEST(EventLogTest, ListsNewestFirst) {
  EventLog log;
  for (int n = 1; n <= 3; ++n) log.Add(Numbered(n));
  std::vector<GridEvent> recent = log.Recent();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].session_id, "s3");
  EXPECT_EQ(recent[2].session_id, "s1");
}

TEST(EventLogTest, KeepsOnlyTheLastTwoHundred) {
  EventLog log;
  for (int n = 1; n <= 450; ++n) log.Add(Numbered(n));
  std::vector<GridEvent> recent = log.Recent();
  ASSERT_EQ(recent.size(), EventLog::kCapacity);
  EXPECT_EQ(recent.front().session_id, "s450");
  EXPECT_EQ(recent.back().session_id, "s251");
  for (size_t k = 1; k < recent.size(); ++k) {
    EXPECT_EQ(recent[k - 1].session_id, "s" + std::to_string(451 - k)) << k;
  }
}

TEST(EventLogTest, WrapsExactlyAtItsCapacity) {
  EventLog log(3);
  for (int n = 1; n <= 3; ++n) log.Add(Numbered(n));
  EXPECT_EQ(log.Recent().front().session_id, "s3");
  log.Add(Numbered(4));
  std::vector<GridEvent> recent = log.Recent();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].session_id, "s4");
  EXPECT_EQ(recent[2].session_id, "s2");
}

}  // namespace
}  // namespace gridhub::hub
