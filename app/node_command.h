#pragma once

// `gridhub node [--config FILE] [flags]`: a node agent (node-agent/node_server.h) that registers
// its slots with a hub, until SIGINT/SIGTERM (the first drains, a second stops at once).
//
//   if (command == "node") return gridhub::app::NodeMain(argc - 1, argv + 1);

namespace gridhub::app {

// `argv[0]` is "node". Returns the exit code (2 for bad settings or no slot).
int NodeMain(int argc, char** argv);

}  // namespace gridhub::app
