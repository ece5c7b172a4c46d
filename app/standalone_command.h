#pragma once

// `gridhub standalone [--config FILE] [flags]`: a hub and one node agent in one process. The
// node listens on an ephemeral loopback port and registers with the in-process hub; with no
// node.slots configured it offers the browsers found on PATH (node-agent/local_browsers.h).
//
//   if (command == "standalone") return gridhub::app::StandaloneMain(argc - 1, argv + 1);

namespace gridhub::app {

// argv[0] is "standalone". Runs until SIGINT/SIGTERM, which end every session and driver.
// Returns the exit code (2 for bad settings or when there is nothing to offer).
int StandaloneMain(int argc, char** argv);

}  // namespace gridhub::app
