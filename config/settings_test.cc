#include "config/settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace gridhub::config {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// An environment for LoadOptions::environ that the test owns, so the real one never leaks in.
class Env {
 public:
  explicit Env(std::vector<std::string> vars = {}) : vars_(std::move(vars)) {
    for (const std::string& v : vars_) pointers_.push_back(v.c_str());
    pointers_.push_back(nullptr);
  }
  const char* const* get() const { return pointers_.data(); }

 private:
  std::vector<std::string> vars_;
  std::vector<const char*> pointers_;
};

// CTest runs each case as its own process, several at once: the pid keeps their files apart.
std::string WriteYaml(const std::string& text) {
  static int counter = 0;
  std::string path = testing::TempDir() + "/gridhub_config_" + std::to_string(::getpid()) + "_" +
                     std::to_string(++counter) + ".yaml";
  std::ofstream(path) << text;
  return path;
}

Result<Settings> Load(const std::string& yaml, std::vector<std::string> env = {},
                      std::vector<std::string> flags = {}, Mode mode = Mode::kHub) {
  Env environment(std::move(env));
  LoadOptions options{.mode = mode, .flags = std::move(flags), .environ = environment.get()};
  if (!yaml.empty()) options.file = WriteYaml(yaml);
  Result<Settings> loaded = LoadSettings(options);
  if (options.file) std::remove(options.file->c_str());  // read once; nothing left in /tmp
  return loaded;
}

json Get(const Settings& settings, const std::string& key) {
  size_t dot = key.find('.');
  return ToJson(settings, Tokens::kShow)[key.substr(0, dot)][key.substr(dot + 1)];
}

