#pragma once

// What a SIGHUP changed, by setting name only (a token's value is never logged), and the one
// line every command (hub, node, standalone) prints about it.
//
//   ReloadReport report = hub::CompareSettings(before, after);
//   fprintf(stderr, "gridhub hub: %s\n", DescribeReload(report).c_str());
//
// A value; thread-compatible.

#include <string>
#include <vector>

namespace gridhub::config {

struct ReloadReport {
  std::vector<std::string> applied;        // "queue.max-per-label", "hub.client-token", ...
  std::vector<std::string> needs_restart;  // "server.port", ...: kept until a restart
};

// "settings reloaded; changed: a, b; need a restart (kept as they were): c" or
// "settings reloaded; nothing changed".
std::string DescribeReload(const ReloadReport& report);

}  // namespace gridhub::config
