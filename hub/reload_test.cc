#include "hub/reload.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

using namespace std::chrono_literals;

TEST(HubReloadTest, NamesWhatChangedAndNeverAValue) {
  config::Settings before;
  before.hub.client_token = "old-client-token";
  config::Settings after = before;
  after.hub.client_token = "new-client-token";
  after.hub.registration_secret = "new-secret-value";
  after.queue.max_per_label = 7;
  after.server.max_body = 1024;
  after.node.session_timeout = 5s;  // not the hub's: ignored

  ReloadReport report = CompareSettings(before, after);
  EXPECT_EQ(report.applied, (std::vector<std::string>{"hub.client-token", "hub.registration-secret",
                                                      "queue.max-per-label"}));
  EXPECT_EQ(report.needs_restart, (std::vector<std::string>{"server.max-body"}));
  std::string line = DescribeReload(report);
  EXPECT_NE(line.find("hub.client-token"), std::string::npos) << line;
  EXPECT_NE(line.find("server.max-body"), std::string::npos) << line;
  for (const char* secret : {"old-client-token", "new-client-token", "new-secret-value"}) {
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
  }
}

TEST(HubReloadTest, LogSettingsApplyLive) {
  config::Settings before;
  config::Settings after = before;
  after.log.format = log::Format::kJson;
  after.log.level = log::Level::kWarn;
  ReloadReport report = CompareSettings(before, after);
  EXPECT_EQ(report.applied, (std::vector<std::string>{"log.format", "log.level"}));
  EXPECT_TRUE(report.needs_restart.empty());
}

TEST(HubReloadTest, NothingChanged) {
  config::Settings settings;
  ReloadReport report = CompareSettings(settings, settings);
  EXPECT_TRUE(report.applied.empty());
  EXPECT_TRUE(report.needs_restart.empty());
  EXPECT_EQ(DescribeReload(report), "settings reloaded; nothing changed");
}

}  // namespace
}  // namespace gridhub::hub