std::string EnvName(const std::string& key) {
  std::string out = "GRIDHUB_";
  for (char c : key) out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

TEST(ParseDurationTest, AcceptsEveryDocumentedForm) {
  struct Case {
    std::string text;
    Duration want;
  };
  for (const Case& c : std::vector<Case>{{"300", 300s},
                                         {"300s", 300s},
                                         {"500ms", 500ms},
                                         {"5m", 5min},
                                         {"1h", 1h},
                                         {"0", 0s},
                                         {"0s", 0s},
                                         {" 30s ", 30s},
                                         {"+10s", 10s}}) {
    Result<Duration> d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.error().message;
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ParseDurationTest, RefusesWithTheReason) {
  struct Case {
    std::string text;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{"-5s", "negative duration"},
                                         {"-1", "negative duration"},
                                         {"", "empty duration"},
                                         {"abc", "not a duration"},
                                         {"1.5s", "unknown duration unit"},
                                         {"5d", "unknown duration unit 'd'"},
                                         {"10 s", "unknown duration unit"},
                                         {"99999999999999h", "too long"}}) {
    Result<Duration> d = ParseDuration(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(d.error().message.find(c.reason), std::string::npos) << d.error().message;
    EXPECT_NE(d.error().message.find("\"" + c.text + "\""), std::string::npos) << d.error().message;
  }
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  EXPECT_EQ(FormatDuration(300s), "300s");
  EXPECT_EQ(FormatDuration(500ms), "500ms");
  EXPECT_EQ(FormatDuration(0s), "0s");
  EXPECT_EQ(*ParseDuration(FormatDuration(1500ms)), 1500ms);
}

TEST(NormalizeLabelTest, TrimsLowerCasesAndDropsEmptySegments) {
  EXPECT_EQ(*NormalizeLabel(" AppA : Chromium::UAT "), "appa:chromium:uat");
  EXPECT_FALSE(NormalizeLabel("a:b:c:d:e:f:g:h:i").ok());
  EXPECT_FALSE(NormalizeLabel("App A").ok());
  EXPECT_FALSE(NormalizeLabel(" : ").ok());
}

TEST(LoadSettingsTest, DefaultsFollowTheContract) {
  Result<Settings> s = Load("");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->server.host, "0.0.0.0");
  EXPECT_EQ(s->server.port, 4444);
  EXPECT_EQ(s->server.max_body, size_t{64} << 20);
  EXPECT_EQ(s->server.max_connections, 4096);
  EXPECT_EQ(s->server.header_timeout, 30s);
  EXPECT_EQ(s->server.min_body_rate, 4096u);
  EXPECT_EQ(s->server.idle_timeout, 300s);
  EXPECT_EQ(s->hub.node_timeout, 30s);
  EXPECT_EQ(s->hub.slot_selection, SlotSelection::kSpread);
  EXPECT_EQ(s->hub.state, "memory");
  EXPECT_EQ(s->hub.peer_timeout, 10s);
  EXPECT_EQ(s->queue.timeout, 300s);
  EXPECT_EQ(s->queue.max_per_label, 100u);
  EXPECT_EQ(s->queue.max_per_run, 5u);
  EXPECT_TRUE(s->queue.reject_unsatisfiable);
  EXPECT_EQ(s->queue.retry_limit, 3);
  EXPECT_EQ(s->queue.abandon_after, 60s);
  EXPECT_EQ(s->queue.ready_ttl, 30s);
  EXPECT_TRUE(s->matching.prefix_expand);
  EXPECT_FALSE(s->matching.wildcards);
  EXPECT_TRUE(s->matching.trailing_fallback);
  EXPECT_EQ(s->node.session_timeout, 300s);
  EXPECT_EQ(s->node.drain_timeout, 60s);
  EXPECT_EQ(s->node.max_upload, size_t{256} << 20);
  for (const auto& [key, source] : s->sources) EXPECT_EQ(source, Source::kDefault) << key;
}

TEST(LoadSettingsTest, NodeModeDefaultsToPort5555) {
  EXPECT_EQ(Load("", {}, {}, Mode::kNode)->server.port, 5555);
  EXPECT_EQ(Load("", {}, {}, Mode::kStandalone)->server.port, 4444);
  // check-config of a node-only file shows what the node would use.
  EXPECT_EQ(Load("node:\n  id: n1\n", {}, {}, Mode::kCheck)->server.port, 5555);
  EXPECT_EQ(Load("queue:\n  timeout: 1s\n", {}, {}, Mode::kCheck)->server.port, 4444);
}

// One sample value per key, as text, and what ToJson must then show for it.
struct KeyCase {
  std::string key;
  std::string text;
  json want;
};

std::vector<KeyCase> EveryKey() {
  return {
      {"server.host", "127.0.0.1", "127.0.0.1"},
      {"server.port", "0", 0},
      {"server.threads", "4", 4},
      {"server.max-body", "1M", 1048576},
      {"server.max-connections", "20", 20},
      {"server.header-timeout", "1s", "1s"},
      {"server.min-body-rate", "8K", 8192},
      {"server.idle-timeout", "2m", "120s"},
      {"hub.node-timeout", "45s", "45s"},
      {"hub.health-check-period", "500ms", "500ms"},
      {"hub.slot-selection", "pack", "pack"},
      {"hub.admin-token", "adm1n", "adm1n"},
      {"hub.client-token", "c1ient", "c1ient"},
      {"hub.registration-secret", "s3cret", "s3cret"},
      {"hub.public-url", "https://grid.example.com/wd/hub", "https://grid.example.com/wd/hub"},
      {"hub.trust-forwarded", "true", true},
      {"hub.websockets-per-session", "3", 3},
      {"hub.state", "redis://10.0.0.5:6380/2", "redis://10.0.0.5:6380/2"},
      {"hub.peer-timeout", "3s", "3s"},
      {"queue.timeout", "2m", "120s"},
      {"queue.max-per-label", "7", 7},
      {"queue.max-per-run", "2", 2},
      {"queue.concurrency-default", "3", 3},
      {"queue.concurrency-caps",
       "AppA:Chromium:UAT=2, AppB=1",
       {{"appa:chromium:uat", 2}, {"appb", 1}}},
      {"queue.reject-unsatisfiable", "off", false},
      {"queue.registration-grace", "0s", "0s"},
      {"queue.retry-limit", "0", 0},
      {"queue.abandon-after", "1h", "3600s"},
      {"queue.ready-ttl", "90", "90s"},
      {"matching.prefix-expand", "no", false},
      {"matching.wildcards", "yes", true},
      {"matching.trailing-fallback", "0", false},
      {"node.hub", "http://hub.example:4444", "http://hub.example:4444"},
      {"node.id", "007", "007"},
      {"node.uri", "http://10.0.0.5:5555", "http://10.0.0.5:5555"},
      {"node.session-timeout", "10m", "600s"},
      {"node.drain-after-sessions", "10", 10},
      {"node.drain-timeout", "0", "0s"},
      {"node.max-upload", "1MiB", 1048576},
      {"node.slots", "[{label: x, driver: /bin/true --flag}]",
       json::array({{{"label", "x"},
                     {"max-sessions", 1},
                     {"stereotype", json::object()},
                     {"driver", {"/bin/true", "--flag"}}}})},
      {"log.format", "JSON", "json"},
      {"log.level", " Warn ", "warn"},
  };
}

TEST(LoadSettingsTest, TheTableCoversEveryKey) {
  json all = ToJson(Settings{}, Tokens::kShow);
  size_t keys = 0;
  for (const auto& [section, body] : all.items()) keys += body.size();
  EXPECT_EQ(EveryKey().size(), keys);
}

TEST(LoadSettingsTest, EveryKeyFromYaml) {
  for (const KeyCase& c : EveryKey()) {
    size_t dot = c.key.find('.');
    std::string yaml = c.key.substr(0, dot) + ":\n  " + c.key.substr(dot + 1) + ": " + c.text;
    Result<Settings> s = Load(yaml);
    ASSERT_TRUE(s.ok()) << c.key << ": " << s.error().message;
    EXPECT_EQ(Get(*s, c.key), c.want) << c.key;
    EXPECT_EQ(s->sources.at(c.key), Source::kFile) << c.key;
  }
}

TEST(LoadSettingsTest, EveryKeyFromEnvironment) {
  for (const KeyCase& c : EveryKey()) {
    Result<Settings> s = Load("", {EnvName(c.key) + "=" + c.text});
    ASSERT_TRUE(s.ok()) << c.key << ": " << s.error().message;
    EXPECT_EQ(Get(*s, c.key), c.want) << c.key;
    EXPECT_EQ(s->sources.at(c.key), Source::kEnv) << c.key;
  }
}

TEST(LoadSettingsTest, EveryKeyFromFlagsInBothSpellings) {
  for (const KeyCase& c : EveryKey()) {
    for (std::vector<std::string> flags : {std::vector<std::string>{"--" + c.key, c.text},
                                           std::vector<std::string>{"--" + c.key + "=" + c.text}}) {
      Result<Settings> s = Load("", {}, flags);
      ASSERT_TRUE(s.ok()) << c.key << ": " << s.error().message;
      EXPECT_EQ(Get(*s, c.key), c.want) << flags[0];
      EXPECT_EQ(s->sources.at(c.key), Source::kFlag) << c.key;
    }
  }
}

TEST(LoadSettingsTest, SeedHubAliases) {
  struct Case {
    std::string var;
    std::string key;
    json want;
  };
  for (const Case& c : std::vector<Case>{
           {"HUB_BORROW_QUEUE_TIMEOUT_SECONDS=20", "queue.timeout", "20s"},
           {"HUB_BORROW_QUEUE_MAX_PER_LABEL=20", "queue.max-per-label", 20},
           {"HUB_BORROW_QUEUE_MAX_PER_RUN=3", "queue.max-per-run", 3},
           {"HUB_BORROW_CONCURRENCY_DEFAULT=4", "queue.concurrency-default", 4},
           {"HUB_BORROW_CONCURRENCY_CAPS=AppB:Chromium:UAT=3,AppB:Firefox:UAT=1",
            "queue.concurrency-caps",
            {{"appb:chromium:uat", 3}, {"appb:firefox:uat", 1}}},
           {"HUB_BORROW_TRAILING_FALLBACK=false", "matching.trailing-fallback", false},
           {"HUB_BORROW_PREFIX_EXPAND=false", "matching.prefix-expand", false},
           {"HUB_BORROW_WILDCARDS=true", "matching.wildcards", true},
       }) {
    Result<Settings> s = Load("", {c.var});
    ASSERT_TRUE(s.ok()) << c.var << ": " << s.error().message;
    EXPECT_EQ(Get(*s, c.key), c.want) << c.var;
    EXPECT_EQ(s->sources.at(c.key), Source::kEnv) << c.var;
  }
}

TEST(LoadSettingsTest, GridhubVariableWinsOverAlias) {
  Result<Settings> s =
      Load("", {"HUB_BORROW_QUEUE_TIMEOUT_SECONDS=20", "GRIDHUB_QUEUE_TIMEOUT=40s"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->queue.timeout, 40s);
  // The order of the environment does not matter.
  s = Load("", {"GRIDHUB_QUEUE_TIMEOUT=40s", "HUB_BORROW_QUEUE_TIMEOUT_SECONDS=20"});
  EXPECT_EQ(s->queue.timeout, 40s);
}

TEST(LoadSettingsTest, PrecedenceIsDefaultsFileEnvFlags) {
  const std::string yaml = "queue:\n  timeout: 10s\n  max-per-label: 10\n  max-per-run: 10\n";
  Result<Settings> s =
      Load(yaml, {"GRIDHUB_QUEUE_MAX_PER_LABEL=20", "GRIDHUB_QUEUE_MAX_PER_RUN=20"},
           {"--queue.max-per-run", "30"});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->queue.timeout, 10s);
  EXPECT_EQ(s->sources.at("queue.timeout"), Source::kFile);
  EXPECT_EQ(s->queue.max_per_label, 20u);
  EXPECT_EQ(s->sources.at("queue.max-per-label"), Source::kEnv);
  EXPECT_EQ(s->queue.max_per_run, 30u);
  EXPECT_EQ(s->sources.at("queue.max-per-run"), Source::kFlag);
  EXPECT_EQ(s->queue.retry_limit, 3);
  EXPECT_EQ(s->sources.at("queue.retry-limit"), Source::kDefault);
}

TEST(LoadSettingsTest, ShorthandsBareBooleansAndEmptyEnv) {
  Result<Settings> s = Load("", {"GRIDHUB_SERVER_HOST="},
                            {"--port", "0", "--host=127.0.0.1", "--matching.wildcards"});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->server.port, 0);
  EXPECT_EQ(s->server.host, "127.0.0.1");
  EXPECT_TRUE(s->matching.wildcards);
  // A bare boolean followed by another flag does not swallow it.
  s = Load("", {}, {"--matching.wildcards", "--port", "1"});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_TRUE(s->matching.wildcards);
  EXPECT_EQ(s->server.port, 1);
}

