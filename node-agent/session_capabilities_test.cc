#include "node-agent/session_capabilities.h"

#include <gtest/gtest.h>

#include "matching/slot_matcher.h"

namespace gridhub::node {
namespace {

using nlohmann::json;

matching::Candidate CandidateOf(const json& always) {
  Result<matching::NewSessionSpec> spec =
      matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", always}}}});
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  return spec->candidates.front();
}

matching::Stereotype StereotypeOf(const json& caps) {
  Result<matching::Stereotype> stereotype = matching::Stereotype::Parse(caps);
  EXPECT_TRUE(stereotype.ok());
  return *stereotype;
}

TEST(SessionCapabilitiesTest, VendorOptionsMergeOverStereotypeDefaults) {
  json stereotype = {{"browserName", "chrome"},
                     {"gridhub:label", "appa:chromium"},
                     {"goog:chromeOptions",
                      {{"binary", "/usr/bin/chromium"}, {"args", {"--headless", "--no-sandbox"}}}}};
  json request = {{"browserName", "chrome"},
                  {"se:name", "x"},
                  {"timeouts", {{"implicit", 5}}},
                  {"goog:chromeOptions", {{"args", {"--window-size=800,600", "--headless"}}}}};
  json merged = DriverCapabilities(CandidateOf(request), StereotypeOf(stereotype));
  EXPECT_FALSE(merged.contains("gridhub:label"));
  EXPECT_FALSE(merged.contains("se:name"));
  EXPECT_EQ(merged["timeouts"], json({{"implicit", 5}}));
  EXPECT_EQ(merged["goog:chromeOptions"]["binary"], "/usr/bin/chromium");
  EXPECT_EQ(merged["goog:chromeOptions"]["args"],
            json({"--headless", "--no-sandbox", "--window-size=800,600"}));
}

TEST(SessionCapabilitiesTest, RequestBinaryWinsOverStereotype) {
  json merged =
      DriverCapabilities(CandidateOf({{"goog:chromeOptions", {{"binary", "/opt/chrome"}}}}),
                         StereotypeOf({{"goog:chromeOptions", {{"binary", "/usr/bin/chromium"}}}}));
  EXPECT_EQ(merged["goog:chromeOptions"]["binary"], "/opt/chrome");
}

TEST(SessionCapabilitiesTest, MergingWhatTheHubMergedChangesNothing) {
  // The hub sends the candidate merged over the stereotype; the node merges it over the same
  // stereotype again, and the driver must see what a direct call would give.
  json stereotype = {{"browserName", "chrome"},
                     {"browserVersion", "156.0.8078.79"},
                     {"se:count", 3},
                     {"goog:chromeOptions", {{"binary", "/b"}, {"args", {"--headless"}}}}};
  json request = {{"browserName", "Chrome"},
                  {"browserVersion", "156"},
                  {"gridhub:label", "chrome"},
                  {"goog:chromeOptions", {{"args", {"--x", "--headless"}}}}};
  matching::Stereotype slot = StereotypeOf(stereotype);
  json from_hub = matching::CapabilitiesForNode(CandidateOf(request), slot);
  json direct = DriverCapabilities(CandidateOf(request), slot);
  EXPECT_EQ(DriverCapabilities(CandidateOf(from_hub), slot), direct);
  EXPECT_EQ(direct["browserVersion"], "156.0.8078.79");
  EXPECT_EQ(direct["goog:chromeOptions"]["args"], json({"--headless", "--x"}));
  EXPECT_FALSE(direct.contains("se:count"));
}

TEST(SessionCapabilitiesTest, ChromiumGetsAFreshProfileAndNoSandboxAsRoot) {
  json caps = {{"browserName", "chrome"},
               {"goog:chromeOptions", {{"args", {"--user-data-dir=/shared", "--headless"}}}}};
  PrepareForBrowser(caps, {.user_data_dir = "/tmp/p1", .as_root = true});
  EXPECT_EQ(caps["goog:chromeOptions"]["args"],
            json({"--headless", "--user-data-dir=/tmp/p1", "--no-sandbox"}));
  json plain = {{"browserName", "chrome"}};
  PrepareForBrowser(plain, {.user_data_dir = "/tmp/p2", .as_root = false});
  EXPECT_EQ(plain["goog:chromeOptions"]["args"], json({"--user-data-dir=/tmp/p2"}));
}

TEST(SessionCapabilitiesTest, OtherBrowsersAreLeftAlone) {
  json caps = {{"browserName", "firefox"}, {"moz:firefoxOptions", {{"args", {"-headless"}}}}};
  json before = caps;
  PrepareForBrowser(caps, {.user_data_dir = "/tmp/p", .as_root = true});
  EXPECT_EQ(caps, before);
}

TEST(SessionCapabilitiesTest, ManagedDownloadsSetChromiumPrefsOverTheClients) {
  json caps = {{"browserName", "chrome"},
               {"goog:chromeOptions",
                {{"prefs",
                  {{"download.default_directory", "/client/dir"},
                   {"download", {{"prompt_for_download", true}, {"directory_upgrade", true}}},
                   {"intl.accept_languages", "fr"}}}}}};
  PrepareForBrowser(caps, {.user_data_dir = "/w/s1/profile", .download_dir = "/w/s1/downloads"});
  const json& prefs = caps["goog:chromeOptions"]["prefs"];
  EXPECT_EQ(prefs["download.default_directory"], "/w/s1/downloads");
  EXPECT_EQ(prefs["download.prompt_for_download"], false);
  EXPECT_EQ(prefs["savefile.default_directory"], "/w/s1/downloads");
  EXPECT_EQ(prefs["intl.accept_languages"], "fr") << "the client's other prefs stay";
  EXPECT_EQ(prefs["download"], json({{"directory_upgrade", true}}))
      << "a nested copy of a node pref is dropped, the rest kept";
  // Without a download folder nothing is added.
  json plain = {{"browserName", "chrome"}};
  PrepareForBrowser(plain, {.user_data_dir = "/p"});
  EXPECT_FALSE(plain["goog:chromeOptions"].contains("prefs"));
  // Edge's options carry them when that is the key the request used.
  json edge = {{"browserName", "MicrosoftEdge"}, {"ms:edgeOptions", json::object()}};
  PrepareForBrowser(edge, {.user_data_dir = "/p", .download_dir = "/d"});
  EXPECT_EQ(edge["ms:edgeOptions"]["prefs"]["download.default_directory"], "/d");
}

TEST(SessionCapabilitiesTest, ManagedDownloadsSetFirefoxPrefs) {
  json caps = {{"browserName", "firefox"},
               {"moz:firefoxOptions", {{"prefs", {{"browser.download.dir", "/client"}}}}}};
  PrepareForBrowser(caps, {.user_data_dir = "/p", .download_dir = "/w/s2/downloads"});
  const json& prefs = caps["moz:firefoxOptions"]["prefs"];
  EXPECT_EQ(prefs["browser.download.dir"], "/w/s2/downloads");
  EXPECT_EQ(prefs["browser.download.folderList"], 2);
  EXPECT_EQ(prefs["browser.download.useDownloadDir"], true);
  EXPECT_FALSE(caps.contains("goog:chromeOptions"));
}

TEST(SessionCapabilitiesTest, TheAnswerSaysDownloadsAreEnabled) {
  std::string body = R"({"value":{"sessionId":"s1","capabilities":{"browserName":"chrome"}}})";
  json answer = json::parse(WithDownloadsEnabled(body));
  EXPECT_EQ(answer["value"]["capabilities"]["se:downloadsEnabled"], true);
  EXPECT_EQ(answer["value"]["sessionId"], "s1");
  for (std::string odd : {"", "nonsense", R"({"value":{"sessionId":"s"}})", R"([1])"}) {
    EXPECT_EQ(WithDownloadsEnabled(odd), odd);
  }
}

TEST(SessionCapabilitiesTest, NewSessionBodyIsW3C) {
  json body = NewSessionBody({{"browserName", "chrome"}});
  EXPECT_EQ(body["capabilities"]["alwaysMatch"]["browserName"], "chrome");
  EXPECT_EQ(body["capabilities"]["firstMatch"], json::array({json::object()}));
}

TEST(SessionCapabilitiesTest, LongArgsListsMergeWithoutDuplicates) {
  json args = json::array();
  for (int i = 0; i < 50000; ++i) args.push_back("--a" + std::to_string(i % 25000));
  json stereotype = {{"goog:chromeOptions", {{"args", {"--headless", "--a1"}}}}};
  json merged = DriverCapabilities(CandidateOf({{"goog:chromeOptions", {{"args", args}}}}),
                                   StereotypeOf(stereotype));
  const json& out = merged["goog:chromeOptions"]["args"];
  ASSERT_EQ(out.size(), 25001u);
  EXPECT_EQ(out[0], "--headless");
  EXPECT_EQ(out[1], "--a1");
  EXPECT_EQ(out[2], "--a0");
}

}  // namespace
}  // namespace gridhub::node
