#include "config/keys.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "redis/redis_url.h"

namespace gridhub::config::detail {
namespace {

using nlohmann::json;

// Names one field of Settings, e.g. Field{&Settings::queue, &QueueSettings::timeout}.
template <typename Section, typename T>
struct Field {
  Section Settings::*section;
  T Section::*member;
  T& operator()(Settings& s) const { return (s.*section).*member; }
  const T& operator()(const Settings& s) const { return (s.*section).*member; }
};
// clang 14 has no CTAD for aggregates yet.
template <typename Section, typename T>
Field(Section Settings::*, T Section::*) -> Field<Section, T>;

enum class Zero { kAllowed, kRefused };

Problem Bad(std::string why) { return Problem{std::move(why), "", std::nullopt}; }

// Every scalar key starts here: a list or a map where a number belongs is a type error.
std::optional<std::string> Text(const json& value, std::string_view expected,
                                std::optional<Problem>& problem) {
  std::optional<std::string> text = ScalarText(value);
  if (!text) {
    problem = Bad("wrong type: expected " + std::string(expected) + ", got " +
                  std::string(KindName(value)));
  }
  return text;
}

// `why_not_zero` tells a user who wrote 0 where it is refused what 0 would have done.
template <typename S>
KeySpec DurationKey(std::string name, Field<S, Duration> field, Zero zero, std::string help,
                    std::string why_not_zero = "") {
  KeySpec spec{.name = std::move(name), .value_kind = "DURATION", .help = std::move(help)};
  spec.apply = [field, zero, why_not_zero](const json& value,
                                           Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "a duration such as 300s", problem);
    if (!text) return problem;
    Result<Duration> d = DurationFromText(*text);
    if (!d.ok()) return Bad(d.error().message);
    if (zero == Zero::kRefused && *d == Duration::zero()) {
      return Bad("must be more than 0" + (why_not_zero.empty() ? "" : " (" + why_not_zero + ")"));
    }
    field(s) = *d;
    return std::nullopt;
  };
  spec.get = [field](const Settings& s) { return json(FormatDuration(field(s))); };
  return spec;
}

template <typename S, typename T>
KeySpec IntKey(std::string name, Field<S, T> field, int64_t min, int64_t max, std::string help) {
  KeySpec spec{.name = std::move(name), .value_kind = "INT", .help = std::move(help)};
  spec.apply = [field, min, max](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "an integer", problem);
    if (!text) return problem;
    Result<int64_t> n = IntFromText(*text);
    if (!n.ok()) return Bad(n.error().message);
    if (*n < 0 && min >= 0) return Bad("negative value");
    if (*n < min || *n > max) {
      return Bad("out of range " + std::to_string(min) + ".." + std::to_string(max));
    }
    field(s) = static_cast<T>(*n);
    return std::nullopt;
  };
  spec.get = [field](const Settings& s) { return json(field(s)); };
  return spec;
}

template <typename S>
KeySpec BoolKey(std::string name, Field<S, bool> field, std::string help) {
  KeySpec spec{.name = std::move(name), .value_kind = "BOOL", .help = std::move(help)};
  spec.flag_value = FlagValue::kOptional;
  spec.apply = [field](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "a boolean", problem);
    if (!text) return problem;
    Result<bool> b = BoolFromText(*text);
    if (!b.ok()) return Bad(b.error().message);
    field(s) = *b;
    return std::nullopt;
  };
  spec.get = [field](const Settings& s) { return json(field(s)); };
  return spec;
}

enum class Check { kAny, kNonEmpty, kUrl, kUrlOrEmpty, kPublicUrlOrEmpty };

// hub.public-url: an http(s) URL whose path becomes the prefix of the WebSocket URLs the hub
// hands out, so nothing may follow the path and no password may sit in it.
std::optional<std::string> PublicUrlProblem(std::string_view text) {
  Result<HttpUrl> url = ParseHttpUrl(text);
  if (!url.ok()) return url.error().message;
  if (!url->user_info.empty()) return "URL must not carry user-info";
  if (url->rest.find_first_of("?#") != std::string::npos) {
    return "URL must not have a query or fragment";
  }
  return std::nullopt;
}