TEST(LoadSettingsTest, CapsMapAndStringFormsAgree) {
  Result<Settings> map = Load(
      "queue:\n  concurrency-caps:\n    AppA:Chromium:UAT: 2\n"
      "    \" AppB : Firefox \": 0\n");
  Result<Settings> text =
      Load("queue:\n  concurrency-caps: \"AppA:Chromium:UAT=2, AppB:Firefox=0,\"\n");
  ASSERT_TRUE(map.ok()) << map.error().message;
  ASSERT_TRUE(text.ok()) << text.error().message;
  std::map<std::string, int> want{{"appa:chromium:uat", 2}, {"appb:firefox", 0}};
  EXPECT_EQ(map->queue.concurrency_caps, want);
  EXPECT_EQ(text->queue.concurrency_caps, want);
  EXPECT_TRUE(Load("queue:\n  concurrency-caps: \"\"\n")->queue.concurrency_caps.empty());
  // The map form also travels through the environment as JSON.
  Result<Settings> env =
      Load("", {R"(GRIDHUB_QUEUE_CONCURRENCY_CAPS={"AppA:Chromium:UAT": 2, "AppB:Firefox": 0})"});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->queue.concurrency_caps, want);
}

TEST(LoadSettingsTest, SlotsInAllForms) {
  Result<Settings> s = Load(R"(
node:
  slots:
    - driver: [/usr/bin/chromedriver, --verbose]
      max-sessions: 2
      stereotype: {browserName: Chrome, acceptInsecureCerts: true, "se:count": 3}
    - relay: http://127.0.0.1:4723
      stereotype: {gridhub:label: " Android : Pixel ", platformName: android}
    - label: Edge
      driver: msedgedriver --port=0
      stereotype: {browserName: "MicrosoftEdge", browserVersion: "120"}
)");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const auto& slots = s->node.slots;
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0].label, "chrome");
  EXPECT_EQ(slots[0].max_sessions, 2);
  EXPECT_EQ(slots[0].driver, (std::vector<std::string>{"/usr/bin/chromedriver", "--verbose"}));
  // Stereotype values keep their YAML types; quoted scalars stay strings.
  EXPECT_EQ(slots[0].stereotype["acceptInsecureCerts"], true);
  EXPECT_EQ(slots[0].stereotype["se:count"], 3);
  EXPECT_EQ(slots[1].label, "android:pixel");
  EXPECT_EQ(slots[1].relay, "http://127.0.0.1:4723");
  EXPECT_TRUE(slots[1].driver.empty());
  EXPECT_EQ(slots[2].label, "edge");
  EXPECT_EQ(slots[2].driver, (std::vector<std::string>{"msedgedriver", "--port=0"}));
  EXPECT_EQ(slots[2].stereotype["browserVersion"], "120");
}

