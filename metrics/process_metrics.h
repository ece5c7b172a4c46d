#pragma once

// The standard process_* metrics of Prometheus client libraries, read from /proc/self at
// scrape time (Linux only; elsewhere nothing is reported).
//
//   std::optional<ProcessStats> stats = ReadProcessStats();
//   if (stats) families = ProcessFamilies(*stats);

#include <optional>
#include <vector>

#include "prometheus/metric_family.h"

namespace gridhub::metrics {

struct ProcessStats {
  double resident_memory_bytes = 0;
  double cpu_seconds = 0;  // user + system
  double open_fds = 0;
  double start_time_seconds = 0;  // Unix time
};

// nullopt when /proc/self/stat cannot be read or parsed.
std::optional<ProcessStats> ReadProcessStats();

// process_resident_memory_bytes (gauge), process_cpu_seconds_total (counter),
// process_open_fds (gauge), process_start_time_seconds (gauge).
std::vector<prometheus::MetricFamily> ProcessFamilies(const ProcessStats& stats);

}  // namespace gridhub::metrics