template <typename S>
KeySpec StringKey(std::string name, Field<S, std::string> field, Check check, std::string help) {
  KeySpec spec{.name = std::move(name), .value_kind = "STRING", .help = std::move(help)};
  spec.apply = [field, check](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "a string", problem);
    if (!text) return problem;
    if (check == Check::kNonEmpty && text->empty()) return Bad("must not be empty");
    bool url_needed = check == Check::kUrl || (check == Check::kUrlOrEmpty && !text->empty());
    if (url_needed) {
      if (std::optional<std::string> why = HttpUrlProblem(*text)) return Bad(*why);
    }
    if (check == Check::kPublicUrlOrEmpty && !text->empty()) {
      if (std::optional<std::string> why = PublicUrlProblem(*text)) return Bad(*why);
    }
    field(s) = *text;
    return std::nullopt;
  };
  spec.get = [field](const Settings& s) { return json(field(s)); };
  return spec;
}

KeySpec SlotSelectionKey() {
  KeySpec spec{.name = "hub.slot-selection",
               .value_kind = "spread|pack",
               .help = "spread: least-loaded node first; pack: busiest node with room"};
  spec.apply = [](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "spread or pack", problem);
    if (!text) return problem;
    std::string lower(Trim(*text));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "spread") {
      s.hub.slot_selection = SlotSelection::kSpread;
    } else if (lower == "pack") {
      s.hub.slot_selection = SlotSelection::kPack;
    } else {
      return Bad("must be spread or pack");
    }
    return std::nullopt;
  };
  spec.get = [](const Settings& s) {
    return json(std::string(SlotSelectionName(s.hub.slot_selection)));
  };
  return spec;
}

// A value that may hold a password inside: a string shows its URL user-info redacted; anything
// else (a list given by mistake) is hidden whole if it could hold one.
json RedactUrlValue(const json& value) {
  if (value.is_string()) return json(RedactUserInfo(value.get<std::string>()));
  return value.dump().find('@') == std::string::npos ? value : json("<redacted>");
}

// hub.state: `memory`, or a redis URL checked here by the same pure parser the store uses, so
// a typo stops start-up instead of the first connection attempt.
KeySpec StateKey() {
  KeySpec spec{.name = "hub.state",
               .value_kind = "memory|URL",
               .help =
                   "where the grid's state lives: memory (one hub) or "
                   "redis://[[user]:password@]host[:port][/db] (several hubs)"};
  spec.apply = [](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "memory or a redis:// URL", problem);
    if (!text) return problem;
    std::string trimmed(Trim(*text));
    std::string lower = trimmed;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "memory") {
      s.hub.state = "memory";
      return std::nullopt;
    }
    if (!lower.starts_with("redis")) {
      return Bad("must be memory or redis://[[user]:password@]host[:port][/db]");
    }
    // RedisUrl's messages never quote the password.
    Result<redis::RedisUrl> url = redis::RedisUrl::Parse(trimmed);
    if (!url.ok()) return Bad(url.error().message);
    s.hub.state = std::move(trimmed);
    return std::nullopt;
  };
  spec.get = [](const Settings& s) { return json(s.hub.state); };
  spec.redact = RedactUrlValue;
  return spec;
}

// A byte count with K, M, G suffixes.
template <typename S>
KeySpec SizeKey(std::string name, Field<S, size_t> field, Zero zero, std::string help) {
  KeySpec spec{.name = std::move(name), .value_kind = "SIZE", .help = std::move(help)};
  spec.apply = [field, zero](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, "a size such as 64M", problem);
    if (!text) return problem;
    Result<size_t> n = SizeFromText(*text);
    if (!n.ok()) return Bad(n.error().message);
    if (zero == Zero::kRefused && *n == 0) return Bad("must be more than 0");
    field(s) = *n;
    return std::nullopt;
  };
  spec.get = [field](const Settings& s) { return json(field(s)); };
  return spec;
}

