#include "metrics/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>

namespace gridhub::metrics {

namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Boot time in Unix seconds ("btime" in /proc/stat); process start times count from it.
std::optional<double> BootTime() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  std::istringstream lines(*stat);
  std::string key;
  double value = 0;
  while (lines >> key) {
    if (key == "btime" && lines >> value) return value;
    lines.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

double CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the descriptor opendir itself holds
}

prometheus::MetricFamily Single(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {std::move(name), std::move(help), type, {metric}};
}

}  // namespace

std::optional<ProcessStats> ReadProcessStats() {
  std::optional<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat) return std::nullopt;
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(close + 1));
  std::vector<std::string> rest{std::istream_iterator<std::string>(fields),
                                std::istream_iterator<std::string>()};
  // rest[0] is field 3 (state): utime is field 14, stime 15, starttime 22, rss 24.
  constexpr size_t kUtime = 11, kStime = 12, kStartTime = 19, kRss = 21;
  if (rest.size() <= kRss) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats stats;
  try {
    stats.cpu_seconds = (std::stod(rest[kUtime]) + std::stod(rest[kStime])) / ticks;
    stats.resident_memory_bytes = std::stod(rest[kRss]) * page;
    stats.start_time_seconds = BootTime().value_or(0) + std::stod(rest[kStartTime]) / ticks;
  } catch (const std::exception&) {  // std::stod on a field that is not a number
    return std::nullopt;
  }
  stats.open_fds = CountOpenFds();
  return stats;
}

std::vector<prometheus::MetricFamily> ProcessFamilies(const ProcessStats& stats) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  families.push_back(Single("process_cpu_seconds_total",
                            "Total user and system CPU time spent in seconds.", MetricType::Counter,
                            stats.cpu_seconds));
  families.push_back(Single("process_open_fds", "Number of open file descriptors.",
                            MetricType::Gauge, stats.open_fds));
  families.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                            MetricType::Gauge, stats.resident_memory_bytes));
  families.push_back(Single("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            MetricType::Gauge, stats.start_time_seconds));
  return families;
}

}  // namespace gridhub::metrics
