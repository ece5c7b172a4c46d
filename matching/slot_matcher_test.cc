#include "matching/slot_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "matching/capabilities.h"
#include "matching/stereotype.h"

namespace gridhub::matching {
namespace {

using nlohmann::json;

json Parse(const std::string& text) {
  json value = json::parse(text, nullptr, false);
  EXPECT_FALSE(value.is_discarded()) << text;
  return value;
}

Stereotype Slot(const std::string& caps, const std::string& label = "") {
  Result<Stereotype> slot = Stereotype::Parse(Parse(caps), label);
  EXPECT_TRUE(slot.ok()) << caps << ": " << (slot.ok() ? "" : slot.error().message);
  return std::move(*slot);
}

NewSessionSpec Request(const std::string& body) {
  Result<NewSessionSpec> spec = ProcessNewSession(Parse(body));
  EXPECT_TRUE(spec.ok()) << body << ": " << (spec.ok() ? "" : spec.error().message);
  return std::move(*spec);
}

NewSessionSpec RequestAlways(const std::string& always) {
  return Request(R"({"capabilities": {"alwaysMatch": )" + always + "}}");
}

struct RuleCase {
  std::string rule;
  std::string request;  // alwaysMatch
  std::string stereotype;
  bool matches;
};

TEST(SlotMatcherTest, AppliesSeleniumRules) {
  const std::string chrome =
      R"({"browserName": "chrome", "browserVersion": "156.0.8078.79", "platformName": "linux"})";
  const std::vector<RuleCase> cases = {
      // browserName: absent, empty, or equal case-insensitively.
      {"name absent", R"({})", chrome, true},
      {"name empty", R"({"browserName": ""})", chrome, true},
      {"name equal", R"({"browserName": "chrome"})", chrome, true},
      {"name case", R"({"browserName": "CHROME"})", chrome, true},
      {"name differs", R"({"browserName": "firefox"})", chrome, false},
      {"name not offered", R"({"browserName": "chrome"})", R"({"platformName": "linux"})", false},
      // browserVersion: absent, empty, stable, latest, or a component prefix.
      {"version empty", R"({"browserVersion": ""})", chrome, true},
      {"version stable", R"({"browserVersion": "stable"})", chrome, true},
      {"version latest", R"({"browserVersion": "LATEST"})", chrome, true},
      {"version major", R"({"browserVersion": "156"})", chrome, true},
      {"version major.minor", R"({"browserVersion": "156.0"})", chrome, true},
      {"version full", R"({"browserVersion": "156.0.8078.79"})", chrome, true},
      {"version leading zero", R"({"browserVersion": "156.0.08078"})", chrome, true},
      {"version other major", R"({"browserVersion": "120"})", chrome, false},
      {"version digit prefix", R"({"browserVersion": "15"})", chrome, false},
      {"version longer", R"({"browserVersion": "156.0.8078.79.1"})", chrome, false},
      {"version third differs", R"({"browserVersion": "156.0.1"})",
       R"({"browserVersion": "156.0.2"})", false},
      {"version not offered", R"({"browserVersion": "156"})", R"({"browserName": "chrome"})",
       false},
      // platformName: absent or any, equal case-insensitively, or the requested family.
      {"platform any", R"({"platformName": "ANY"})", chrome, true},
      {"platform equal", R"({"platformName": "LINUX"})", chrome, true},
      {"platform differs", R"({"platformName": "windows"})", chrome, false},
      {"platform not offered", R"({"platformName": "linux"})", R"({"browserName": "chrome"})",
       false},
      {"windows family", R"({"platformName": "windows"})", R"({"platformName": "Windows 11"})",
       true},
      {"win family", R"({"platformName": "WIN"})", R"({"platformName": "Windows 10"})", true},
      {"not the other way", R"({"platformName": "Windows 11"})", R"({"platformName": "windows"})",
       false},
      {"specific windows differs", R"({"platformName": "Windows 10"})",
       R"({"platformName": "Windows 11"})", false},
      {"mac family", R"({"platformName": "mac"})", R"({"platformName": "macOS 14"})", true},
      {"mac family by name", R"({"platformName": "mac"})", R"({"platformName": "Sonoma"})", true},
      {"mac not the other way", R"({"platformName": "macOS 14"})", R"({"platformName": "mac"})",
       false},
      {"mac is not windows", R"({"platformName": "mac"})", R"({"platformName": "Windows 11"})",
       false},
      {"unix fits linux", R"({"platformName": "unix"})", R"({"platformName": "linux"})", true},
      {"android", R"({"platformName": "android"})", R"({"platformName": "Android"})", true},
      // Other keys present in both must be equal; strings case-insensitively.
      {"appium equal", R"({"appium:deviceName": "Pixel 7"})", R"({"appium:deviceName": "pixel 7"})",
       true},
      {"appium differs", R"({"appium:deviceName": "Pixel 7"})",
       R"({"appium:deviceName": "Pixel 8"})", false},
      {"appium number", R"({"appium:newCommandTimeout": 60})",
       R"({"appium:newCommandTimeout": 60.0})", true},
      {"appium number differs", R"({"appium:newCommandTimeout": 60})",
       R"({"appium:newCommandTimeout": 120})", false},
      {"only in request", R"({"appium:udid": "emulator-5554"})", chrome, true},
      {"only in stereotype", R"({})", R"({"appium:udid": "emulator-5554"})", true},
      {"standard bool differs", R"({"acceptInsecureCerts": true})",
       R"({"acceptInsecureCerts": false})", false},
      {"standard bool equal", R"({"acceptInsecureCerts": true})",
       R"({"acceptInsecureCerts": true})", true},
      {"bool is not number", R"({"myco:flag": true})", R"({"myco:flag": 1})", false},
      {"object equal", R"({"myco:env": {"a": 1, "b": [1, 2]}})",
       R"({"myco:env": {"b": [1, 2], "a": 1}})", true},
      {"object differs", R"({"myco:env": {"a": 1}})", R"({"myco:env": {"a": 2}})", false},
      {"request-only pass-through", R"({"pageLoadStrategy": "eager", "timeouts": {"script": 1}})",
       chrome, true},
      // Vendor keys are never compared.
      {"goog options", R"({"goog:chromeOptions": {"args": ["--headless"]}})",
       R"({"goog:chromeOptions": {"binary": "/usr/bin/chromium"}})", true},
      {"moz options", R"({"moz:firefoxOptions": {"prefs": {"a": 1}}})",
       R"({"moz:firefoxOptions": {"prefs": {"a": 2}}})", true},
      {"moz other", R"({"moz:debuggerAddress": true})", R"({"moz:debuggerAddress": false})", true},
      {"ms options", R"({"ms:edgeOptions": {}})", R"({"ms:edgeOptions": {"args": []}})", true},
      {"safari", R"({"safari:automaticInspection": true})",
       R"({"safari:automaticInspection": false})", true},
      {"se", R"({"se:recordVideo": true})", R"({"se:recordVideo": false})", true},
      {"appium options", R"({"appium:options": {"app": "a.apk"}})",
       R"({"appium:options": {"app": "b.apk"}})", true},
      {"any options", R"({"myco:browserOptions": 1})", R"({"myco:browserOptions": 2})", true},
      {"Options case", R"({"myco:DeviceOPTIONS": 1})", R"({"myco:DeviceOPTIONS": 2})", true},
      // gridhub keys follow label rules, not equality.
      {"gridhub label", R"({"gridhub:label": "AppA"})", R"({"gridhub:label": "AppB"})", true},
  };
  SlotMatcher matcher(LabelMatchOptions{});
  for (const RuleCase& c : cases) {
    NewSessionSpec request = RequestAlways(c.request);
    Stereotype slot = Slot(c.stereotype);
    EXPECT_EQ(matcher.Match(request, nullptr, slot).has_value(), c.matches) << c.rule;
    EXPECT_EQ(CandidateFits(request.candidates[0].digest(), slot.digest()), c.matches) << c.rule;
  }
}

TEST(SlotMatcherTest, ManagedDownloadsNeedASlotOfferingThem) {
  const std::string plain = R"({"browserName": "chrome"})";
  const std::string downloads = R"({"browserName": "chrome", "se:downloadsEnabled": true})";
  const std::vector<RuleCase> cases = {
      {"asked, offered", R"({"se:downloadsEnabled": true})", downloads, true},
      {"asked, not offered", R"({"se:downloadsEnabled": true})", plain, false},
      {"asked as text", R"({"se:downloadsEnabled": "TRUE"})", plain, false},
      {"asked as text, offered", R"({"se:downloadsEnabled": "true"})", downloads, true},
      {"not asked, offered", R"({"browserName": "chrome"})", downloads, true},
      {"asked false, offered", R"({"se:downloadsEnabled": false})", downloads, true},
      {"asked false, not offered", R"({"se:downloadsEnabled": false})", plain, true},
      {"offered false", R"({"se:downloadsEnabled": true})",
       R"({"browserName": "chrome", "se:downloadsEnabled": false})", false},
      {"other se: keys still ignored", R"({"se:recordVideo": true})", downloads, true},
  };
  SlotMatcher matcher(LabelMatchOptions{});
  for (const RuleCase& c : cases) {
    Stereotype slot = Slot(c.stereotype);
    EXPECT_EQ(matcher.Match(RequestAlways(c.request), nullptr, slot).has_value(), c.matches)
        << c.rule;
  }
}

TEST(SlotMatcherTest, ReturnsFirstCandidateTheSlotServes) {
  NewSessionSpec request = Request(R"({"capabilities": {"alwaysMatch": {"platformName": "linux"},
      "firstMatch": [{"browserName": "safari"}, {"browserName": "firefox"},
                     {"browserName": "chrome"}, {}]}})");
  SlotMatcher matcher(LabelMatchOptions{});
  EXPECT_EQ(matcher.Match(request, nullptr, Slot(R"({"browserName": "chrome",
      "platformName": "linux"})")),
            std::optional<size_t>(2));
  EXPECT_EQ(matcher.Match(request, nullptr, Slot(R"({"browserName": "firefox",
      "platformName": "linux"})")),
            std::optional<size_t>(1));
  EXPECT_EQ(matcher.Match(request, nullptr, Slot(R"({"browserName": "edge",
      "platformName": "linux"})")),
            std::optional<size_t>(3));
  EXPECT_EQ(matcher.Match(request, nullptr, Slot(R"({"browserName": "edge",
      "platformName": "windows"})")),
            std::nullopt);
}

