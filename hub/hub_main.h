#pragma once

// `gridhub hub [--config FILE] [--section.key VALUE ...]`: loads the settings (defaults < YAML
// < environment < flags), prints the flags for --help, and runs the hub until SIGINT/SIGTERM.
//
//   if (command == "hub") return gridhub::hub::HubMain(argc - 1, argv + 1);

namespace gridhub::hub {

// `argv[0]` is "hub"; returns the process exit code (2 for bad flags or settings).
int HubMain(int argc, char** argv);

}  // namespace gridhub::hub
