#pragma once

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace gridhub::node {

// Starts `argv` (argv[0] looked up on PATH) with the given file actions, in a process group of
// its own, with SIGPIPE back to its default and no signal blocked. Own group: a child that forks
// (a driver's browser, a browser's helpers) can be signalled whole, and a Ctrl-C on the node's
// terminal does not reach the children before the node can end their sessions. The node ignores
// SIGPIPE and blocks its stop signals; a child must not inherit either.
// Returns the pid, or the negated errno of posix_spawnp. Thread-safe.
//
//   posix_spawn_file_actions_t actions;
//   posix_spawn_file_actions_init(&actions);
//   pid_t pid = SpawnInOwnGroup({"/usr/bin/chromedriver", "--port=9515"}, actions);
//   posix_spawn_file_actions_destroy(&actions);
pid_t SpawnInOwnGroup(const std::vector<std::string>& argv,
                      const posix_spawn_file_actions_t& actions);

}  // namespace gridhub::node
