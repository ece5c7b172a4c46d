#include "matching/capabilities.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gridhub::matching {
namespace {

using nlohmann::json;

json Parse(const std::string& text) {
  json body = json::parse(text, nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << text;
  return body;
}

json Always(const json& caps) { return json{{"capabilities", {{"alwaysMatch", caps}}}}; }

struct InvalidCase {
  std::string name;
  std::string body;
  std::string message_part;  // the offending key, as the message must name it
};

TEST(ProcessNewSessionTest, RejectsInvalidInputNamingTheKey) {
  const std::vector<InvalidCase> cases = {
      {"empty body", "{}", "capabilities"},
      {"legacy only", R"({"desiredCapabilities": {"browserName": "chrome"}})",
       "desiredCapabilities"},
      {"body not object", "[]", "capabilities"},
      {"capabilities null", R"({"capabilities": null})", "capabilities"},
      {"capabilities array", R"({"capabilities": []})", "capabilities must be a JSON object"},
      {"alwaysMatch array", R"({"capabilities": {"alwaysMatch": []}})",
       "capabilities.alwaysMatch must be a JSON object"},
      {"firstMatch object", R"({"capabilities": {"firstMatch": {}}})",
       "capabilities.firstMatch must be a JSON array"},
      {"firstMatch empty", R"({"capabilities": {"firstMatch": []}})", "capabilities.firstMatch"},
      {"firstMatch entry", R"({"capabilities": {"firstMatch": [{}, 3]}})",
       "capabilities.firstMatch[1] must be a JSON object"},
      {"browserName", R"({"capabilities": {"alwaysMatch": {"browserName": 1}}})",
       "capabilities.alwaysMatch.browserName must be a string"},
      {"browserVersion", R"({"capabilities": {"alwaysMatch": {"browserVersion": 120}}})",
       "browserVersion must be a string"},
      {"platformName", R"({"capabilities": {"firstMatch": [{"platformName": true}]}})",
       "capabilities.firstMatch[0].platformName must be a string"},
      {"acceptInsecureCerts",
       R"({"capabilities": {"alwaysMatch": {"acceptInsecureCerts": "yes"}}})",
       "acceptInsecureCerts must be a boolean"},
      {"setWindowRect", R"({"capabilities": {"alwaysMatch": {"setWindowRect": 1}}})",
       "setWindowRect must be a boolean"},
      {"strictFileInteractability",
       R"({"capabilities": {"alwaysMatch": {"strictFileInteractability": "true"}}})",
       "strictFileInteractability must be a boolean"},
      {"webSocketUrl", R"({"capabilities": {"alwaysMatch": {"webSocketUrl": {}}}})",
       "webSocketUrl must be a boolean"},
      {"pageLoadStrategy value",
       R"({"capabilities": {"alwaysMatch": {"pageLoadStrategy": "fast"}}})", "pageLoadStrategy"},
      {"pageLoadStrategy type", R"({"capabilities": {"alwaysMatch": {"pageLoadStrategy": 1}}})",
       "pageLoadStrategy"},
      {"proxy", R"({"capabilities": {"alwaysMatch": {"proxy": "direct"}}})",
       "proxy must be a JSON object"},
      {"timeouts type", R"({"capabilities": {"alwaysMatch": {"timeouts": 30}}})",
       "timeouts must be a JSON object"},
      {"timeouts value", R"({"capabilities": {"alwaysMatch": {"timeouts": {"implicit": -1}}}})",
       "timeouts.implicit"},
      {"timeouts string", R"({"capabilities": {"alwaysMatch": {"timeouts": {"pageLoad": "1"}}}})",
       "timeouts.pageLoad"},
      {"unhandledPromptBehavior",
       R"({"capabilities": {"alwaysMatch": {"unhandledPromptBehavior": false}}})",
       "unhandledPromptBehavior must be a string"},
      {"unknown non-extension key", R"({"capabilities": {"alwaysMatch": {"chromeOptions": {}}}})",
       "capabilities.alwaysMatch.chromeOptions"},
      {"legacy key in firstMatch", R"({"capabilities": {"firstMatch": [{}, {"version": "1"}]}})",
       "capabilities.firstMatch[1].version"},
      {"repeated key",
       R"({"capabilities": {"alwaysMatch": {"browserName": "chrome"},
                            "firstMatch": [{"browserName": "firefox"}]}})",
       "capabilities.firstMatch[0].browserName repeats an alwaysMatch key"},
      {"label type", R"({"capabilities": {"alwaysMatch": {"gridhub:label": 3}}})",
       "gridhub:label must be a string"},
      {"label syntax", R"({"capabilities": {"alwaysMatch": {"gridhub:label": "App A"}}})",
       "gridhub:label"},
      {"label depth",
       R"({"capabilities": {"alwaysMatch": {"gridhub:label": "a:b:c:d:e:f:g:h:i"}}})",
       "gridhub:label"},
      {"runId", R"({"capabilities": {"alwaysMatch": {"gridhub:runId": 42}}})",
       "gridhub:runId must be a string"},
      {"noWait", R"({"capabilities": {"alwaysMatch": {"gridhub:noWait": "true"}}})",
       "gridhub:noWait must be a boolean"},
  };
  for (const InvalidCase& c : cases) {
    Result<NewSessionSpec> spec = ProcessNewSession(Parse(c.body));
    ASSERT_FALSE(spec.ok()) << c.name;
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(spec.error().message.find(c.message_part), std::string::npos)
        << c.name << ": " << spec.error().message;
  }
}

