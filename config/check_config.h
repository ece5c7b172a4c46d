#pragma once

// `gridhub check-config FILE [flags]`: loads FILE the way the hub or node would (with the
// process environment and any flags) and prints the effective settings with where each came
// from. Exit 0 when valid; 2 with one line on stderr naming the key, the value and why.
//
//   if (command == "check-config") return config::CheckConfigMain(argc - 1, argv + 1);

namespace gridhub::config {

// argv[0] is "check-config"; argv[1] the file; the rest are flags as for the hub.
int CheckConfigMain(int argc, char** argv);

}  // namespace gridhub::config
