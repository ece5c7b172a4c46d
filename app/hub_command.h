#pragma once

// `gridhub hub [--config FILE] [--section.key VALUE ...]`: loads the settings, prints the flags
// for --help, and runs a HubService until SIGINT/SIGTERM.
//
//   if (command == "hub") return gridhub::app::HubMain(argc - 1, argv + 1);

#include <functional>

#include "common/result.h"
#include "config/settings.h"

namespace gridhub::app {

// `argv[0]` is "hub"; returns the process exit code (2 for bad flags or settings).
int HubMain(int argc, char** argv);

// Runs a hub until SIGINT or SIGTERM, then stops it cleanly. Prints
// `gridhub hub listening on http://HOST:PORT` to stdout once serving. SIGHUP calls `reload`
// (when given) and applies what can change live — queue, matching and hub settings, tokens and
// the registration secret included — and logs the names (never the values) of the settings
// that changed, and of those that need a restart. Returns the process exit code.
int RunHub(const config::Settings& settings,
           std::function<Result<config::Settings>()> reload = nullptr);

}  // namespace gridhub::app