TEST(SlotMatcherTest, RestrictionFollowsLabelRules) {
  NewSessionSpec request = RequestAlways(R"({"browserName": "chrome",
      "gridhub:label": "AppA:Chromium"})");
  Stereotype uat = Slot(R"({"browserName": "chrome"})", "AppA:Chromium:UAT");
  Stereotype other = Slot(R"({"browserName": "chrome"})", "AppB:Chromium");
  LabelKey label = request.label;

  SlotMatcher prefix(LabelMatchOptions{});
  EXPECT_EQ(prefix.Match(request, &label, uat), std::optional<size_t>(0));
  EXPECT_EQ(prefix.Match(request, &label, other), std::nullopt);
  EXPECT_EQ(prefix.Match(request, nullptr, other), std::optional<size_t>(0));

  SlotMatcher exact(LabelMatchOptions{.prefix_expand = false});
  EXPECT_EQ(exact.Match(request, &label, uat), std::nullopt);
}

TEST(StereotypeTest, LabelComesFromArgumentThenCapabilityThenBrowserName) {
  EXPECT_EQ(Slot(R"({"browserName": "chrome", "gridhub:label": "X"})", "AppA:UAT").label().str(),
            "appa:uat");
  EXPECT_EQ(Slot(R"({"browserName": "chrome", "gridhub:label": "X:Y"})").label().str(), "x:y");
  EXPECT_EQ(Slot(R"({"browserName": "Firefox"})").label().str(), "firefox");
  EXPECT_EQ(Slot(R"({"platformName": "linux"})").label().str(), "any");
}