KeySpec CapsKey() {
  KeySpec spec{.name = "queue.concurrency-caps",
               .value_kind = "CAPS",
               .help = "most active sessions per label: {label: N} or \"label=N,label=N\""};
  spec.shape = Shape::kStructured;
  spec.apply = [](const json& value, Settings& s) -> std::optional<Problem> {
    auto caps = CapsFromJson(value);
    if (auto* p = std::get_if<Problem>(&caps)) return std::move(*p);
    s.queue.concurrency_caps = std::get<std::map<std::string, int>>(std::move(caps));
    return std::nullopt;
  };
  spec.get = [](const Settings& s) {
    json out = json::object();
    for (const auto& [label, cap] : s.queue.concurrency_caps) out[label] = cap;
    return out;
  };
  return spec;
}

json SlotJson(const SlotConfig& slot) {
  json out{
      {"label", slot.label}, {"max-sessions", slot.max_sessions}, {"stereotype", slot.stereotype}};
  if (!slot.driver.empty()) out["driver"] = slot.driver;
  if (!slot.relay.empty()) out["relay"] = slot.relay;
  if (slot.downloads) out["downloads"] = true;
  return out;
}

KeySpec SlotsKey() {
  KeySpec spec{.name = "node.slots",
               .value_kind = "SLOTS",
               .help =
                   "list of {label, max-sessions, stereotype, driver | relay, downloads} (YAML or "
                   "JSON)"};
  spec.shape = Shape::kStructured;
  spec.apply = [](const json& value, Settings& s) -> std::optional<Problem> {
    auto slots = SlotsFromJson(value);
    if (auto* p = std::get_if<Problem>(&slots)) return std::move(*p);
    s.node.slots = std::get<std::vector<SlotConfig>>(std::move(slots));
    return std::nullopt;
  };
  spec.get = [](const Settings& s) {
    json out = json::array();
    for (const SlotConfig& slot : s.node.slots) out.push_back(SlotJson(slot));
    return out;
  };
  return spec;
}

KeySpec With(KeySpec spec, Runtime runtime, std::string alias = "") {
  spec.runtime = runtime;
  spec.alias = std::move(alias);
  return spec;
}

KeySpec Secret(KeySpec spec) {
  spec.secrecy = Secrecy::kSecret;
  return spec;
}

constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr Runtime kAdmin = Runtime::kAdmin;

std::vector<KeySpec> ServerKeys() {
  using S = ServerSettings;
  return {
      StringKey("server.host", Field{&Settings::server, &S::host}, Check::kNonEmpty,
                "address to bind"),
      IntKey("server.port", Field{&Settings::server, &S::port}, 0, 65535,
             "port to listen on; 0 = any free port"),
      IntKey("server.threads", Field{&Settings::server, &S::threads}, 0, 1024,
             "HTTP worker threads; 0 = one per core, at least 2"),
      SizeKey("server.max-body", Field{&Settings::server, &S::max_body}, Zero::kRefused,
              "largest request body in bytes (K, M, G suffixes); larger gets 413; node answers "
              "larger than it get 502"),
      IntKey("server.max-connections", Field{&Settings::server, &S::max_connections}, 1, 1000000,
             "open client connections; more are answered 503 and closed (kept below the "
             "open-files limit)"),
      DurationKey("server.header-timeout", Field{&Settings::server, &S::header_timeout},
                  Zero::kRefused, "time to send a whole request head; then 408 and closed",
                  "0 would close every connection at once"),
      SizeKey("server.min-body-rate", Field{&Settings::server, &S::min_body_rate}, Zero::kAllowed,
              "bytes per second a request body must keep up, per header-timeout window; slower "
              "gets 408; 0 = no minimum"),
      DurationKey("server.idle-timeout", Field{&Settings::server, &S::idle_timeout}, Zero::kRefused,
                  "a kept-alive connection with no request in progress is closed after this",
                  "0 would close every kept-alive connection at once"),
  };
}

