#include "hub/request_path.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

std::vector<std::string> Segments(std::string_view path) {
  Result<RoutePath> route = ParseRoutePath(path);
  EXPECT_TRUE(route.ok()) << path;
  if (!route.ok()) return {};
  return {route->segments.begin(), route->segments.end()};
}

TEST(HubRoutePathTest, SplitsAndDropsEmptySegmentsAndTheLegacyPrefix) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Segments("/session/abc/url"), (V{"session", "abc", "url"}));
  EXPECT_EQ(Segments("//session//abc/"), (V{"session", "abc"}));
  EXPECT_EQ(Segments("/"), V{});
  Result<RoutePath> legacy = ParseRoutePath("/wd/hub/session/abc");
  ASSERT_TRUE(legacy.ok());
  EXPECT_TRUE(legacy->legacy);
  EXPECT_EQ(JoinSegments(legacy->segments, 0), "/session/abc");
  // Percent-encoding that means something else than a separator or a dot segment stays as sent.
  EXPECT_EQ(Segments("/session/abc/cookie/my%20cookie"),
            (V{"session", "abc", "cookie", "my%20cookie"}));
  EXPECT_EQ(Segments("/session/a.b/..x/.hidden"), (V{"session", "a.b", "..x", ".hidden"}));
}

TEST(HubRoutePathTest, RefusesWhatAnotherReaderWouldResolveDifferently) {
  for (std::string_view path :
       {"/session/abc/../../drain", "/session/abc/../../session", "/session/abc/./url",
        "/session/abc/..", "/wd/hub/../session", "/session/abc/%2e%2e/drain",
        "/session/abc/%2E./drain", "/session/abc/.%2E", "/session/abc/%2e", "/session/a%2Fb/url",
        "/session/abc/x%2fy", "/session/abc/x%5Cy", "/session/abc/x\\y", "/session/abc/x%00",
        "/session/abc/x%", "/session/abc/x%4", "/session/abc/x%zz", "session/abc", ""}) {
    Result<RoutePath> route = ParseRoutePath(path);
    ASSERT_FALSE(route.ok()) << path;
    EXPECT_EQ(route.error().code, ErrorCode::kInvalidArgument) << path;
  }
}

TEST(HubRoutePathTest, SessionIdsAreBoundedPlainTokens) {
  EXPECT_TRUE(IsValidSessionId("4f1c2d9e-aa.b_C"));
  EXPECT_TRUE(IsValidSessionId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidSessionId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidSessionId(""));
  EXPECT_FALSE(IsValidSessionId("."));
  EXPECT_FALSE(IsValidSessionId(".."));
  EXPECT_TRUE(IsValidSessionId("..."));
  for (std::string_view id : {"a%2Fb", "a b", "a:b", "a+b", "\xc3\xa9", "a;b"}) {
    EXPECT_FALSE(IsValidSessionId(id)) << id;
  }
}

TEST(HubRoutePathTest, JoinRebuildsTheRoutedPath) {
  Result<RoutePath> route = ParseRoutePath("/wd/hub//session/abc//element/e1/click");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(JoinSegments(route->segments, 0), "/session/abc/element/e1/click");
  EXPECT_EQ(JoinSegments(route->segments, 5), "/");
}

}  // namespace
}  // namespace gridhub::hub
