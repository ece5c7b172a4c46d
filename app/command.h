#pragma once

// The start every serving command shares: `gridhub <name> [--config FILE] [flags]` read into
// settings (defaults < YAML < environment < flags), `--help` answered, a bad setting refused.
//
//   CommandStart start = StartCommand(argc, argv, config::Mode::kNode, "node");
//   if (start.exit_code.has_value()) return *start.exit_code;  // help printed, or an error
//   Run(start.settings, start.load);  // `load` re-reads the same sources on SIGHUP
//
// Thread-compatible (it prints).

#include <optional>
#include <string_view>

#include "common/result.h"
#include "config/settings.h"

namespace gridhub::app {

struct CommandStart {
  std::optional<int> exit_code;  // set: return it at once (0 after --help, 2 for bad settings)
  config::LoadOptions load;      // the sources, for reloads
  config::Settings settings;     // as loaded
};

// `argv[0]` is the command's `name` ("hub"). --help prints "usage: gridhub NAME [--config FILE]
// [flags]", a blank line, `about` (empty, or paragraphs ending in a blank line) and the flags.
// A settings error prints "gridhub NAME: <message>".
CommandStart StartCommand(int argc, char** argv, config::Mode mode, std::string_view name,
                          std::string_view about = "");

// Prints "gridhub NAME: <message>" to stderr when `status` failed; returns whether it did.
//   if (Failed("hub", hub.Start())) return 1;
bool Failed(std::string_view name, const Status& status);

}  // namespace gridhub::app
