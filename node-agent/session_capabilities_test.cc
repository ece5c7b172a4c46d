#include "node-agent/session_capabilities.h"

#include <gtest/gtest.h>

namespace gridhub::node {
namespace {

using nlohmann::json;

TEST(SessionCapabilitiesTest, MergesAlwaysMatchWithEachFirstMatchInOrder) {
  json body = {{"capabilities",
                {{"alwaysMatch", {{"browserName", "chrome"}}},
                 {"firstMatch", {{{"platformName", "linux"}}, {{"platformName", nullptr}}}}}}};
  Result<std::vector<json>> candidates = CandidatesFromBody(body);
  ASSERT_TRUE(candidates.ok());
  ASSERT_EQ(candidates->size(), 2u);
  EXPECT_EQ((*candidates)[0], json({{"browserName", "chrome"}, {"platformName", "linux"}}));
  EXPECT_EQ((*candidates)[1], json({{"browserName", "chrome"}}));
}

TEST(SessionCapabilitiesTest, RejectsBodiesWithoutCapabilities) {
  EXPECT_FALSE(CandidatesFromBody(json::object()).ok());
  EXPECT_FALSE(CandidatesFromBody({{"capabilities", {{"firstMatch", json::array()}}}}).ok());
  EXPECT_FALSE(CandidatesFromBody({{"capabilities", {{"alwaysMatch", 3}}}}).ok());
  Result<std::vector<json>> empty = CandidatesFromBody({{"capabilities", json::object()}});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 1u);
}

TEST(SessionCapabilitiesTest, StereotypeMatchingFollowsGridRules) {
  json chrome = {{"browserName", "chrome"},
                 {"browserVersion", "156.0.8078.79"},
                 {"platformName", "Windows 11"}};
  EXPECT_TRUE(StereotypeServes(chrome, json::object()));
  EXPECT_TRUE(StereotypeServes(chrome, {{"browserName", "Chrome"}}));
  EXPECT_FALSE(StereotypeServes(chrome, {{"browserName", "firefox"}}));
  EXPECT_TRUE(StereotypeServes(chrome, {{"browserVersion", "156"}}));
  EXPECT_TRUE(StereotypeServes(chrome, {{"browserVersion", "stable"}}));
  EXPECT_FALSE(StereotypeServes(chrome, {{"browserVersion", "15"}}));
  EXPECT_FALSE(StereotypeServes(chrome, {{"browserVersion", "156.0.8078.7"}}));
  EXPECT_TRUE(StereotypeServes(chrome, {{"platformName", "windows"}}));
  EXPECT_TRUE(StereotypeServes(chrome, {{"platformName", "ANY"}}));
  EXPECT_FALSE(StereotypeServes(chrome, {{"platformName", "linux"}}));
}

TEST(SessionCapabilitiesTest, FirstServingSlotPrefersCandidateOrderThenSlotsWithRoom) {
  std::vector<json> stereotypes = {
      {{"browserName", "chrome"}}, {{"browserName", "firefox"}}, {{"browserName", "chrome"}}};
  std::vector<json> candidates = {{{"browserName", "firefox"}}, {{"browserName", "chrome"}}};
  auto all = [](size_t) { return true; };
  std::optional<SlotMatch> match = FirstServingSlot(candidates, stereotypes, all);
  ASSERT_TRUE(match);
  EXPECT_EQ(match->slot, 1u);
  EXPECT_EQ(match->candidate, 0u);
  match = FirstServingSlot(candidates, stereotypes, [](size_t s) { return s == 2; });
  ASSERT_TRUE(match);
  EXPECT_EQ(match->slot, 2u);
  EXPECT_EQ(match->candidate, 1u);
  EXPECT_FALSE(FirstServingSlot(candidates, stereotypes, [](size_t) { return false; }));
}

TEST(SessionCapabilitiesTest, PrefersTheSlotWhoseStereotypeTheHubMergedIn) {
  // Two chrome slots told apart by label and binary; the hub chose the second.
  std::vector<json> stereotypes = {{{"browserName", "chrome"},
                                    {"gridhub:label", "appa"},
                                    {"goog:chromeOptions", {{"binary", "/opt/stable/chrome"}}}},
                                   {{"browserName", "chrome"},
                                    {"gridhub:label", "appb"},
                                    {"goog:chromeOptions", {{"binary", "/opt/beta/chrome"}}}}};
  json from_hub = {{"browserName", "chrome"},
                   {"goog:chromeOptions", {{"binary", "/opt/beta/chrome"}, {"args", {"--x"}}}}};
  EXPECT_FALSE(CarriesStereotype(stereotypes[0], from_hub));
  EXPECT_TRUE(CarriesStereotype(stereotypes[1], from_hub));
  std::optional<SlotMatch> match =
      FirstServingSlot({from_hub}, stereotypes, [](size_t) { return true; });
  ASSERT_TRUE(match);
  EXPECT_EQ(match->slot, 1u);
  // A plain request (not merged by a hub) still gets the first slot that serves it.
  match = FirstServingSlot({{{"browserName", "chrome"}}}, stereotypes, [](size_t) { return true; });
  ASSERT_TRUE(match);
  EXPECT_EQ(match->slot, 0u);
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
  json merged = MergeOverStereotype(request, stereotype);
  EXPECT_FALSE(merged.contains("gridhub:label"));
  EXPECT_FALSE(merged.contains("se:name"));
  EXPECT_EQ(merged["timeouts"], json({{"implicit", 5}}));
  EXPECT_EQ(merged["goog:chromeOptions"]["binary"], "/usr/bin/chromium");
  EXPECT_EQ(merged["goog:chromeOptions"]["args"],
            json({"--headless", "--no-sandbox", "--window-size=800,600"}));
}

TEST(SessionCapabilitiesTest, RequestBinaryWinsOverStereotype) {
  json merged = MergeOverStereotype({{"goog:chromeOptions", {{"binary", "/opt/chrome"}}}},
                                    {{"goog:chromeOptions", {{"binary", "/usr/bin/chromium"}}}});
  EXPECT_EQ(merged["goog:chromeOptions"]["binary"], "/opt/chrome");
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

TEST(SessionCapabilitiesTest, NewSessionBodyIsW3C) {
  json body = NewSessionBody({{"browserName", "chrome"}});
  EXPECT_EQ(body["capabilities"]["alwaysMatch"]["browserName"], "chrome");
  EXPECT_EQ(body["capabilities"]["firstMatch"], json::array({json::object()}));
}

TEST(SessionCapabilitiesTest, BoundsFirstMatchAndTheCopiesOfAlwaysMatch) {
  json many = json::array();
  for (size_t i = 0; i <= kMaxFirstMatch; ++i) many.push_back(json::object());
  Result<std::vector<json>> refused =
      CandidatesFromBody({{"capabilities", {{"firstMatch", many}}}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  many.erase(many.begin());
  EXPECT_TRUE(CandidatesFromBody({{"capabilities", {{"firstMatch", many}}}}).ok());
  // 2 MiB of alwaysMatch copied into 64 candidates would be 128 MiB.
  json always = {{"x:blob", std::string(2 << 20, 'a')}};
  Result<std::vector<json>> big =
      CandidatesFromBody({{"capabilities", {{"alwaysMatch", always}, {"firstMatch", many}}}});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("MiB"), std::string::npos);
}

TEST(SessionCapabilitiesTest, LongArgsListsMergeWithoutDuplicates) {
  json args = json::array();
  for (int i = 0; i < 50000; ++i) args.push_back("--a" + std::to_string(i % 25000));
  json stereotype = {{"goog:chromeOptions", {{"args", {"--headless", "--a1"}}}}};
  json merged = MergeOverStereotype({{"goog:chromeOptions", {{"args", args}}}}, stereotype);
  const json& out = merged["goog:chromeOptions"]["args"];
  ASSERT_EQ(out.size(), 25001u);
  EXPECT_EQ(out[0], "--headless");
  EXPECT_EQ(out[1], "--a1");
  EXPECT_EQ(out[2], "--a0");
}

}  // namespace
}  // namespace gridhub::node