TEST(LoadSettingsTest, DownloadsOnASlotAnnounceThemInTheStereotype) {
  Result<Settings> s = Load(R"(
node:
  max-upload: 10M
  slots:
    - {label: dl, driver: a, downloads: true, stereotype: {browserName: chrome}}
    - {label: plain, driver: a, stereotype: {browserName: chrome}}
    - {label: stated, driver: a, stereotype: {"se:downloadsEnabled": true}}
    - {label: off, driver: a, downloads: off, stereotype: {"se:downloadsEnabled": false}}
    - {label: relayed, relay: "http://r:1", stereotype: {"se:downloadsEnabled": true}}
)");
  ASSERT_TRUE(s.ok()) << s.error().message;
  const auto& slots = s->node.slots;
  EXPECT_EQ(s->node.max_upload, size_t{10} << 20);
  EXPECT_TRUE(slots[0].downloads);
  EXPECT_EQ(slots[0].stereotype["se:downloadsEnabled"], true);
  EXPECT_FALSE(slots[1].downloads);
  EXPECT_FALSE(slots[1].stereotype.contains("se:downloadsEnabled"));
  EXPECT_TRUE(slots[2].downloads) << "the stereotype key alone turns them on";
  EXPECT_FALSE(slots[3].downloads);
  EXPECT_FALSE(slots[3].stereotype.contains("se:downloadsEnabled"));
  // A relay's own server manages its downloads; its stereotype passes through as written.
  EXPECT_FALSE(slots[4].downloads);
  EXPECT_EQ(slots[4].stereotype["se:downloadsEnabled"], true);
  // check-config and ToJson show the setting.
  json shown = ToJson(*s, Tokens::kShow)["node"]["slots"];
  EXPECT_EQ(shown[0]["downloads"], true);
  EXPECT_FALSE(shown[1].contains("downloads"));
  // Environment form of the slot list.
  Result<Settings> env = Load("", {"GRIDHUB_NODE_SLOTS=[{label: x, driver: a, downloads: yes}]"});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_TRUE(env->node.slots[0].downloads);
}

TEST(LoadSettingsTest, UsableUrlsAreAccepted) {
  for (const char* url : {"http://h", "https://hub.example:4444/", "http://[::1]:4444",
                          "http://user@10.0.0.1:1/grid?x=1", "http://h:65535"}) {
    Result<Settings> s = Load("", {}, {"--node.hub", url});
    EXPECT_TRUE(s.ok()) << url << ": " << s.error().message;
  }
}

// Where 0 makes sense it has a meaning (docs/configuration.md); elsewhere it is refused with
// what it would have done.
TEST(LoadSettingsTest, ZeroDurationsAreAllowedOnlyWhereTheyMeanSomething) {
  for (const char* key :
       {"node.session-timeout", "node.drain-timeout", "queue.registration-grace"}) {
    Result<Settings> s = Load("", {EnvName(key) + "=0s"});
    ASSERT_TRUE(s.ok()) << key << ": " << s.error().message;
    EXPECT_EQ(Get(*s, key), "0s") << key;
  }
  for (const char* key : {"hub.node-timeout", "hub.health-check-period", "queue.timeout",
                          "queue.abandon-after", "queue.ready-ttl"}) {
    Result<Settings> s = Load("", {EnvName(key) + "=0"});
    ASSERT_FALSE(s.ok()) << key;
    EXPECT_NE(s.error().message.find("must be more than 0 (0 would"), std::string::npos)
        << s.error().message;
  }
}

// Each error kind: the one line names the key, the value and the reason.
struct ErrorCase {
  std::string name;
  std::string yaml;
  std::vector<std::string> env;
  std::vector<std::string> flags;
  std::vector<std::string> want;  // substrings of the message
};