TEST(StereotypeTest, RejectsBadStereotypesNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([])", "stereotype must be a JSON object"},
      {R"({"browserName": 1})", "stereotype.browserName must be a string"},
      {R"({"browserVersion": 156})", "stereotype.browserVersion must be a string"},
      {R"({"platformName": {}})", "stereotype.platformName must be a string"},
      {R"({"gridhub:label": 1})", "stereotype.gridhub:label must be a string"},
      {R"({"gridhub:label": "a b"})", "stereotype.gridhub:label"},
      {R"({"myco:deep": )" + std::string(40, '[') + std::string(40, ']') + "}",
       "stereotype nests deeper than"},
  };
  for (const auto& [caps, message] : cases) {
    Result<Stereotype> slot = Stereotype::Parse(Parse(caps));
    ASSERT_FALSE(slot.ok()) << caps;
    EXPECT_EQ(slot.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(slot.error().message.find(message), std::string::npos) << slot.error().message;
  }
  Result<Stereotype> bad_label = Stereotype::Parse(Parse(R"({"browserName": "chrome"})"), "a/b");
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.error().message.find("'a/b'"), std::string::npos);
}

TEST(StereotypeTest, RejectsAMillionLevelsWithoutRecursing) {
  // Built in place: copying such a value (or building it recursively) would itself recurse.
  json caps = {{"browserName", "chrome"}};
  json* level = &caps["myco:deep"];
  *level = json::array();
  for (int i = 1; i < 1'000'000; ++i) {
    level->push_back(json::array());
    level = &level->back();
  }
  Result<Stereotype> slot = Stereotype::Parse(caps);
  ASSERT_FALSE(slot.ok());
  EXPECT_NE(slot.error().message.find("stereotype nests deeper than"), std::string::npos)
      << slot.error().message;
}