std::vector<KeySpec> HubKeys() {
  using H = HubSettings;
  return {
      DurationKey("hub.node-timeout", Field{&Settings::hub, &H::node_timeout}, Zero::kRefused,
                  "a node silent this long is DOWN", "0 would declare every node DOWN at once"),
      DurationKey("hub.health-check-period", Field{&Settings::hub, &H::health_check_period},
                  Zero::kRefused, "how often bare WebDriver nodes are polled at /status",
                  "0 would poll without pause"),
      With(SlotSelectionKey(), kAdmin),
      Secret(StringKey("hub.admin-token", Field{&Settings::hub, &H::admin_token}, Check::kAny,
                       "Bearer token for admin calls; empty = open")),
      Secret(StringKey("hub.client-token", Field{&Settings::hub, &H::client_token}, Check::kAny,
                       "token for W3C and queue calls; empty = open")),
      Secret(StringKey("hub.registration-secret", Field{&Settings::hub, &H::registration_secret},
                       Check::kAny, "X-Registration-Secret nodes must send; empty = open")),
      StringKey("hub.public-url", Field{&Settings::hub, &H::public_url}, Check::kPublicUrlOrEmpty,
                "URL clients reach the hub at (WebSocket URLs are built from it); empty = from "
                "each request's Host"),
      BoolKey("hub.trust-forwarded", Field{&Settings::hub, &H::trust_forwarded},
              "build WebSocket URLs from Forwarded / X-Forwarded-* headers (behind a proxy)"),
      IntKey("hub.websockets-per-session", Field{&Settings::hub, &H::websockets_per_session}, 1,
             100000, "open BiDi/CDP sockets per session; one more gets 429"),
      StateKey(),
      DurationKey("hub.peer-timeout", Field{&Settings::hub, &H::peer_timeout}, Zero::kRefused,
                  "with hub.state redis: a hub whose presence is not refreshed this long is dead "
                  "(its waiters leave the queue)",
                  "0 would declare every other hub dead at once"),
  };
}

std::vector<KeySpec> QueueKeys() {
  using Q = QueueSettings;
  auto q = [](auto member) { return Field{&Settings::queue, member}; };
  return {
      With(DurationKey("queue.timeout", q(&Q::timeout), Zero::kRefused,
                       "a waiter not served by then fails",
                       "0 would fail every waiter at once; to fail fast when no slot is free, "
                       "send X-No-Wait: true or gridhub:noWait"),
           kAdmin, "HUB_BORROW_QUEUE_TIMEOUT_SECONDS"),
      With(IntKey("queue.max-per-label", q(&Q::max_per_label), 0, kIntMax,
                  "most waiters per label; more are refused at once"),
           kAdmin, "HUB_BORROW_QUEUE_MAX_PER_LABEL"),
      With(IntKey("queue.max-per-run", q(&Q::max_per_run), 0, kIntMax,
                  "most waiters per run id across labels"),
           kAdmin, "HUB_BORROW_QUEUE_MAX_PER_RUN"),
      With(IntKey("queue.concurrency-default", q(&Q::concurrency_default), 0, kIntMax,
                  "most active sessions for a label without a cap; 0 = unlimited"),
           kAdmin, "HUB_BORROW_CONCURRENCY_DEFAULT"),
      With(CapsKey(), kAdmin, "HUB_BORROW_CONCURRENCY_CAPS"),
      With(BoolKey("queue.reject-unsatisfiable", q(&Q::reject_unsatisfiable),
                   "fail at once what no registered slot could ever serve"),
           kAdmin),
      With(DurationKey("queue.registration-grace", q(&Q::registration_grace), Zero::kAllowed,
                       "start-up time before reject-unsatisfiable applies"),
           kAdmin),
      With(IntKey("queue.retry-limit", q(&Q::retry_limit), 0, 1000,
                  "retries after a node fails to create a session"),
           kAdmin),
      With(DurationKey("queue.abandon-after", q(&Q::abandon_after), Zero::kRefused,
                       "a waiting ticket with no activity this long is dropped",
                       "0 would drop every waiting ticket at once; a value of at least "
                       "queue.timeout keeps unpolled tickets until their deadline"),
           kAdmin),
      With(DurationKey("queue.ready-ttl", q(&Q::ready_ttl), Zero::kRefused,
                       "a ready ticket not taken this long is dropped",
                       "0 would drop every ready ticket, and delete its session, before it "
                       "could be taken"),
           kAdmin),
  };
}