struct ValidCase {
  std::string name;
  std::string body;
  size_t candidates;
};

// The passing twin of each validation rule, with what Selenium clients really send.
TEST(ProcessNewSessionTest, AcceptsValidInput) {
  const std::vector<ValidCase> cases = {
      {"no alwaysMatch, no firstMatch", R"({"capabilities": {}})", 1},
      {"nulls as absent", R"({"capabilities": {"alwaysMatch": null, "firstMatch": null}})", 1},
      {"legacy next to W3C",
       R"({"desiredCapabilities": {"browserName": "chrome"},
           "capabilities": {"firstMatch": [{"browserName": "chrome"}]}})",
       1},
      {"chrome",
       R"({"capabilities": {"alwaysMatch": {"browserName": "chrome", "browserVersion": "156",
           "platformName": "linux", "acceptInsecureCerts": true, "setWindowRect": false,
           "strictFileInteractability": true, "webSocketUrl": true, "pageLoadStrategy": "eager",
           "unhandledPromptBehavior": "dismiss", "proxy": {"proxyType": "direct"},
           "timeouts": {"implicit": 0, "pageLoad": 300000, "script": null},
           "goog:chromeOptions": {"args": ["--headless=new"]}}}})",
       1},
      {"firefox",
       R"({"capabilities": {"firstMatch": [{"browserName": "firefox", "pageLoadStrategy": "none",
           "moz:firefoxOptions": {"prefs": {"dom.ipc.processCount": 8}, "args": ["-headless"]}}]}})",
       1},
      {"page load normal", R"({"capabilities": {"alwaysMatch": {"pageLoadStrategy": "normal"}}})",
       1},
      {"appium",
       R"({"capabilities": {"alwaysMatch": {"platformName": "Android",
           "appium:automationName": "UiAutomator2", "appium:deviceName": "Pixel 7",
           "appium:options": {"app": "/tmp/app.apk"}}}})",
       1},
      {"gridhub keys",
       R"({"capabilities": {"alwaysMatch": {"gridhub:label": "AppA:Chromium:UAT",
           "gridhub:runId": "run-1", "gridhub:noWait": true, "gridhub:future": [1]}}})",
       1},
      {"null in firstMatch does not repeat",
       R"({"capabilities": {"alwaysMatch": {"browserName": "chrome"},
           "firstMatch": [{"browserName": null}]}})",
       1},
      {"three firstMatch",
       R"({"capabilities": {"firstMatch": [{"browserName": "chrome"}, {"browserName": "firefox"},
           {}]}})",
       3},
  };
  for (const ValidCase& c : cases) {
    Result<NewSessionSpec> spec = ProcessNewSession(Parse(c.body));
    ASSERT_TRUE(spec.ok()) << c.name << ": " << spec.error().message;
    EXPECT_EQ(spec->candidates.size(), c.candidates) << c.name;
  }
}

