#include "metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

namespace gridhub::metrics {
namespace {

TEST(ProcessMetricsTest, ReadsThisProcessFromProc) {
  std::optional<ProcessStats> stats = ReadProcessStats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_GT(stats->resident_memory_bytes, 1024.0 * 1024);  // a test binary is above 1 MiB
  EXPECT_GE(stats->cpu_seconds, 0.0);
  EXPECT_GE(stats->open_fds, 3.0);  // stdin, stdout, stderr
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Started within the last hour, not in the future (ticks and btime round to a second).
  EXPECT_LE(stats->start_time_seconds, now + 2);
  EXPECT_GT(stats->start_time_seconds, now - 3600);
}

TEST(ProcessMetricsTest, CountsOpenDescriptors) {
  double before = ReadProcessStats()->open_fds;
  int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadProcessStats()->open_fds, before + 1);
  close(fd);
  EXPECT_EQ(ReadProcessStats()->open_fds, before);
}

TEST(ProcessMetricsTest, FamiliesUseTheStandardNames) {
  std::vector<prometheus::MetricFamily> families = ProcessFamilies(
      {.resident_memory_bytes = 10, .cpu_seconds = 1.5, .open_fds = 7, .start_time_seconds = 100});
  ASSERT_EQ(families.size(), 4u);
  EXPECT_EQ(families[0].name, "process_cpu_seconds_total");
  EXPECT_EQ(families[0].type, prometheus::MetricType::Counter);
  EXPECT_EQ(families[0].metric.at(0).counter.value, 1.5);
  EXPECT_EQ(families[1].name, "process_open_fds");
  EXPECT_EQ(families[1].metric.at(0).gauge.value, 7);
  EXPECT_EQ(families[2].name, "process_resident_memory_bytes");
  EXPECT_EQ(families[3].name, "process_start_time_seconds");
}

}  // namespace
}  // namespace gridhub::metrics
