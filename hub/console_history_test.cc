#include "hub/console_history.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

using namespace std::chrono_literals;

ConsoleHistory::Sample Queue(size_t n) { return {{"chrome", {.queue = n, .busy = 1}}}; }

TEST(ConsoleHistoryTest, TakesTheFirstSampleAtOnceThenEveryInterval) {
  FakeClock clock;
  ConsoleHistory history;
  int calls = 0;
  auto sample = [&] { return Queue(static_cast<size_t>(++calls)); };
  EXPECT_FALSE(history.NextDue().has_value());
  EXPECT_TRUE(history.SampleIfDue(clock.Now(), sample));
  EXPECT_EQ(history.NextDue(), clock.Now() + 5s);
  clock.Advance(4999ms);
  EXPECT_FALSE(history.SampleIfDue(clock.Now(), sample));
  clock.Advance(1ms);
  EXPECT_TRUE(history.SampleIfDue(clock.Now(), sample));
  std::vector<ConsoleHistory::Point> points = history.Points();
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1].at - points[0].at, 5s);
  EXPECT_EQ(points[0].labels.at("chrome").queue, 1u);
  EXPECT_EQ(points[1].labels.at("chrome").queue, 2u);
  EXPECT_EQ(calls, 2);
}

TEST(ConsoleHistoryTest, StaysOnItsBeatWhenWokenLate) {
  FakeClock clock;
  ConsoleHistory history;
  const SteadyTime start = clock.Now();
  history.SampleIfDue(clock.Now(), [] { return Queue(0); });
  clock.Advance(5200ms);  // the timer woke a little late
  EXPECT_TRUE(history.SampleIfDue(clock.Now(), [] { return Queue(0); }));
  EXPECT_EQ(history.NextDue(), start + 10s);
}

TEST(ConsoleHistoryTest, AfterALongPauseTakesOneSampleNotInventedOnes) {
  FakeClock clock;
  ConsoleHistory history;
  history.SampleIfDue(clock.Now(), [] { return Queue(0); });
  clock.Advance(60s);
  EXPECT_TRUE(history.SampleIfDue(clock.Now(), [] { return Queue(0); }));
  EXPECT_FALSE(history.SampleIfDue(clock.Now(), [] { return Queue(0); }));
  EXPECT_EQ(history.Points().size(), 2u);
  EXPECT_EQ(history.NextDue(), clock.Now() + 5s);
}

TEST(ConsoleHistoryTest, KeepsFifteenMinutesOldestFirst) {
  FakeClock clock;
  ConsoleHistory history;
  for (size_t n = 0; n < 200; ++n) {
    ASSERT_TRUE(history.SampleIfDue(clock.Now(), [n] { return Queue(n); }));
    clock.Advance(5s);
  }
  std::vector<ConsoleHistory::Point> points = history.Points();
  ASSERT_EQ(points.size(), ConsoleHistory::kCapacity);
  EXPECT_EQ(points.front().labels.at("chrome").queue, 20u);
  EXPECT_EQ(points.back().labels.at("chrome").queue, 199u);
  EXPECT_EQ(points.back().at - points.front().at, 179 * 5s);
}

}  // namespace
}  // namespace gridhub::hub