TEST(ResolveRestrictionTest, NoRestrictionWithoutExplicitLabel) {
  Stereotype slot = Slot(R"({"browserName": "chrome"})", "AppA");
  std::vector<const Stereotype*> slots = {&slot};
  SlotMatcher matcher(LabelMatchOptions{});
  EXPECT_EQ(matcher.ResolveRestriction(RequestAlways(R"({"browserName": "chrome"})"), slots),
            std::nullopt);
}

TEST(ResolveRestrictionTest, TrailingFallbackToTheFirstServableParent) {
  // The UAT-labelled slot runs Firefox, so it cannot serve a Chrome request: fall back.
  Stereotype firefox_uat = Slot(R"({"browserName": "firefox"})", "AppA:Chromium:UAT");
  Stereotype chromium = Slot(R"({"browserName": "chrome"})", "AppA:Chromium");
  Stereotype app = Slot(R"({"browserName": "chrome"})", "AppA");
  std::vector<const Stereotype*> slots = {&firefox_uat, &app, &chromium};
  NewSessionSpec request = RequestAlways(R"({"browserName": "chrome",
      "gridhub:label": "AppA:Chromium:UAT"})");

  SlotMatcher on(LabelMatchOptions{});
  std::optional<LabelKey> resolved = on.ResolveRestriction(request, slots);
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ(resolved->str(), "appa:chromium");
  EXPECT_TRUE(on.Match(request, &*resolved, chromium).has_value());
  EXPECT_FALSE(on.Match(request, &*resolved, app).has_value());
  EXPECT_TRUE(on.Satisfiable(request, slots));

  SlotMatcher off(LabelMatchOptions{.trailing_fallback = false});
  resolved = off.ResolveRestriction(request, slots);
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ(resolved->str(), "appa:chromium:uat");
  EXPECT_FALSE(off.Satisfiable(request, slots));
}

TEST(ResolveRestrictionTest, ExactLabelWinsOverFallback) {
  Stereotype uat = Slot(R"({"browserName": "chrome"})", "AppA:Chromium:UAT");
  Stereotype chromium = Slot(R"({"browserName": "chrome"})", "AppA:Chromium");
  std::vector<const Stereotype*> slots = {&chromium, &uat};
  NewSessionSpec request = RequestAlways(R"({"gridhub:label": "AppA:Chromium:UAT"})");
  SlotMatcher matcher(LabelMatchOptions{});
  EXPECT_EQ(matcher.ResolveRestriction(request, slots)->str(), "appa:chromium:uat");
}

