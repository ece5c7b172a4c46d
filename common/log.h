#pragma once

// One line per event, with a level, on stderr: readable text by default, one JSON object per
// line with `log.format: json` (GRIDHUB_LOG_FORMAT=json) for Loki or Elasticsearch. Every part
// of gridhub logs through here; nothing else writes to stderr once a command has started.
//
//   log::Configure({.format = log::Format::kJson, .level = log::Level::kInfo});
//   log::Info("session.granted", "chrome session on node-1",
//             {.label = "chrome", .run_id = run, .session_id = id, .node_id = node});
//
// A line never carries a token or secret: callers pass ids and names, never credentials, and
// messages that quote client input go through log::Redact first (common/log.cc says what it
// masks). Thread-safe; a line is written with one write(2) so lines from threads never mix.

#include <functional>
#include <string>
#include <string_view>

namespace gridhub::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

struct Options {
  Format format = Format::kText;
  Level level = Level::kInfo;
};

// Which session, node, label and run a line is about; empty fields are left out.
struct Fields {
  std::string_view label;
  std::string_view run_id;
  std::string_view session_id;
  std::string_view node_id;
};

// May be called again at any time (SIGHUP); lines being written keep the options they started
// with.
void Configure(const Options& options);
Options Current();
bool Enabled(Level level);

// `event` is a short dotted name ("session.granted", "node.down", "server.listening") that a
// log query can select on; `message` is the sentence for a human.
void Write(Level level, std::string_view event, std::string_view message,
           const Fields& fields = {});

inline void Debug(std::string_view event, std::string_view message, const Fields& f = {}) {
  Write(Level::kDebug, event, message, f);
}
inline void Info(std::string_view event, std::string_view message, const Fields& f = {}) {
  Write(Level::kInfo, event, message, f);
}
inline void Warn(std::string_view event, std::string_view message, const Fields& f = {}) {
  Write(Level::kWarn, event, message, f);
}
inline void Error(std::string_view event, std::string_view message, const Fields& f = {}) {
  Write(Level::kError, event, message, f);
}

// Parses "text"/"json" and "debug"/"info"/"warn"/"error" (config/ validates with these).
bool ParseFormat(std::string_view text, Format* out);
bool ParseLevel(std::string_view text, Level* out);
std::string_view LevelName(Level level);

// Tests: every finished line (without its newline) goes to `sink` instead of stderr; an empty
// function restores stderr.
void SetSinkForTesting(std::function<void(std::string_view line)> sink);

}  // namespace gridhub::log
