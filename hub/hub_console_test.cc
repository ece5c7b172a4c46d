// The console's routes over real HTTP: GET / from a browser, /ui and its static files.
#include <gtest/gtest.h>

#include <string>

#include "console/assets.h"
#include "http/http_client.h"
#include "hub/hub_service.h"

namespace gridhub::hub {
namespace {

config::Settings LoopbackSettings() {
  config::Settings settings;
  settings.server.host = "127.0.0.1";
  settings.server.port = 0;
  settings.server.threads = 2;
  return settings;
}

class HubConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(hub_.Start().ok()); }
  void TearDown() override {
    client_.Stop();
    hub_.Stop();
  }
  http::ClientResponse Get(const std::string& path, http::Headers headers = {}) {
    return client_.SendSync({.url = hub_.url() + path, .headers = std::move(headers)});
  }
  static std::string HeaderOf(const http::ClientResponse& r, std::string_view name) {
    return std::string(http::FindHeader(r.headers, name));
  }
  static void ExpectSecurityHeaders(const http::ClientResponse& r) {
    EXPECT_EQ(HeaderOf(r, "Content-Security-Policy"), "default-src 'self'");
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-cache");
  }

  FakeClock clock_;
  HubService hub_{LoopbackSettings(), clock_};
  http::HttpClient client_;
};

TEST_F(HubConsoleTest, ABrowserOpeningTheRootIsSentToTheConsole) {
  http::ClientResponse r = Get("/", {{"Accept", "text/html,application/xhtml+xml;q=0.9"}});
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(HeaderOf(r, "Location"), "/ui/");
}

TEST_F(HubConsoleTest, TheRootWithoutHtmlIsStillAnUnknownCommand) {
  http::ClientResponse r = Get("/", {{"Accept", "application/json"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("unknown command"), std::string::npos) << r.body;
}

TEST_F(HubConsoleTest, TheIndexPageIsServedWithTheSecurityHeaders) {
  http::ClientResponse r = Get("/ui/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body, std::string(console::FindAsset("index.html")->bytes));
  ExpectSecurityHeaders(r);
}

TEST_F(HubConsoleTest, UiWithoutItsSlashRedirectsSoRelativeLinksResolve) {
  http::ClientResponse r = Get("/ui");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(HeaderOf(r, "Location"), "/ui/");
}

TEST_F(HubConsoleTest, EveryEmbeddedFileIsServedWithItsType) {
  for (const console::Asset& asset : console::AllAssets()) {
    http::ClientResponse r = Get("/ui/" + std::string(asset.path));
    ASSERT_EQ(r.status, 200) << asset.path;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), asset.content_type) << asset.path;
    EXPECT_EQ(r.body.size(), asset.bytes.size()) << asset.path;
    ExpectSecurityHeaders(r);
  }
}

TEST_F(HubConsoleTest, UnknownOrEscapingFilesAreNotFound) {
  EXPECT_EQ(Get("/ui/no-such-file.js").status, 404);
  EXPECT_EQ(Get("/ui/%2e%2e/etc/passwd").status, 400);
}

}  // namespace
}  // namespace gridhub::hub
