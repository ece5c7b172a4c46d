#pragma once

// One line per event, with a level, on stderr: readable text by default, one JSON object per
// line with `log.format: json` (GRIDHUB_LOG_FORMAT=json) for Loki or Elasticsearch. Every part
// of gridhub logs through here; nothing else writes to stderr once a command has started.
//
//   log::Configure({.format = log::Format::kJson, .level = log::Level::kInfo});
//   log::Info("session.granted", "chrome session on node-1",
//             {.label = "chrome", .run_id = run, .session_id = id, .node_id = node});
//
// A line never carries a token or secret: callers pass ids and names, never credentials; and
// every message goes through Redact() on its way out, which masks the values the process
// registered with AddSecrets() and anything shaped like a credential (fields, being ids and
// labels, only get the registered values masked). A line is one
// line whatever it quotes: control characters are escaped in both formats, and a JSON line is
// valid JSON even when the text is not UTF-8. Thread-safe; a line is written with one write(2)
// so lines from threads never mix.
//
// Text:  2026-12-01T18:50:00.123Z INFO session.granted label=chrome session=4f2c: chrome ...
// JSON:  {"time":"2026-12-01T18:50:00.123Z","level":"info","event":"session.granted",
//         "label":"chrome","session_id":"4f2c","message":"chrome ..."}

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

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

// Masks what must never reach a log: every value registered with AddSecrets() (at least
// kMinSecretLength bytes long), the credential after "Bearer " or "Basic ", and the value after
// a name containing token, secret, password or authorization followed by `=` or `:`
// ("X-Queue-Token: abc1" -> "X-Queue-Token: <redacted>"; after a blank, a word without a digit
// and shorter than 16 bytes is taken for prose and kept). Write() applies it to every message.
std::string Redact(std::string_view text);

// Values Redact() masks from now on (tokens, the registration secret, a generated secret); the
// process registers them at start and after each reload. Old values stay masked (a client may
// still send the token a reload replaced); the most recent kMaxSecrets are kept. Shorter
// values than kMinSecretLength are not registered: masking "ab" would shred every line.
inline constexpr size_t kMinSecretLength = 4;
inline constexpr size_t kMaxSecrets = 64;
void AddSecrets(const std::vector<std::string>& values);

// Parses "text"/"json" and "debug"/"info"/"warn"/"error" (config/ validates with these).
bool ParseFormat(std::string_view text, Format* out);
bool ParseLevel(std::string_view text, Level* out);
std::string_view LevelName(Level level);        // "INFO": the text form's spelling
std::string_view LevelConfigName(Level level);  // "info": log.level's and the JSON form's
std::string_view FormatName(Format format);     // "text", "json"

// Tests: every finished line (without its newline) goes to `sink` instead of stderr; an empty
// function restores stderr. ForgetSecretsForTesting() empties the AddSecrets() list.
void SetSinkForTesting(std::function<void(std::string_view line)> sink);
void ForgetSecretsForTesting();

}  // namespace gridhub::log