TEST(LoadSettingsTest, ErrorsNameKeyValueAndReason) {
  std::vector<ErrorCase> cases = {
      {"unknown key",
       "queue:\n  timout: 30s\n",
       {},
       {},
       {"queue.timout", "\"30s\"", "unknown key"}},
      {"unknown section", "queues:\n  timeout: 30s\n", {}, {}, {"queues", "unknown section"}},
      {"negative duration",
       "queue:\n  timeout: -5s\n",
       {},
       {},
       {"queue.timeout", "-5s", "negative"}},
      {"zero where zero is meaningless",
       "hub:\n  node-timeout: 0s\n",
       {},
       {},
       {"hub.node-timeout", "0s", "more than 0"}},
      {"wrong type", "server:\n  port: {a: 1}\n", {}, {}, {"server.port", "wrong type", "map"}},
      {"not an integer",
       "queue:\n  max-per-label: lots\n",
       {},
       {},
       {"queue.max-per-label", "lots", "not an integer"}},
      {"negative count",
       "queue:\n  max-per-run: -1\n",
       {},
       {},
       {"queue.max-per-run", "-1", "negative"}},
      {"port out of range", "", {}, {"--port", "65536"}, {"server.port", "65536", "out of range"}},
      {"unknown log format",
       "",
       {"GRIDHUB_LOG_FORMAT=xml"},
       {},
       {"log.format", "xml", "must be one of: text json", "env GRIDHUB_LOG_FORMAT"}},
      {"unknown log level",
       "log:\n  level: verbose\n",
       {},
       {},
       {"log.level", "verbose", "must be one of: debug info warn error"}},
      {"bad boolean",
       "",
       {"GRIDHUB_MATCHING_WILDCARDS=maybe"},
       {},
       {"matching.wildcards", "maybe", "not a boolean", "env GRIDHUB_MATCHING_WILDCARDS"}},
      {"bad alias value",
       "",
       {"HUB_BORROW_QUEUE_TIMEOUT_SECONDS=-3"},
       {},
       {"queue.timeout", "-3", "negative", "HUB_BORROW_QUEUE_TIMEOUT_SECONDS"}},
      {"slot selection",
       "hub:\n  slot-selection: random\n",
       {},
       {},
       {"hub.slot-selection", "random", "spread or pack"}},
      {"public url not http",
       "hub:\n  public-url: ftp://grid.example.com\n",
       {},
       {},
       {"hub.public-url", "ftp://grid.example.com", "http"}},
      {"public url with a query",
       "",
       {"GRIDHUB_HUB_PUBLIC_URL=https://grid.example.com/?a=1"},
       {},
       {"hub.public-url", "https://grid.example.com/?a=1", "query", "env GRIDHUB_HUB_PUBLIC_URL"}},
      {"public url with user-info",
       "",
       {},
       {"--hub.public-url", "http://u:p@grid.example.com"},
       {"hub.public-url", "http://u:p@grid.example.com", "user-info", "flag"}},
      {"zero sockets per session",
       "hub:\n  websockets-per-session: 0\n",
       {},
       {},
       {"hub.websockets-per-session", "0", "out of range"}},
      {"malformed cap list",
       "",
       {},
       {"--queue.concurrency-caps", "a=1,b"},
       {"queue.concurrency-caps", "a=1,b", "malformed cap list", "flag"}},
      {"cap not a number",
       "queue:\n  concurrency-caps: {chrome: many}\n",
       {},
       {},
       {"queue.concurrency-caps[chrome]", "many", "not an integer"}},
      {"negative cap",
       "queue:\n  concurrency-caps: chrome=-1\n",
       {},
       {},
       {"queue.concurrency-caps[chrome]", "-1", "negative cap"}},
      {"duplicate cap after normalising",
       "queue:\n  concurrency-caps: \"Chrome=1,chrome=2\"\n",
       {},
       {},
       {"queue.concurrency-caps[chrome]", "two caps"}},
      {"bad label",
       "queue:\n  concurrency-caps: {\"App A\": 1}\n",
       {},
       {},
       {"queue.concurrency-caps[App A]", "App A"}},
      {"too many segments",
       "queue:\n  concurrency-caps: {\"a:b:c:d:e:f:g:h:i\": 1}\n",
       {},
       {},
       {"a:b:c:d:e:f:g:h:i"}},
      {"bad url", "node:\n  hub: hub:4444\n", {}, {}, {"node.hub", "hub:4444", "URL"}},
      {"url port out of range",
       "",
       {},
       {"--node.hub", "http://127.0.0.1:99999"},
       {"node.hub", "99999", "port out of range"}},
      {"url without host", "", {"GRIDHUB_NODE_HUB=http://:4444"}, {}, {"node.hub", "no host"}},
      {"url with a space", "node:\n  uri: \"http://a b:5555\"\n", {}, {}, {"node.uri", "space"}},
      {"relay port not a number",
       "node:\n  slots:\n    - {label: x, relay: \"http://h:47x3\"}\n",
       {},
       {},
       {"node.slots[0].relay", "not a number"}},
      {"bad size", "server:\n  max-body: 10X\n", {}, {}, {"server.max-body", "10X", "unit"}},
      {"duplicate key",
       "queue:\n  timeout: 1s\n  timeout: 2s\n",
       {},
       {},
       {"queue.timeout", "duplicate key"}},
      {"slot without driver or relay",
       "node:\n  slots:\n    - label: x\n",
       {},
       {},
       {"node.slots[0]", "exactly one of driver and relay"}},
      {"slot with both",
       "node:\n  slots:\n    - {label: x, driver: a, relay: http://b}\n",
       {},
       {},
       {"node.slots[0]", "exactly one"}},
      {"slot max-sessions",
       "node:\n  slots:\n    - {label: x, driver: a, max-sessions: 0}\n",
       {},
       {},
       {"node.slots[0].max-sessions", "0", "1 to 10000"}},
      {"slot unknown key",
       "node:\n  slots:\n    - {label: x, driver: a, colour: red}\n",
       {},
       {},
       {"node.slots[0].colour", "red", "unknown key"}},
      {"slot without label",
       "node:\n  slots:\n    - {driver: a}\n",
       {},
       {},
       {"node.slots[0]", "no label"}},
      {"slot downloads not a boolean",
       "node:\n  slots:\n    - {label: x, driver: a, downloads: maybe}\n",
       {},
       {},
       {"node.slots[0].downloads", "maybe", "not a boolean"}},
      {"downloads on a relay",
       "node:\n  slots:\n    - {label: x, relay: \"http://r:1\", downloads: true}\n",
       {},
       {},
       {"node.slots[0].downloads", "relay"}},
      {"downloads contradicted",
       "node:\n  slots:\n    - {label: x, driver: a, downloads: true, stereotype: "
       "{\"se:downloadsEnabled\": false}}\n",
       {},
       {},
       {"node.slots[0].stereotype.se:downloadsEnabled", "contradicts"}},
      {"max-upload zero", "node:\n  max-upload: 0\n", {}, {}, {"node.max-upload", "more than 0"}},
      {"max-upload unit", "node:\n  max-upload: 5T\n", {}, {}, {"node.max-upload", "unit"}},
      {"slots not a list", "node:\n  slots: {label: x}\n", {}, {}, {"node.slots", "list of slots"}},
      {"unknown flag", "", {}, {"--queue.timout", "1s"}, {"--queue.timout", "unknown flag"}},
      {"missing flag value", "", {}, {"--queue.timeout"}, {"--queue.timeout", "missing value"}},
      {"yaml syntax", "queue: [\n", {}, {}, {"not valid YAML", "line"}},
      {"section not a map", "queue: 5\n", {}, {}, {"queue", "wrong type"}},
  };
  for (const ErrorCase& c : cases) {
    Result<Settings> s = Load(c.yaml, c.env, c.flags);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << c.name;
    for (const std::string& part : c.want) {
      EXPECT_NE(s.error().message.find(part), std::string::npos)
          << c.name << ": \"" << s.error().message << "\" lacks \"" << part << "\"";
    }
  }
}

