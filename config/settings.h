#pragma once

// gridhub's effective configuration: built-in defaults < YAML file < environment < flags.
//
//   config::LoadOptions options{.mode = config::Mode::kHub, .file = "hub.yaml", .flags = rest};
//   Result<config::Settings> settings = config::LoadSettings(options);
//   if (!settings.ok()) { fprintf(stderr, "%s\n", settings.error().message.c_str()); return 2; }
//   StartHub(settings->server, settings->queue);
//
// Every key is named `section.key` as in YAML (DESIGN.md §1); its environment variable is
// GRIDHUB_<SECTION>_<KEY> (upper case, '-' to '_') and its flag `--section.key VALUE`.
// Everything here is a plain value: loading touches no global state except reading the process
// environment when LoadOptions::environ is null.

#include <chrono>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/result.h"

namespace gridhub::config {

using namespace std::chrono_literals;

enum class SlotSelection { kSpread, kPack };

// Where a key's effective value came from; check-config prints it next to each key.
enum class Source { kDefault, kFile, kEnv, kFlag };

// Which subcommand is loading; decides the default server.port (node 5555, others 4444).
enum class Mode { kHub, kNode, kStandalone, kCheck };

struct ServerSettings {
  std::string host = "0.0.0.0";
  int port = 4444;  // 5555 in node mode; 0 = ephemeral (tests use it)
  int threads = 0;  // 0 = hardware_concurrency, at least 2; see EffectiveThreads()
  size_t max_body = size_t{64} << 20;
  int max_connections = 4096;     // more open client connections are answered 503
  Duration header_timeout = 30s;  // to send a whole request head (a new connection: its first)
  size_t min_body_rate = 4096;    // bytes per second a body must keep up; 0 = no minimum
  Duration idle_timeout = 300s;   // a kept-alive connection with no request is closed then
};

struct HubSettings {
  Duration node_timeout = 30s;
  Duration health_check_period = 10s;
  SlotSelection slot_selection = SlotSelection::kSpread;
  std::string admin_token;          // "" = admin endpoints are open
  std::string client_token;         // "" = W3C and queue calls are open
  std::string registration_secret;  // "" = any node may register
  // The URL clients reach the hub at (http(s)://host[:port][/path]), from which the WebSocket
  // URLs of new-session answers are built (docs/websockets.md); "" = from the request.
  std::string public_url;
  // Believe a POST /session's Forwarded / X-Forwarded-* headers (behind a reverse proxy).
  bool trust_forwarded = false;
  // Open BiDi/CDP sockets per session; one more is refused with 429.
  int websockets_per_session = 10;
  // Where the grid's state lives (DESIGN.md §8): "memory" (one hub; no Redis code runs) or a
  // redis://[[user]:password@]host[:port][/db] URL that redis::RedisUrl::Parse accepted at
  // load time, as written (trimmed). It holds the password: log RedisUrl::Redacted(), never it.
  std::string state = "memory";
  // With a redis state: a hub whose presence is not refreshed for this long counts as dead.
  Duration peer_timeout = 10s;
};

struct QueueSettings {
  Duration timeout = 300s;
  size_t max_per_label = 100;
  size_t max_per_run = 5;
  int concurrency_default = 0;  // 0 = unlimited
  // Keys are normalised labels (trimmed, lower-cased, empty segments dropped, at most 8
  // segments of [A-Za-z0-9._-], joined by ':'). A value of 0 means unlimited for that label.
  std::map<std::string, int> concurrency_caps;
  bool reject_unsatisfiable = true;
  Duration registration_grace = 30s;
  int retry_limit = 3;
  Duration abandon_after = 60s;
  Duration ready_ttl = 30s;
};

struct MatchingSettings {
  bool prefix_expand = true;
  bool wildcards = false;
  bool trailing_fallback = true;
};

// One slot of a node. Exactly one of `driver` and `relay` is set.
struct SlotConfig {
  // Normalised label; when the YAML gives none it is the stereotype's `gridhub:label` or
  // its lower-cased browserName.
  std::string label;
  int max_sessions = 1;
  nlohmann::json stereotype = nlohmann::json::object();
  std::vector<std::string> driver;  // argv; YAML may give a string (split on spaces) or a list
  std::string relay;                // URL of an existing WebDriver server
  // Managed downloads (DESIGN 4b): each session gets a download folder of its own, and the
  // stereotype carries `se:downloadsEnabled: true` (set by the loader, so the hub matches on it).
  bool downloads = false;
};

struct NodeSettings {
  std::string hub = "http://127.0.0.1:4444";
  std::string id;   // "" = generated
  std::string uri;  // "" = derived from server.host/port
  Duration session_timeout = 300s;
  int drain_after_sessions = 0;  // 0 = never
  Duration drain_timeout = 60s;
  size_t max_upload = size_t{256} << 20;  // largest uploaded file, unpacked (POST /se/file)
  std::vector<SlotConfig> slots;
};

// How the process logs (docs/logging.md); applied at start and again on every SIGHUP.
struct LogSettings {
  log::Format format = log::Format::kText;
  log::Level level = log::Level::kInfo;
};

struct Settings {
  ServerSettings server;
  HubSettings hub;
  QueueSettings queue;
  MatchingSettings matching;
  NodeSettings node;
  LogSettings log;
  // "queue.timeout" -> where its value came from; holds every key.
  std::map<std::string, Source> sources;
};

struct LoadOptions {
  Mode mode = Mode::kHub;
  std::optional<std::string> file;       // YAML path; nullopt = defaults, env and flags only
  std::vector<std::string> flags;        // remaining argv after --config FILE was taken out
  const char* const* environ = nullptr;  // "K=V" entries, null-terminated; nullptr = process's
};

// Loads, merges and validates everything. Errors are kInvalidArgument with one line naming the
// key, the value and why: `queue.timeout = "-5s": negative duration (env GRIDHUB_QUEUE_TIMEOUT)`.
Result<Settings> LoadSettings(const LoadOptions& options);

// `300` (seconds), `300s`, `500ms`, `5m`, `1h`. Zero is accepted; negative never is.
Result<Duration> ParseDuration(std::string_view text);

// Trims, lower-cases and drops empty segments of a colon-separated label; at most 8 segments
// of [A-Za-z0-9._-]. " AppA::Chromium " -> "appa:chromium".
Result<std::string> NormalizeLabel(std::string_view text);

// For PUT /admin/config: a partial JSON object with YAML section/key names (sections `queue`,
// `matching`, and `hub.slot-selection` only). Validates the whole object first (the error
// names the key; nothing is applied), then returns `current` with the patch applied.
Result<Settings> ApplyAdminPatch(const Settings& current, const nlohmann::json& patch);

// The patch for ApplyAdminPatch that sets every key PUT /admin/config may change to its value
// in `settings`. One hub of several publishes it after a SIGHUP, so that the others run the
// same runtime settings (what a single hub's SIGHUP does to itself).
nlohmann::json AdminPatchOf(const Settings& settings);

// YAML-shaped JSON of the settings; durations as "300s". With kRedact, non-empty tokens and
// the registration secret read "<redacted>", and so does the password in hub.state's URL.
enum class Tokens { kShow, kRedact };
nlohmann::json ToJson(const Settings& settings, Tokens tokens);
// Overload kept for callers of the original API; true means redact.
nlohmann::json ToJson(const Settings& settings, bool redact_tokens);

// check-config's printout: one `section.key = value  (source)` line per key.
std::string Describe(const Settings& settings);

// Every flag with its default and environment variable, for `gridhub <mode> --help`.
std::string FlagsHelp(Mode mode);

// "300s", "500ms": the inverse of ParseDuration, for printouts and ToJson.
std::string FormatDuration(Duration d);

std::string_view SourceName(Source source);                   // "default", "file", "env", "flag"
std::string_view SlotSelectionName(SlotSelection selection);  // "spread", "pack"

// server.threads resolved: 0 becomes hardware_concurrency, and never fewer than 2.
int EffectiveThreads(const ServerSettings& server);

// Splits a subcommand's argv (after the subcommand name) into `--config FILE` / `--config=FILE`,
// `--help`/`-h`, and the remaining flags for LoadOptions::flags.
struct CommandLine {
  std::optional<std::string> config_file;
  std::vector<std::string> flags;
  bool help = false;
};
CommandLine SplitCommandLine(int argc, const char* const* argv);

}  // namespace gridhub::config
