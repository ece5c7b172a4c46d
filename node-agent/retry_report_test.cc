#include "node-agent/retry_report.h"

#include <gtest/gtest.h>

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;

TEST(RetryReportTest, FirstFailureEachNewErrorAndThenOneLinePerQuietPeriod) {
  RetryReport report("registration with hub http://h:1", 10s);
  SteadyTime t0{};
  std::optional<std::string> first = report.Failed(t0, "Couldn't connect to server", 250ms);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first,
            "registration with hub http://h:1 failed (Couldn't connect to server); attempt 1, "
            "retrying in 0.25s");
  // The same error again and again within the quiet period: nothing.
  EXPECT_FALSE(report.Failed(t0 + 250ms, "Couldn't connect to server", 500ms));
  EXPECT_FALSE(report.Failed(t0 + 9s, "Couldn't connect to server", 5s));
  // A different error is news.
  std::optional<std::string> changed = report.Failed(t0 + 9500ms, "HTTP 401 bad secret", 5s);
  ASSERT_TRUE(changed);
  EXPECT_NE(changed->find("HTTP 401"), std::string::npos);
  EXPECT_NE(changed->find("attempt 4, retrying in 5s"), std::string::npos) << *changed;
  // Same error: quiet until 10 s after the last line.
  EXPECT_FALSE(report.Failed(t0 + 19s, "HTTP 401 bad secret", 5s));
  std::optional<std::string> reminder = report.Failed(t0 + 19500ms, "HTTP 401 bad secret", 5s);
  ASSERT_TRUE(reminder);
  EXPECT_NE(reminder->find("attempt 6"), std::string::npos) << *reminder;
  EXPECT_EQ(report.failures(), 6);
}

TEST(RetryReportTest, NumbersInAnErrorDoNotMakeItNewButAnotherHttpStatusDoes) {
  RetryReport report("registration with hub http://h:1", 10s);
  SteadyTime t0{};
  ASSERT_TRUE(report.Failed(t0, "Connection timed out after 5001 milliseconds", 5s));
  EXPECT_FALSE(report.Failed(t0 + 5s, "Connection timed out after 5002 milliseconds", 5s));
  ASSERT_TRUE(report.Failed(t0 + 6s, "HTTP 500 {\"at\": 17}", 5s));
  EXPECT_FALSE(report.Failed(t0 + 7s, "HTTP 500 {\"at\": 18}", 5s));
  EXPECT_TRUE(report.Failed(t0 + 8s, "HTTP 503 {\"at\": 19}", 5s));
  // Errors that take turns are not news after their first appearance.
  EXPECT_FALSE(report.Failed(t0 + 9s, "HTTP 500 {\"at\": 20}", 5s));
  EXPECT_FALSE(report.Failed(t0 + 10s, "HTTP 503 {\"at\": 21}", 5s));
}

TEST(RetryReportTest, SuccessAfterFailuresSaysHowManyAttemptsAndResets) {
  RetryReport report("heartbeat to hub http://h:1", 10s);
  EXPECT_FALSE(report.Succeeded());
  SteadyTime t0{};
  ASSERT_TRUE(report.Failed(t0, "timeout", 1s));
  EXPECT_FALSE(report.Failed(t0 + 1s, "timeout", 1s));
  EXPECT_EQ(report.Succeeded(), "heartbeat to hub http://h:1 ok after 3 attempts");
  EXPECT_EQ(report.failures(), 0);
  // After a success the next failure is logged at once, even with the same error.
  EXPECT_TRUE(report.Failed(t0 + 2s, "timeout", 1s));
}

TEST(RetryReportTest, ShortSeconds) {
  EXPECT_EQ(ShortSeconds(250ms), "0.25s");
  EXPECT_EQ(ShortSeconds(5s), "5s");
  EXPECT_EQ(ShortSeconds(1500ms), "1.5s");
}

}  // namespace
}  // namespace gridhub::node
