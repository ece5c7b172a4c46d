#pragma once

// What a SIGHUP on the hub changed, by setting name only (a token's value is never logged).
//
//   ReloadReport report = CompareSettings(before, after);
//   hub.Reconfigure(after);
//   fprintf(stderr, "gridhub hub: %s\n", config::DescribeReload(report).c_str());

#include <string>
#include <vector>

#include "config/reload_report.h"
#include "config/settings.h"

namespace gridhub::hub {

using config::ReloadReport;

// The `section.key` names whose values differ, split by whether HubService::Reconfigure
// applies them live (queue.*, matching.*, and hub.* that the grid and the service read when
// needed). Keys of the node section are ignored: the hub does not use them.
ReloadReport CompareSettings(const config::Settings& before, const config::Settings& after);

}  // namespace gridhub::hub