std::vector<KeySpec> MatchingKeys() {
  using M = MatchingSettings;
  auto m = [](auto member) { return Field{&Settings::matching, member}; };
  return {
      With(BoolKey("matching.prefix-expand", m(&M::prefix_expand),
                   "label AppA also matches AppA:Chromium:UAT"),
           kAdmin, "HUB_BORROW_PREFIX_EXPAND"),
      With(BoolKey("matching.wildcards", m(&M::wildcards), "a * label segment matches any one"),
           kAdmin, "HUB_BORROW_WILDCARDS"),
      With(BoolKey("matching.trailing-fallback", m(&M::trailing_fallback),
                   "an unservable AppA:Chromium:UAT falls back to AppA:Chromium, then AppA"),
           kAdmin, "HUB_BORROW_TRAILING_FALLBACK"),
  };
}

std::vector<KeySpec> NodeKeys() {
  using N = NodeSettings;
  auto n = [](auto member) { return Field{&Settings::node, member}; };
  return {
      StringKey("node.hub", n(&N::hub), Check::kUrl, "URL of the hub to register with"),
      StringKey("node.id", n(&N::id), Check::kAny, "node id; empty = generated"),
      StringKey("node.uri", n(&N::uri), Check::kUrlOrEmpty,
                "URL the hub uses to reach this node; empty = from server.host/port"),
      DurationKey("node.session-timeout", n(&N::session_timeout), Zero::kAllowed,
                  "sessions idle this long are deleted; 0 = never"),
      IntKey("node.drain-after-sessions", n(&N::drain_after_sessions), 0, kIntMax,
             "drain after this many sessions; 0 = never"),
      DurationKey("node.drain-timeout", n(&N::drain_timeout), Zero::kAllowed,
                  "on drain, wait this long for running sessions, then end them"),
      SizeKey("node.max-upload", n(&N::max_upload), Zero::kRefused,
              "largest file a session may upload (POST /se/file), unpacked: bytes or 256M"),
      SlotsKey(),
  };
}

// log.format / log.level: one of a few words, case and surrounding blanks ignored.
template <typename T>
KeySpec ChoiceKey(std::string name, std::string kinds, T LogSettings::*member,
                  bool (*parse)(std::string_view, T*), std::string_view (*show)(T),
                  std::string help) {
  KeySpec spec{.name = std::move(name), .value_kind = kinds, .help = std::move(help)};
  spec.apply = [member, parse, kinds](const json& value, Settings& s) -> std::optional<Problem> {
    std::optional<Problem> problem;
    std::optional<std::string> text = Text(value, kinds, problem);
    if (!text) return problem;
    std::string lower(Trim(*text));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string choices = kinds;
    std::replace(choices.begin(), choices.end(), '|', ' ');
    if (!parse(lower, &(s.log.*member))) return Bad("must be one of: " + choices);
    return std::nullopt;
  };
  spec.get = [member, show](const Settings& s) { return json(std::string(show(s.log.*member))); };
  return spec;
}

std::vector<KeySpec> LogKeys() {
  return {
      ChoiceKey("log.format", "text|json", &LogSettings::format, &log::ParseFormat,
                &log::FormatName,
                "text: readable lines; json: one JSON object per line (time, level, event, label, "
                "run_id, session_id, node_id, message)"),
      ChoiceKey("log.level", "debug|info|warn|error", &LogSettings::level, &log::ParseLevel,
                &log::LevelConfigName, "lines below this level are not written"),
  };
}

std::vector<KeySpec> BuildKeys() {
  std::vector<KeySpec> keys;
  for (auto part : {ServerKeys(), HubKeys(), QueueKeys(), MatchingKeys(), NodeKeys(), LogKeys()}) {
    for (KeySpec& spec : part) keys.push_back(std::move(spec));
  }
  return keys;
}

}  // namespace

const std::vector<std::string>& Sections() {
  static const std::vector<std::string> kSections = {"server",  "hub",  "queue", "matching",
                                                     "metrics", "node", "log"};
  return kSections;
}

const std::vector<KeySpec>& Keys() {
  static const std::vector<KeySpec> kKeys = BuildKeys();
  return kKeys;
}

const KeySpec* FindKey(std::string_view name) {
  for (const KeySpec& spec : Keys()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string EnvName(std::string_view key) {
  std::string out = "GRIDHUB_";
  for (char c : key) {
    out += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace gridhub::config::detail
