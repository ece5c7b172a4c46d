#include "hub/router.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::hub {
namespace {

// Handlers are names here: the test asks which row a request reached.
using Names = Router<std::string>;

Names HubLikeTable() {
  Names router;
  router.Add({"POST"}, "/session", Access::kClient, "new session");
  router.Add({"GET", "POST", "DELETE"}, "/session/{session}/**", Access::kClient, "proxy");
  router.Add({"GET", "HEAD"}, "/status", Access::kOpen, "status");
  router.Add({"GET"}, "/metrics", Access::kOpen, "metrics");
  router.Add({"GET"}, "/queue", Access::kClient, "queue");
  router.Add({"DELETE"}, "/queue", Access::kAdmin, "clear queue");
  router.Add({"POST"}, "/queue/requests/{ticket}/take", Access::kClient, "take");
  router.Add({"GET", "DELETE"}, "/queue/requests/{ticket}", Access::kClient, "ticket");
  router.Add({"DELETE"}, "/nodes/{node}", Access::kNode, "deregister");
  router.Add({"POST"}, "/nodes/{node}/drain", Access::kNodeDrain, "drain");
  return router;
}

std::string Reached(const Names& router, std::string_view method, std::string_view path) {
  Routed<std::string> routed = router.Route(method, path);
  return routed.row == nullptr ? "" : routed.row->handler;
}

TEST(RouterTest, MatchesLiteralPathsAndMethods) {
  Names router = HubLikeTable();
  EXPECT_EQ(Reached(router, "POST", "/session"), "new session");
  EXPECT_EQ(Reached(router, "GET", "/status"), "status");
  EXPECT_EQ(Reached(router, "GET", "/queue"), "queue");
  EXPECT_EQ(Reached(router, "DELETE", "/queue"), "clear queue");
  Routed<std::string> routed = router.Route("DELETE", "/queue");
  ASSERT_NE(routed.row, nullptr);
  EXPECT_EQ(routed.row->access, Access::kAdmin);
}

TEST(RouterTest, CapturesParamsRawAsSent) {
  Names router = HubLikeTable();
  const std::string path = "/queue/requests/t%2D1/take";
  Routed<std::string> routed = router.Route("POST", path);
  ASSERT_NE(routed.row, nullptr);
  EXPECT_EQ(routed.row->handler, "take");
  EXPECT_EQ(routed.match.Param("ticket"), "t%2D1");
  EXPECT_EQ(routed.match.Param("node"), "");
  routed = router.Route("POST", "/nodes/n1/drain");
  ASSERT_NE(routed.row, nullptr);
  EXPECT_EQ(routed.match.Param("node"), "n1");
  EXPECT_EQ(routed.row->access, Access::kNodeDrain);
}

TEST(RouterTest, DoubleStarTakesTheRestOfThePath) {
  Names router = HubLikeTable();
  for (std::string_view path :
       {"/session/abc", "/session/abc/url", "/session/abc/element/e/click"}) {
    Routed<std::string> routed = router.Route("POST", path);
    ASSERT_NE(routed.row, nullptr) << path;
    EXPECT_EQ(routed.row->handler, "proxy");
    EXPECT_EQ(routed.match.Param("session"), "abc");
    EXPECT_EQ(routed.match.segments.front(), "session");
  }
  // `{session}` needs a segment: /session alone is the new-session row.
  EXPECT_EQ(Reached(router, "POST", "/session/"), "new session");
}

TEST(RouterTest, UnknownPathIsUnknownCommandNamingThePathAsSent) {
  Names router = HubLikeTable();
  for (std::string_view path :
       {"/", "/nope", "/status/more", "/queue/requests/t1/take/x", "/nodes", "/wd/hub/nope"}) {
    Routed<std::string> routed = router.Route("GET", path);
    EXPECT_EQ(routed.row, nullptr) << path;
    EXPECT_EQ(routed.error.code, ErrorCode::kUnknownCommand) << path;
    EXPECT_EQ(routed.error.message, "no command at GET " + std::string(path));
    EXPECT_EQ(routed.allow, "");
  }
}

TEST(RouterTest, WrongMethodIsUnknownMethodWithAllowListingEveryRowOfThePath) {
  Names router = HubLikeTable();
  Routed<std::string> routed = router.Route("PUT", "/queue");
  EXPECT_EQ(routed.row, nullptr);
  EXPECT_EQ(routed.error.code, ErrorCode::kUnknownMethod);
  EXPECT_EQ(routed.error.message, "PUT is not allowed on /queue");
  EXPECT_EQ(routed.allow, "GET, DELETE");  // two rows, in the order they were added
  EXPECT_EQ(router.Route("PUT", "/status").allow, "GET, HEAD");
  EXPECT_EQ(router.Route("GET", "/session").allow, "POST");
  EXPECT_EQ(router.Route("PUT", "/session/abc/url").allow, "GET, POST, DELETE");
  EXPECT_EQ(router.Route("POST", "/metrics").allow, "GET");
  EXPECT_EQ(router.Route("GET", "/nodes/n1/drain").allow, "POST");
}

TEST(RouterTest, WrongMethodCarriesTheAccessOfThePathsFirstRow) {
  Names router = HubLikeTable();
  EXPECT_EQ(router.Route("PUT", "/queue").path_access, Access::kClient);  // GET's, then DELETE's
  EXPECT_EQ(router.Route("PUT", "/status").path_access, Access::kOpen);
  EXPECT_EQ(router.Route("GET", "/session").path_access, Access::kClient);
  EXPECT_FALSE(router.Route("GET", "/nowhere").path_access.has_value());  // 404: no row
  EXPECT_FALSE(router.Route("GET", "/status").path_access.has_value());   // routed
}

TEST(RouterTest, MethodsAreCaseSensitive) {
  Names router = HubLikeTable();
  Routed<std::string> routed = router.Route("get", "/status");
  EXPECT_EQ(routed.row, nullptr);
  EXPECT_EQ(routed.error.code, ErrorCode::kUnknownMethod);
}

TEST(RouterTest, HeadIsMatchedAsGet) {
  Names router = HubLikeTable();
  EXPECT_EQ(Reached(router, "HEAD", "/status"), "status");    // names HEAD
  EXPECT_EQ(Reached(router, "HEAD", "/metrics"), "metrics");  // GET only
  EXPECT_EQ(Reached(router, "HEAD", "/session/abc/url"), "proxy");
  EXPECT_EQ(router.Route("HEAD", "/session").error.code, ErrorCode::kUnknownMethod);
}

TEST(RouterTest, LegacyPrefixIsStrippedOnce) {
  Names router = HubLikeTable();
  Routed<std::string> routed = router.Route("GET", "/wd/hub/session/abc/url");
  ASSERT_NE(routed.row, nullptr);
  EXPECT_EQ(routed.row->handler, "proxy");
  EXPECT_TRUE(routed.match.legacy);
  EXPECT_EQ(routed.match.segments.size(), 3u);
  EXPECT_FALSE(router.Route("GET", "/status").match.legacy);
  // Only once: a second prefix is part of the path.
  EXPECT_EQ(router.Route("GET", "/wd/hub/wd/hub/status").error.code, ErrorCode::kUnknownCommand);
  // The 404 and 405 name the path as sent, prefix included.
  EXPECT_EQ(router.Route("PUT", "/wd/hub/status").error.message,
            "PUT is not allowed on /wd/hub/status");
}

TEST(RouterTest, TrailingAndDoubledSlashesAreIgnored) {
  Names router = HubLikeTable();
  EXPECT_EQ(Reached(router, "GET", "/status/"), "status");
  EXPECT_EQ(Reached(router, "GET", "//status//"), "status");
  Routed<std::string> routed = router.Route("GET", "/session//abc/url/");
  ASSERT_NE(routed.row, nullptr);
  EXPECT_EQ(routed.match.Param("session"), "abc");
  EXPECT_EQ(routed.match.segments.size(), 3u);
}

TEST(RouterTest, PathsThatCouldBeReadTwoWaysAreRefused) {
  Names router = HubLikeTable();
  for (std::string_view path : {"/session/abc/../x", "/session/%2e%2e/x", "/session/a%2Fb/url",
                                "status", "/session/a\\b"}) {
    Routed<std::string> routed = router.Route("GET", path);
    EXPECT_EQ(routed.row, nullptr) << path;
    EXPECT_EQ(routed.error.code, ErrorCode::kInvalidArgument) << path;
  }
}

TEST(RouterTest, FirstRowAddedWinsWhereTwoPatternsMatch) {
  Names router;
  router.Add({"GET"}, "/nodes/self", Access::kOpen, "literal");
  router.Add({"GET", "DELETE"}, "/nodes/{node}", Access::kNode, "capture");
  EXPECT_EQ(Reached(router, "GET", "/nodes/self"), "literal");
  EXPECT_EQ(Reached(router, "GET", "/nodes/n1"), "capture");
  // The literal row does not take DELETE: the next matching row does.
  EXPECT_EQ(Reached(router, "DELETE", "/nodes/self"), "capture");
  EXPECT_EQ(router.Route("POST", "/nodes/self").allow, "GET, DELETE");

  Names reversed;
  reversed.Add({"GET", "DELETE"}, "/nodes/{node}", Access::kNode, "capture");
  reversed.Add({"GET"}, "/nodes/self", Access::kOpen, "literal");
  EXPECT_EQ(Reached(reversed, "GET", "/nodes/self"), "capture");
}

TEST(RouterTest, OneRowEachForUpcomingRoutes) {
  // The WebSocket upgrade, the console and a Redis-backed route are rows like any other.
  Names router = HubLikeTable();
  router.Add({"GET"}, "/session/{session}/se/cdp", Access::kClient, "websocket");
  router.Add({"GET"}, "/ui/**", Access::kOpen, "console");
  // Rows are tried in order: the proxy row, added first, takes /session/{id}/se/cdp.
  EXPECT_EQ(Reached(router, "GET", "/session/abc/se/cdp"), "proxy");
  EXPECT_EQ(Reached(router, "GET", "/ui"), "console");
  EXPECT_EQ(Reached(router, "GET", "/ui/assets/app.js"), "console");

  Names upgrade_first;
  upgrade_first.Add({"GET"}, "/session/{session}/se/cdp", Access::kClient, "websocket");
  upgrade_first.Add({"GET", "POST", "DELETE"}, "/session/{session}/**", Access::kClient, "proxy");
  EXPECT_EQ(Reached(upgrade_first, "GET", "/session/abc/se/cdp"), "websocket");
  EXPECT_EQ(Reached(upgrade_first, "POST", "/session/abc/se/cdp"), "proxy");
}

}  // namespace
}  // namespace gridhub::hub