// The example of the W3C spec's "merging capabilities" and "process capabilities" sections.
TEST(ProcessNewSessionTest, MergesAlwaysMatchIntoEachFirstMatchInOrder) {
  Result<NewSessionSpec> spec = ProcessNewSession(Parse(R"({"capabilities": {
      "alwaysMatch": {"acceptInsecureCerts": true, "platformName": "linux"},
      "firstMatch": [{"browserName": "firefox", "moz:firefoxOptions": {"args": ["-headless"]}},
                     {"browserName": "chrome", "goog:chromeOptions": {"args": ["--headless"]}}]}})"));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  ASSERT_EQ(spec->candidates.size(), 2u);
  EXPECT_EQ(spec->candidates[0].json(), Parse(R"({"acceptInsecureCerts": true,
      "platformName": "linux", "browserName": "firefox",
      "moz:firefoxOptions": {"args": ["-headless"]}})"));
  EXPECT_EQ(spec->candidates[1].json(), Parse(R"({"acceptInsecureCerts": true,
      "platformName": "linux", "browserName": "chrome",
      "goog:chromeOptions": {"args": ["--headless"]}})"));
}

TEST(ProcessNewSessionTest, DropsNullValues) {
  Result<NewSessionSpec> spec = ProcessNewSession(Parse(R"({"capabilities": {
      "alwaysMatch": {"browserName": "chrome", "browserVersion": null},
      "firstMatch": [{"platformName": null, "se:recordVideo": null}]}})"));
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->candidates[0].json(), Parse(R"({"browserName": "chrome"})"));
}

TEST(ProcessNewSessionTest, AlwaysMatchAloneIsOneCandidate) {
  Result<NewSessionSpec> spec = ProcessNewSession(Always({{"browserName", "firefox"}}));
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(spec->candidates.size(), 1u);
  EXPECT_EQ(spec->candidates[0].json(), json({{"browserName", "firefox"}}));
  EXPECT_EQ(spec->candidates[0].digest().browser_name, "firefox");
}

struct LabelCase {
  std::string name;
  std::string body;
  std::string label;
  bool explicit_label;
};

TEST(ProcessNewSessionTest, DerivesLabelFromFirstCandidate) {
  const std::vector<LabelCase> cases = {
      {"explicit", R"({"capabilities": {"alwaysMatch": {"gridhub:label": " AppA:Chromium::UAT",
          "browserName": "chrome"}}})",
       "appa:chromium:uat", true},
      {"browserName", R"({"capabilities": {"alwaysMatch": {"browserName": "Chrome"}}})", "chrome",
       false},
      {"edge", R"({"capabilities": {"alwaysMatch": {"browserName": "MicrosoftEdge"}}})",
       "microsoftedge", false},
      {"nothing", R"({"capabilities": {"alwaysMatch": {"platformName": "linux"}}})", "any", false},
      {"empty browserName", R"({"capabilities": {"alwaysMatch": {"browserName": ""}}})", "any",
       false},
      {"first candidate wins", R"({"capabilities": {"firstMatch": [{"browserName": "firefox"},
          {"browserName": "chrome"}]}})",
       "firefox", false},
      {"label in firstMatch", R"({"capabilities": {"firstMatch": [{"gridhub:label": "AppB"},
          {"gridhub:label": "AppC"}]}})",
       "appb", true},
  };
  for (const LabelCase& c : cases) {
    Result<NewSessionSpec> spec = ProcessNewSession(Parse(c.body));
    ASSERT_TRUE(spec.ok()) << c.name << ": " << spec.error().message;
    EXPECT_EQ(spec->label.str(), c.label) << c.name;
    EXPECT_EQ(spec->explicit_label, c.explicit_label) << c.name;
  }
}

TEST(ProcessNewSessionTest, ReadsRunIdAndNoWait) {
  Result<NewSessionSpec> spec = ProcessNewSession(
      Always({{"browserName", "chrome"}, {"gridhub:runId", "build-77"}, {"gridhub:noWait", true}}));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->run_id, "build-77");
  EXPECT_TRUE(spec->no_wait);

  Result<NewSessionSpec> plain = ProcessNewSession(Always({{"browserName", "chrome"}}));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->run_id, "");
  EXPECT_FALSE(plain->no_wait);
}

