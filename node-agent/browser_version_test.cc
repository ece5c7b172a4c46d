#include "node-agent/browser_version.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(ParseBrowserVersionTest, RealBrowserOutputs) {
  struct Case {
    std::string output;
    std::optional<std::string> want;
  };
  std::vector<Case> cases = {
      {"Chromium 156.0.8078.108 built on Debian GNU/Linux 12 (bookworm)\n", "156.0.8078.108"},
      {"Google Chrome 120.0.6099.109 \n", "120.0.6099.109"},
      {"Microsoft Edge 120.0.2210.91\n", "120.0.2210.91"},
      {"Mozilla Firefox 115.3.0esr\n", "115.3.0"},
      {"Mozilla Firefox 128.0\n", "128.0"},
      {"[1234:5678:ERROR:zygote.cc(12)] oops\nChromium 99.1 built\n", "99.1"},
      {"Chromium built on Debian GNU/Linux 12 (bookworm)\n", std::nullopt},
      {"2024-01-01 12:00:00 no version here\n", std::nullopt},
      {"version 1.2.3.4:80\n", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseBrowserVersion(c.output), c.want) << c.output;
  }
}

// Executable shell scripts standing in for browsers.
class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gridhub-version-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ProbeTest, ReadsTheVersionTheProgramPrintsForDashDashVersion) {
  std::string browser = Script("browser",
                               "[ \"$1\" = --version ] || exit 3\n"
                               "echo 'warning: noise' >&2\n"
                               "echo 'FakeBrowser 9.8.7 built on somewhere 12'");
  EXPECT_EQ(ProbeBrowserVersion(browser, 10s), "9.8.7");
}

TEST_F(ProbeTest, FailingMissingSilentOrSlowProgramsGiveNothing) {
  EXPECT_EQ(ProbeBrowserVersion(Script("fails", "echo 'X 1.2'; exit 1"), 10s), std::nullopt);
  EXPECT_EQ(ProbeBrowserVersion((dir_ / "missing").string(), 10s), std::nullopt);
  EXPECT_EQ(ProbeBrowserVersion(Script("silent", "true"), 10s), std::nullopt);
  SteadyClock clock;
  SteadyTime start = clock.Now();
  EXPECT_EQ(ProbeBrowserVersion(Script("slow", "exec sleep 30"), 300ms), std::nullopt);
  EXPECT_LT(clock.Now() - start, 5s);
}

TEST_F(ProbeTest, AHelperHoldingTheOutputOpenDoesNotDelayTheAnswer) {
  std::string browser = Script("forks", "echo 'Forky 3.4'\nsleep 30 &\nexit 0");
  SteadyClock clock;
  SteadyTime start = clock.Now();
  EXPECT_EQ(ProbeBrowserVersion(browser, 10s), "3.4");
  EXPECT_LT(clock.Now() - start, 5s);
}

config::SlotConfig Slot(json stereotype, bool relay = false) {
  config::SlotConfig slot;
  slot.label = "x";
  slot.stereotype = std::move(stereotype);
  if (relay) {
    slot.relay = "http://127.0.0.1:4723";
  } else {
    slot.driver = {"/usr/bin/chromedriver"};
  }
  return slot;
}

TEST(FillBrowserVersionsTest, DriverSlotsNamingABinaryGetItsVersionOnce) {
  std::vector<config::SlotConfig> slots = {
      Slot({{"browserName", "chrome"}, {"goog:chromeOptions", {{"binary", "/b/chromium"}}}}),
      Slot({{"browserName", "chrome"}, {"goog:chromeOptions", {{"binary", "/b/chromium"}}}}),
      Slot({{"browserName", "chrome"},
            {"browserVersion", "157"},
            {"goog:chromeOptions", {{"binary", "/b/beta"}}}}),
      Slot({{"browserName", "firefox"}, {"moz:firefoxOptions", {{"binary", "/b/firefox"}}}}),
      Slot({{"browserName", "chrome"}, {"goog:chromeOptions", {{"binary", "/b/remote"}}}}, true),
      Slot({{"browserName", "chrome"}}),
      Slot({{"browserName", "chrome"}, {"goog:chromeOptions", {{"binary", "/b/broken"}}}}),
  };
  std::vector<std::string> probed;
  std::vector<std::string> lines =
      FillBrowserVersions(slots, [&](const std::string& binary) -> std::optional<std::string> {
        probed.push_back(binary);
        if (binary == "/b/chromium") return "156.0.8078.108";
        if (binary == "/b/firefox") return "128.0";
        return std::nullopt;
      });
  EXPECT_EQ(probed, (std::vector<std::string>{"/b/chromium", "/b/firefox", "/b/broken"}));
  EXPECT_EQ(slots[0].stereotype["browserVersion"], "156.0.8078.108");
  EXPECT_EQ(slots[1].stereotype["browserVersion"], "156.0.8078.108");
  EXPECT_EQ(slots[2].stereotype["browserVersion"], "157");
  EXPECT_EQ(slots[3].stereotype["browserVersion"], "128.0");
  EXPECT_FALSE(slots[4].stereotype.contains("browserVersion"));
  EXPECT_FALSE(slots[5].stereotype.contains("browserVersion"));
  EXPECT_FALSE(slots[6].stereotype.contains("browserVersion"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("156.0.8078.108"), std::string::npos) << lines[0];
  EXPECT_NE(lines[2].find("version unknown"), std::string::npos) << lines[2];
}

}  // namespace
}  // namespace gridhub::node