TEST(LoadSettingsTest, ATokenOfTheWrongTypeIsNotShownInTheError) {
  Result<Settings> s = Load("hub:\n  admin-token: [s3cr3t-in-a-list]\n", {}, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("hub.admin-token = <redacted>: wrong type"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(s.error().message.find("s3cr3t"), std::string::npos) << s.error().message;
}

// hub.state (DESIGN.md §8): every URL form RedisUrl::Parse takes is kept as written (trimmed).
TEST(HubStateTest, AcceptsMemoryAndEveryRedisUrlForm) {
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c :
       std::vector<Case>{{"memory", "memory"},
                         {" MEMORY ", "memory"},
                         {"redis://localhost", "redis://localhost"},
                         {"redis://h:6380", "redis://h:6380"},
                         {"redis://h/3", "redis://h/3"},
                         {"redis://h:6380/0", "redis://h:6380/0"},
                         {"redis://:pw@h", "redis://:pw@h"},
                         {"redis://user:pw@h:1/15", "redis://user:pw@h:1/15"},
                         {"redis://:p%40ss@[::1]:7000", "redis://:p%40ss@[::1]:7000"},
                         {" redis://10.0.0.5 ", "redis://10.0.0.5"}}) {
    Result<Settings> s = Load("", {}, {"--hub.state", c.text});
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.error().message;
    EXPECT_EQ(s->hub.state, c.want) << c.text;
  }
}

TEST(HubStateTest, RefusesAnythingElseNamingKeyValueAndReason) {
  struct Case {
    std::string text;
    std::string want;  // a part of the one error line
  };
  for (const Case& c : std::vector<Case>{
           {"memroy", R"(hub.state = "memroy": must be memory or redis://)"},
           {"http://h:6379", R"(hub.state = "http://h:6379": must be memory or redis://)"},
           {"redis:/h", R"(hub.state = "redis:/h": redis URL: must start with redis://)"},
           {"rediss://h", R"(hub.state = "rediss://h": redis URL: TLS (rediss://) is not)"},
           {"redis://h:0",
            R"(hub.state = "redis://h:0": redis URL: port must be 1-65535, got '0')"},
           {"redis://h:70000", "port must be 1-65535, got '70000'"},
           {"redis://h:", "empty port after ':'"},
           {"redis://h/x", "database after '/' must be a number"},
           {"redis://", "no host"}}) {
    Result<Settings> s = Load("", {"GRIDHUB_HUB_STATE=" + c.text});
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.error().message.find(c.want), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find("(env GRIDHUB_HUB_STATE)"), std::string::npos);
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << s.error().message;
  }
  EXPECT_FALSE(Load("hub:\n  state: \"\"\n").ok());
  EXPECT_FALSE(Load("hub:\n  state: [memory]\n").ok());
}

TEST(HubStateTest, EnvironmentBeatsTheFileAndAFlagBeatsBoth) {
  const std::string yaml = "hub:\n  state: memory\n";
  Result<Settings> env = Load(yaml, {"GRIDHUB_HUB_STATE=redis://:pw@store:6380"});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->hub.state, "redis://:pw@store:6380");
  EXPECT_EQ(env->sources.at("hub.state"), Source::kEnv);
  Result<Settings> flag =
      Load(yaml, {"GRIDHUB_HUB_STATE=redis://store"}, {"--hub.state=redis://other/1"});
  ASSERT_TRUE(flag.ok()) << flag.error().message;
  EXPECT_EQ(flag->hub.state, "redis://other/1");
  EXPECT_EQ(flag->sources.at("hub.state"), Source::kFlag);
}

// The password must not reach any printout: ToJson(kRedact) (GET /admin/config), Describe
// (check-config), and the error line of a refused URL.
TEST(HubStateTest, ThePasswordIsRedactedInEveryPrintout) {
  Settings s = *Load("hub:\n  state: redis://alice:s3cret@store:6380/2\n");
  EXPECT_EQ(ToJson(s, Tokens::kShow)["hub"]["state"], "redis://alice:s3cret@store:6380/2");
  json redacted = ToJson(s, Tokens::kRedact);
  EXPECT_EQ(redacted["hub"]["state"], "redis://alice:<redacted>@store:6380/2");
  EXPECT_EQ(redacted.dump().find("s3cret"), std::string::npos);
  EXPECT_EQ(ToJson(s, true).dump().find("s3cret"), std::string::npos);
  std::string text = Describe(s);
  EXPECT_NE(text.find(R"(hub.state = "redis://alice:<redacted>@store:6380/2")"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_EQ(ToJson(*Load(""), Tokens::kRedact)["hub"]["state"], "memory");

  for (const char* bad :
       {"redis://:s3cret@store:x", "redis://:s3cret@store/x", "redis://:s3c@ret@store:0",
        "redis://s3cret@store", "redis://:s3cret%zz@store", "mysql://root:s3cret@store"}) {
    Result<Settings> refused = Load("", {}, {"--hub.state", bad});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().message.find("s3c"), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("<redacted>@store"), std::string::npos)
        << refused.error().message;
  }
  Result<Settings> listed = Load("hub:\n  state: [\"redis://:s3cret@h\"]\n");
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().message.find("s3cret"), std::string::npos) << listed.error().message;
}

TEST(HubStateTest, NeitherKeyCanBeChangedAtRunTime) {
  for (const json& patch :
       {json{{"hub", {{"state", "redis://h"}}}}, json{{"hub", {{"peer-timeout", "5s"}}}}}) {
    Result<Settings> next = ApplyAdminPatch(*Load(""), patch);
    ASSERT_FALSE(next.ok()) << patch.dump();
    EXPECT_NE(next.error().message.find("cannot be changed at run time"), std::string::npos)
        << next.error().message;
  }
}

TEST(PeerTimeoutTest, DefaultsToTenSecondsAndRefusesZeroAndNegative) {
  EXPECT_EQ(Load("")->hub.peer_timeout, 10s);
  EXPECT_EQ(Load("", {"GRIDHUB_HUB_PEER_TIMEOUT=2500ms"})->hub.peer_timeout, 2500ms);
  Result<Settings> zero = Load("hub:\n  peer-timeout: 0s\n");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find(R"(hub.peer-timeout = "0s": must be more than 0)"),
            std::string::npos)
      << zero.error().message;
  Result<Settings> negative = Load("", {}, {"--hub.peer-timeout", "-1s"});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("negative duration"), std::string::npos)
      << negative.error().message;
}