TEST(ResolveRestrictionTest, WildcardsToggle) {
  Stereotype firefox = Slot(R"({"browserName": "firefox"})", "AppA:Firefox:UAT");
  std::vector<const Stereotype*> slots = {&firefox};
  NewSessionSpec request = RequestAlways(R"({"gridhub:label": "AppA:*:UAT"})");
  LabelMatchOptions no_fallback{.trailing_fallback = false};
  EXPECT_FALSE(SlotMatcher(no_fallback).Satisfiable(request, slots));
  no_fallback.wildcards = true;
  EXPECT_TRUE(SlotMatcher(no_fallback).Satisfiable(request, slots));
}

struct ExplainCase {
  std::string name;
  std::string request;  // alwaysMatch
  std::vector<std::string> stereotypes;
  std::string explanation;
};

TEST(ExplainNoMatchTest, NamesTheFirstRuleThatLeavesNoSlot) {
  const std::string chrome156 =
      R"({"browserName": "chrome", "browserVersion": "156.0.8078.79", "platformName": "linux"})";
  const std::string firefox =
      R"({"browserName": "firefox", "browserVersion": "140.0", "platformName": "linux"})";
  const std::vector<ExplainCase> cases = {
      {"version",
       R"({"browserName": "chrome", "browserVersion": "120"})",
       {chrome156, firefox},
       "browserVersion 120 not offered; offered: 156.0.8078.79"},
      {"browser",
       R"({"browserName": "safari"})",
       {chrome156, firefox, chrome156},
       "browserName safari not offered; offered: chrome, firefox"},
      {"platform",
       R"({"platformName": "mac"})",
       {chrome156, firefox},
       "platformName mac not offered; offered: linux"},
      {"extension",
       R"({"appium:deviceName": "Pixel 7"})",
       {R"({"appium:deviceName": "Pixel 8"})", R"({"appium:deviceName": "Pixel 9"})"},
       "appium:deviceName Pixel 7 not offered; offered: Pixel 8, Pixel 9"},
      {"absent values",
       R"({"browserName": "chrome", "browserVersion": "120"})",
       {R"({"browserName": "chrome"})"},
       "browserVersion 120 not offered; offered: (none)"},
      {"label",
       R"({"browserName": "chrome", "gridhub:label": "AppA:Chromium:UAT"})",
       {chrome156, firefox},
       "gridhub:label appa:chromium:uat, appa:chromium, appa not offered; offered: chrome, "
       "firefox"},
      {"downloads",
       R"({"browserName": "chrome", "se:downloadsEnabled": true})",
       {chrome156, firefox},
       "se:downloadsEnabled true not offered; offered: (none)"},
      {"matches", R"({"browserName": "chrome"})", {chrome156}, "some registered slot matches"},
      {"no slots", R"({"browserName": "chrome"})", {}, "no slots are registered"},
  };
  SlotMatcher matcher(LabelMatchOptions{});
  for (const ExplainCase& c : cases) {
    std::vector<Stereotype> owned;
    for (const std::string& s : c.stereotypes) owned.push_back(Slot(s));
    std::vector<const Stereotype*> slots;
    slots.reserve(owned.size());
    for (const Stereotype& s : owned) slots.push_back(&s);
    EXPECT_EQ(matcher.ExplainNoMatch(RequestAlways(c.request), slots), c.explanation) << c.name;
  }
}

TEST(ExplainNoMatchTest, ExplainsEachCandidate) {
  Stereotype chrome = Slot(R"({"browserName": "chrome", "browserVersion": "156.0"})");
  std::vector<const Stereotype*> slots = {&chrome};
  NewSessionSpec request = Request(R"({"capabilities": {"firstMatch": [
      {"browserName": "firefox"}, {"browserName": "chrome", "browserVersion": "155"}]}})");
  EXPECT_EQ(SlotMatcher(LabelMatchOptions{}).ExplainNoMatch(request, slots),
            "firstMatch[0]: browserName firefox not offered; offered: chrome; "
            "firstMatch[1]: browserVersion 155 not offered; offered: 156.0");
}

