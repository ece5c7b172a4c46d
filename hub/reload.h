#pragma once

// What a SIGHUP on the hub changed, by setting name only (a token's value is never logged).
//
//   ReloadReport report = CompareSettings(before, after);
//   hub.Reconfigure(after);
//   fprintf(stderr, "gridhub hub: %s\n", DescribeReload(report).c_str());

#include <string>
#include <vector>

#include "config/settings.h"

namespace gridhub::hub {

struct ReloadReport {
  std::vector<std::string> applied;        // "queue.max-per-label", "hub.client-token", ...
  std::vector<std::string> needs_restart;  // "server.port", ...: kept until the hub restarts
};

// The `section.key` names whose values differ, split by whether HubService::Reconfigure
// applies them live (queue.*, matching.*, and hub.* that the grid and the service read when
// needed). Keys of the node section are ignored: the hub does not use them.
ReloadReport CompareSettings(const config::Settings& before, const config::Settings& after);

// "settings reloaded; changed: a, b; need a restart (kept as they were): c" or
// "settings reloaded; nothing changed".
std::string DescribeReload(const ReloadReport& report);

}  // namespace gridhub::hub