TEST(LoadSettingsTest, LogDefaultsToInfoText) {
  Settings s = *Load("", {}, {});
  EXPECT_EQ(s.log.format, log::Format::kText);
  EXPECT_EQ(s.log.level, log::Level::kInfo);
  Settings json_debug = *Load("log:\n  format: json\n", {"GRIDHUB_LOG_LEVEL=debug"}, {});
  EXPECT_EQ(json_debug.log.format, log::Format::kJson);
  EXPECT_EQ(json_debug.log.level, log::Level::kDebug);
  EXPECT_EQ(Load("", {}, {"--log.level", "error"})->log.level, log::Level::kError);
}

TEST(LoadSettingsTest, MissingFileIsAnError) {
  LoadOptions options{.file = "/nonexistent/gridhub.yaml", .environ = Env().get()};
  Result<Settings> s = LoadSettings(options);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("/nonexistent/gridhub.yaml"), std::string::npos);
}

TEST(ApplyAdminPatchTest, AppliesQueueMatchingAndSlotSelection) {
  Settings current = *Load("");
  json patch = {{"queue",
                 {{"max-per-label", 7},
                  {"concurrency-caps", {{"Chrome", 2}}},
                  {"timeout", "45s"},
                  {"reject-unsatisfiable", false}}},
                {"matching", {{"wildcards", true}}},
                {"hub", {{"slot-selection", "pack"}}}};
  Result<Settings> next = ApplyAdminPatch(current, patch);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->queue.max_per_label, 7u);
  EXPECT_EQ(next->queue.concurrency_caps, (std::map<std::string, int>{{"chrome", 2}}));
  EXPECT_EQ(next->queue.timeout, 45s);
  EXPECT_FALSE(next->queue.reject_unsatisfiable);
  EXPECT_TRUE(next->matching.wildcards);
  EXPECT_EQ(next->hub.slot_selection, SlotSelection::kPack);
  // Untouched keys keep their values.
  EXPECT_EQ(next->queue.max_per_run, 5u);
}

TEST(ApplyAdminPatchTest, AdminPatchOfCarriesEveryRuntimeKeyAndNothingElse) {
  Settings changed = *Load("");
  changed.queue.max_per_label = 9;
  changed.queue.max_per_run = 2;
  changed.queue.concurrency_caps = {{"chrome", 3}};
  changed.queue.timeout = 45s;
  changed.matching.wildcards = true;
  changed.hub.slot_selection = SlotSelection::kPack;
  changed.hub.admin_token = "not-shared";
  json patch = AdminPatchOf(changed);
  // Applied to a hub running the defaults, it gives that hub the same runtime settings.
  Result<Settings> next = ApplyAdminPatch(*Load(""), patch);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->queue.max_per_label, 9u);
  EXPECT_EQ(next->queue.max_per_run, 2u);
  EXPECT_EQ(next->queue.concurrency_caps, (std::map<std::string, int>{{"chrome", 3}}));
  EXPECT_EQ(next->queue.timeout, 45s);
  EXPECT_TRUE(next->matching.wildcards);
  EXPECT_EQ(next->hub.slot_selection, SlotSelection::kPack);
  // Tokens and restart-only keys are never in it.
  EXPECT_TRUE(next->hub.admin_token.empty());
  EXPECT_FALSE(patch.dump().find("not-shared") != std::string::npos);
  EXPECT_FALSE(patch.contains("server"));
}