TEST(CapabilitiesForNodeTest, MergesChromeOptionsOverStereotypeAndDropsGridhubKeys) {
  Stereotype slot = Slot(R"({"browserName": "chrome", "browserVersion": "156.0.8078.79",
      "platformName": "linux", "gridhub:label": "AppA:Chromium",
      "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": ["--no-sandbox",
      "--headless=new"]}})");
  NewSessionSpec request = RequestAlways(R"({"browserName": "Chrome", "browserVersion": "156",
      "acceptInsecureCerts": true, "timeouts": {"implicit": 500},
      "gridhub:label": "AppA", "gridhub:runId": "r1", "gridhub:noWait": true,
      "goog:chromeOptions": {"args": ["--headless=new", "--window-size=1280,800"],
                             "prefs": {"download.default_directory": "/tmp"}}})");
  EXPECT_EQ(CapabilitiesForNode(request.candidates[0], slot),
            Parse(R"({"browserName": "chrome", "browserVersion": "156.0.8078.79",
      "platformName": "linux", "acceptInsecureCerts": true, "timeouts": {"implicit": 500},
      "goog:chromeOptions": {"binary": "/usr/bin/chromium",
          "args": ["--no-sandbox", "--headless=new", "--window-size=1280,800"],
          "prefs": {"download.default_directory": "/tmp"}}})"));
}

TEST(CapabilitiesForNodeTest, FirefoxOptionsMergeOneLevelDeep) {
  Stereotype slot = Slot(R"({"browserName": "firefox", "moz:firefoxOptions":
      {"binary": "/usr/bin/firefox", "prefs": {"a": 1}, "args": ["-headless"]}})");
  NewSessionSpec request = RequestAlways(R"({"browserName": "firefox",
      "moz:firefoxOptions": {"prefs": {"b": 2}, "log": {"level": "trace"}}})");
  EXPECT_EQ(CapabilitiesForNode(request.candidates[0], slot),
            Parse(R"({"browserName": "firefox", "moz:firefoxOptions": {"binary": "/usr/bin/firefox",
      "prefs": {"b": 2}, "args": ["-headless"], "log": {"level": "trace"}}})"));
}

TEST(CapabilitiesForNodeTest, AnyValuesDoNotReachTheDriver) {
  Stereotype slot = Slot(R"({"browserName": "chrome"})");
  NewSessionSpec request =
      RequestAlways(R"({"browserVersion": "latest", "platformName": "any", "browserName": ""})");
  EXPECT_EQ(CapabilitiesForNode(request.candidates[0], slot),
            Parse(R"({"browserName": "chrome"})"));
}

TEST(CapabilitiesForNodeTest, AppiumKeysPassThrough) {
  Stereotype slot = Slot(R"({"platformName": "Android", "appium:automationName": "UiAutomator2",
      "appium:deviceName": "Pixel 7"})");
  NewSessionSpec request = RequestAlways(R"({"platformName": "android",
      "appium:app": "/apps/shop.apk", "appium:options": {"noReset": true}})");
  EXPECT_EQ(CapabilitiesForNode(request.candidates[0], slot),
            Parse(R"({"platformName": "Android", "appium:automationName": "UiAutomator2",
      "appium:deviceName": "Pixel 7", "appium:app": "/apps/shop.apk",
      "appium:options": {"noReset": true}})"));
}

TEST(CapabilityDigestTest, NormalisesVersionsAndPlatforms) {
  EXPECT_EQ(NormalizeVersion(" 156.0.08078.79 "), "156.0.8078.79");
  EXPECT_EQ(NormalizeVersion("121.0B3"), "121.0b3");
  EXPECT_EQ(NormalizeVersion("Stable"), "");
  EXPECT_EQ(NormalizeVersion("0.00"), "0.0");
  EXPECT_TRUE(VersionSelects("", "1.2"));
  EXPECT_TRUE(VersionSelects("1.2", "1.2"));
  EXPECT_FALSE(VersionSelects("1.2", "1.20"));
  EXPECT_EQ(FamilyOfPlatform("windows 11"), PlatformFamily::kWindows);
  EXPECT_EQ(FamilyOfPlatform("macos 14"), PlatformFamily::kMac);
  EXPECT_EQ(FamilyOfPlatform("linux"), PlatformFamily::kLinux);
  EXPECT_EQ(FamilyOfPlatform("ios"), PlatformFamily::kIos);
  EXPECT_EQ(FamilyOfPlatform("plan9"), PlatformFamily::kUnknown);
  EXPECT_TRUE(IsFamilyName("windows"));
  EXPECT_FALSE(IsFamilyName("windows 11"));
}

}  // namespace
}  // namespace gridhub::matching
