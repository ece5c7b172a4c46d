#pragma once

// The start every serving command shares: `gridhub <name> [--config FILE] [flags]` read into
// settings (defaults < YAML < environment < flags), `--help` answered, a bad setting refused.
//
//   CommandStart start = StartCommand(argc, argv, config::Mode::kNode, "node");
//   if (start.exit_code.has_value()) return *start.exit_code;  // help printed, or an error
//   Run(start.settings, start.load);  // `load` re-reads the same sources on SIGHUP
//
// Thread-compatible (it prints and configures the process-wide log).

#include <optional>
#include <string_view>

#include "common/log.h"
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
// A settings error is logged as one error line `config.invalid` naming key, value and reason.
// Before loading, logging follows the environment (LogFromEnvironment); after, the settings
// (ApplyLogSettings); then the open-files limit is raised and logged.
CommandStart StartCommand(int argc, char** argv, config::Mode mode, std::string_view name,
                          std::string_view about = "");

// Logs an error `NAME.start_failed` with the status's message when `status` failed; returns
// whether it did.
//   if (Failed("hub", hub.Start())) return 1;
bool Failed(std::string_view name, const Status& status);

// Logging from the environment alone (GRIDHUB_LOG_FORMAT, GRIDHUB_LOG_LEVEL), so that the lines
// written before the settings are loaded already have the asked-for form. A bad value is
// ignored here: LoadSettings reports it with the usual one line.
void LogFromEnvironment();

// Registers every token and secret of `settings` with log::AddSecrets, so that no line can
// carry them. At start, and on a reload before the new values are put to use.
void RegisterSecrets(const config::Settings& settings);

// Makes settings.log the process's logging, and RegisterSecrets.
void ApplyLogSettings(const config::Settings& settings);

// Logs a reload's line (`config.reloaded`) in the new format and applies `fresh`'s logging. The
// line is written if the old or the new level lets it through: an operator who raises log.level
// to warn still sees the line that says so.
void LogReload(const config::Settings& fresh, const std::string& line,
               const log::Fields& fields = {});

// A start-up banner line ("gridhub hub listening on URL"). In text format it goes to stdout as
// it always has (people and scripts read it there); in json format it is an info line `event` on
// stderr like every other, so that everything the process prints parses as JSON.
void Announce(std::string_view event, const std::string& line, const log::Fields& fields = {});

}  // namespace gridhub::app