TEST(ApplyAdminPatchTest, RefusesTheWholePatchNamingTheKey) {
  struct Case {
    json patch;
    std::vector<std::string> want;
  };
  std::vector<Case> cases = {
      {{{"queue", {{"max-per-label", 7}, {"timeout", "-1s"}}}}, {"queue.timeout", "negative"}},
      {{{"queue", {{"max-per-label", "x"}}}}, {"queue.max-per-label", "not an integer"}},
      {{{"queue", {{"max-per-label", true}}}}, {"queue.max-per-label"}},
      {{{"queue", {{"max-per-label", 2}}}, {"matching", {{"wildcards", "sometimes"}}}},
       {"matching.wildcards", "sometimes"}},
      {{{"queue", {{"concurrency-caps", {{"a b", 1}}}}}}, {"queue.concurrency-caps[a b]"}},
      {{{"queue", {{"bogus", 1}}}}, {"queue.bogus", "unknown key"}},
      {{{"hub", {{"admin-token", "x"}}}}, {"hub.admin-token", "cannot be changed at run time"}},
      {{{"server", {{"port", 1}}}}, {"server.port", "cannot be changed"}},
      {{{"nosuch", {{"a", 1}}}}, {"nosuch.a", "unknown key"}},
      {{{"queue", 5}}, {"queue", "wrong type"}},
      {json::array(), {"wrong type"}},
  };
  Settings current = *Load("");
  for (const Case& c : cases) {
    Result<Settings> next = ApplyAdminPatch(current, c.patch);
    ASSERT_FALSE(next.ok()) << c.patch.dump();
    EXPECT_EQ(next.error().code, ErrorCode::kInvalidArgument);
    for (const std::string& part : c.want) {
      EXPECT_NE(next.error().message.find(part), std::string::npos)
          << c.patch.dump() << ": " << next.error().message;
    }
  }
}

TEST(ToJsonTest, RedactsSecretsOnlyWhenAsked) {
  Settings s = *Load("hub:\n  admin-token: abc\n");
  json shown = ToJson(s, Tokens::kShow);
  json redacted = ToJson(s, true);
  EXPECT_EQ(shown["hub"]["admin-token"], "abc");
  EXPECT_EQ(redacted["hub"]["admin-token"], "<redacted>");
  EXPECT_EQ(redacted["hub"]["client-token"], "");  // unset stays visibly unset
  EXPECT_EQ(redacted["queue"]["timeout"], "300s");
  EXPECT_EQ(redacted.dump().find("abc"), std::string::npos);
}

TEST(ToJsonTest, OutputLoadsBackToTheSameSettings) {
  Settings s = *Load(R"(
queue: {timeout: 42s, concurrency-caps: {a: 1}}
node:
  slots: [{label: x, relay: "http://r:1", stereotype: {browserName: chrome}}]
)");
  Result<Settings> again =
      ApplyAdminPatch(*Load(""), {{"queue", ToJson(s, Tokens::kShow)["queue"]}});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->queue.timeout, 42s);
  EXPECT_EQ(again->queue.concurrency_caps, s.queue.concurrency_caps);
}

TEST(DescribeTest, PrintsEveryKeyWithItsSource) {
  Settings s =
      *Load("queue:\n  timeout: 42s\n", {"GRIDHUB_SERVER_PORT=1"}, {"--matching.wildcards=on"});
  std::string text = Describe(s);
  EXPECT_NE(text.find("queue.timeout = \"42s\""), std::string::npos) << text;
  EXPECT_NE(text.find("(file)"), std::string::npos);
  EXPECT_NE(text.find("server.port = 1"), std::string::npos);
  EXPECT_NE(text.find("(env)"), std::string::npos);
  EXPECT_NE(text.find("(flag)"), std::string::npos);
  EXPECT_NE(text.find("queue.retry-limit = 3"), std::string::npos);
}

TEST(FlagsHelpTest, ListsEveryFlagEnvAndAlias) {
  std::string help = FlagsHelp(Mode::kNode);
  for (const KeyCase& c : EveryKey()) {
    EXPECT_NE(help.find("--" + c.key + " "), std::string::npos) << c.key;
    EXPECT_NE(help.find(EnvName(c.key)), std::string::npos) << c.key;
  }
  EXPECT_NE(help.find("HUB_BORROW_CONCURRENCY_CAPS"), std::string::npos);
  EXPECT_NE(help.find("default 5555"), std::string::npos);
}

TEST(CommandLineTest, SplitsConfigHelpAndFlags) {
  const char* argv[] = {"--config", "hub.yaml", "--port", "0", "-h"};
  CommandLine line = SplitCommandLine(5, argv);
  EXPECT_EQ(line.config_file, "hub.yaml");
  EXPECT_EQ(line.flags, (std::vector<std::string>{"--port", "0"}));
  EXPECT_TRUE(line.help);
  const char* argv2[] = {"--config=x.yaml"};
  EXPECT_EQ(SplitCommandLine(1, argv2).config_file, "x.yaml");
}

TEST(EffectiveThreadsTest, NeverFewerThanTwo) {
  EXPECT_GE(EffectiveThreads(ServerSettings{}), 2);
  EXPECT_EQ(EffectiveThreads(ServerSettings{.threads = 1}), 2);
  EXPECT_EQ(EffectiveThreads(ServerSettings{.threads = 8}), 8);
}

}  // namespace
}  // namespace gridhub::config
