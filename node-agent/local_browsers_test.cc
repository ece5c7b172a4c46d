#include "node-agent/local_browsers.h"

#include <gtest/gtest.h>

#include <map>

namespace gridhub::node {
namespace {

auto Fake(const std::map<std::string, std::string>& programs) {
  return [programs](std::string_view name) -> std::optional<std::string> {
    auto it = programs.find(std::string(name));
    if (it == programs.end()) return std::nullopt;
    return it->second;
  };
}

TEST(LocalBrowsersTest, ChromiumWithChromedriverGivesOneHeadlessSlotPerCore) {
  LocalBrowsers found = DetectLocalBrowsers(
      Fake({{"chromedriver", "/usr/bin/chromedriver"}, {"chromium", "/usr/bin/chromium"}}), 3);
  ASSERT_EQ(found.slots.size(), 3u);
  const config::SlotConfig& slot = found.slots[0];
  EXPECT_EQ(slot.driver, std::vector<std::string>{"/usr/bin/chromedriver"});
  EXPECT_EQ(slot.max_sessions, 1);
  EXPECT_EQ(slot.label, "chrome");
  EXPECT_EQ(slot.stereotype["browserName"], "chrome");
  EXPECT_EQ(slot.stereotype["goog:chromeOptions"]["binary"], "/usr/bin/chromium");
  auto args = slot.stereotype["goog:chromeOptions"]["args"].get<std::vector<std::string>>();
  for (const char* wanted :
       {"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"}) {
    EXPECT_NE(std::find(args.begin(), args.end(), wanted), args.end()) << wanted;
  }
  ASSERT_EQ(found.found.size(), 1u);
  EXPECT_NE(found.found[0].find("/usr/bin/chromium"), std::string::npos);
  ASSERT_EQ(found.missing.size(), 1u);
  EXPECT_NE(found.missing[0].find("geckodriver"), std::string::npos);
}

TEST(LocalBrowsersTest, GoogleChromeIsUsedWhenChromiumIsAbsent) {
  LocalBrowsers found = DetectLocalBrowsers(
      Fake({{"chromedriver", "/d/chromedriver"}, {"google-chrome", "/opt/google/chrome"}}), 1);
  ASSERT_EQ(found.slots.size(), 1u);
  EXPECT_EQ(found.slots[0].stereotype["goog:chromeOptions"]["binary"], "/opt/google/chrome");
}

TEST(LocalBrowsersTest, ABrowserWithoutItsDriverIsNotOffered) {
  LocalBrowsers found = DetectLocalBrowsers(
      Fake({{"chromium", "/usr/bin/chromium"}, {"firefox", "/usr/bin/firefox"}}), 2);
  EXPECT_TRUE(found.slots.empty());
  EXPECT_EQ(found.missing.size(), 2u);
}

TEST(LocalBrowsersTest, FirefoxWithGeckodriverIsOfferedToo) {
  LocalBrowsers found = DetectLocalBrowsers(Fake({{"chromedriver", "/c"},
                                                  {"chromium", "/b"},
                                                  {"geckodriver", "/g"},
                                                  {"firefox-esr", "/f"}}),
                                            2);
  ASSERT_EQ(found.slots.size(), 4u);
  EXPECT_EQ(found.slots[2].stereotype["browserName"], "firefox");
  EXPECT_EQ(found.slots[2].stereotype["moz:firefoxOptions"]["binary"], "/f");
  EXPECT_TRUE(found.missing.empty());
}

TEST(LocalBrowsersTest, FindOnPathFindsAShell) {
  std::optional<std::string> sh = FindOnPath("sh");
  ASSERT_TRUE(sh);
  EXPECT_EQ(sh->back(), 'h');
  EXPECT_FALSE(FindOnPath("surely-no-such-program-gridhub"));
}

}  // namespace
}  // namespace gridhub::node
