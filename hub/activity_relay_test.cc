#include "hub/activity_relay.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

namespace gridhub::hub {
namespace {

using std::chrono::milliseconds;

std::map<std::string, Duration> AsMap(std::vector<std::pair<std::string, Duration>> batch) {
  return {batch.begin(), batch.end()};
}

TEST(ActivityRelayTest, FirstCommandAfterQuietGoesOutAtOnceWithTheLatestTimePerSession) {
  FakeClock clock;
  ActivityRelay relay(milliseconds(1000));
  EXPECT_FALSE(relay.NextDue().has_value());
  const SteadyTime t0 = clock.Now();
  EXPECT_TRUE(relay.Note("a", t0));
  EXPECT_FALSE(relay.Note("a", t0 + milliseconds(30)));
  EXPECT_FALSE(relay.Note("b", t0 + milliseconds(10)));
  EXPECT_FALSE(relay.Note("a", t0 + milliseconds(20)));  // an older stamp never wins
  EXPECT_EQ(relay.NextDue(), t0);
  auto batch = AsMap(relay.TakeIfDue(t0 + milliseconds(50)));
  EXPECT_EQ(batch,
            (std::map<std::string, Duration>{{"a", milliseconds(20)}, {"b", milliseconds(40)}}));
  EXPECT_FALSE(relay.NextDue().has_value());
  EXPECT_TRUE(relay.TakeIfDue(t0 + milliseconds(60)).empty());
}

TEST(ActivityRelayTest, AtMostOneBatchPerInterval) {
  FakeClock clock;
  ActivityRelay relay(milliseconds(1000));
  const SteadyTime t0 = clock.Now();
  relay.Note("a", t0);
  ASSERT_EQ(relay.TakeIfDue(t0).size(), 1u);
  EXPECT_TRUE(relay.Note("a", t0 + milliseconds(100)));
  EXPECT_EQ(relay.NextDue(), t0 + milliseconds(1000));
  EXPECT_TRUE(relay.TakeIfDue(t0 + milliseconds(999)).empty());  // not yet
  auto batch = AsMap(relay.TakeIfDue(t0 + milliseconds(1000)));
  EXPECT_EQ(batch, (std::map<std::string, Duration>{{"a", milliseconds(900)}}));
}

}  // namespace
}  // namespace gridhub::hub
