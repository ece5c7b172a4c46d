#include "config/reload_report.h"

namespace gridhub::config {

namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::string DescribeReload(const ReloadReport& report) {
  if (report.applied.empty() && report.needs_restart.empty()) {
    return "settings reloaded; nothing changed";
  }
  std::string out = "settings reloaded";
  if (!report.applied.empty()) out += "; changed: " + Join(report.applied);
  if (!report.needs_restart.empty()) {
    out += "; need a restart (kept as they were): " + Join(report.needs_restart);
  }
  return out;
}

}  // namespace gridhub::config