TEST(ProcessNewSessionTest, BoundsHostileBodies) {
  json deep = json::array();
  for (size_t i = 0; i < kMaxCapabilityDepth + 1; ++i) deep = json::array({deep});
  Result<NewSessionSpec> nested = ProcessNewSession(Always({{"myco:deep", deep}}));
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message.find("capabilities.alwaysMatch.myco:deep nests deeper"),
            std::string::npos)
      << nested.error().message;

  json shallow = json::array();
  for (size_t i = 0; i < kMaxCapabilityDepth - 1; ++i) shallow = json::array({shallow});
  EXPECT_TRUE(ProcessNewSession(Always({{"myco:deep", shallow}})).ok());

  json many = {{"capabilities", {{"firstMatch", json::array()}}}};
  for (size_t i = 0; i <= kMaxFirstMatch; ++i) many["capabilities"]["firstMatch"].push_back({});
  Result<NewSessionSpec> too_many = ProcessNewSession(many);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("capabilities.firstMatch has more than"),
            std::string::npos);
  many["capabilities"]["firstMatch"].erase(0);
  EXPECT_TRUE(ProcessNewSession(many).ok());

  std::string big(kMaxMergedBytes / kMaxFirstMatch, 'x');
  many["capabilities"]["alwaysMatch"] = {{"myco:blob", big}};
  Result<NewSessionSpec> too_big = ProcessNewSession(many);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.error().message.find("capabilities.alwaysMatch repeated into 64"),
            std::string::npos)
      << too_big.error().message;
}

// Nests `depth` arrays in place at *slot, so that the test never copies (nlohmann's copy
// constructor recurses) or builds the value recursively; its destructor is iterative (3.10+).
void NestArrays(json* slot, size_t depth) {
  *slot = json::array();
  for (size_t i = 1; i < depth; ++i) {
    slot->push_back(json::array());
    slot = &slot->back();
  }
}

TEST(NestsDeeperThanTest, CountsLevelsOfArraysAndObjects) {
  EXPECT_FALSE(NestsDeeperThan(json(5), 0));
  EXPECT_TRUE(NestsDeeperThan(json::array(), 0));
  EXPECT_FALSE(NestsDeeperThan(json::array(), 1));
  EXPECT_TRUE(NestsDeeperThan(Parse(R"([1, {"a": [2]}])"), 2));
  EXPECT_FALSE(NestsDeeperThan(Parse(R"([1, {"a": [2]}])"), 3));
  // The deep branch is not the first one: every sibling is looked at.
  EXPECT_TRUE(NestsDeeperThan(Parse(R"({"a": 1, "b": [], "c": {"d": {"e": []}}})"), 3));
}

TEST(NestsDeeperThanTest, SafeOnAMillionLevels) {
  json deep;
  NestArrays(&deep, 1'000'000);
  EXPECT_TRUE(NestsDeeperThan(deep, kMaxCapabilityDepth));
  EXPECT_FALSE(NestsDeeperThan(deep, 1'000'000));
}

TEST(ProcessNewSessionTest, RejectsAMillionLevelsWithoutRecursing) {
  json body;
  NestArrays(&body["capabilities"]["alwaysMatch"]["myco:deep"], 1'000'000);
  Result<NewSessionSpec> spec = ProcessNewSession(body);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("capabilities.alwaysMatch.myco:deep nests deeper"),
            std::string::npos)
      << spec.error().message;

  json first;
  first["capabilities"]["firstMatch"] = json::array({json::object()});
  NestArrays(&first["capabilities"]["firstMatch"][0]["myco:deep"], 1'000'000);
  spec = ProcessNewSession(first);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("capabilities.firstMatch[0].myco:deep nests deeper"),
            std::string::npos)
      << spec.error().message;
}

TEST(ValidateCapabilitiesTest, NamesTheGivenLocation) {
  Result<json> caps = ValidateCapabilities(json{{"browserName", 5}}, "stereotype");
  ASSERT_FALSE(caps.ok());
  EXPECT_EQ(caps.error().message, "stereotype.browserName must be a string");
}

}  // namespace
}  // namespace gridhub::matching
