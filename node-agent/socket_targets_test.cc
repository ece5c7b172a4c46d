#include "node-agent/socket_targets.h"

#include <gtest/gtest.h>

namespace gridhub::node {
namespace {

using nlohmann::json;

const SessionId kId("abc123");

json ChromeDriverCapabilities() {
  // The shape chromedriver 156 answers with webSocketUrl: true.
  return {{"browserName", "chrome"},
          {"browserVersion", "156.0.8078.114"},
          {"goog:chromeOptions", {{"debuggerAddress", "localhost:41234"}}},
          {"webSocketUrl", "ws://127.0.0.1:9515/session/abc123"}};
}

TEST(SocketTargetsTest, ParsesWebSocketUrls) {
  Result<SocketEndpoint> bidi = ParseWebSocketUrl("ws://127.0.0.1:9515/session/abc123");
  ASSERT_TRUE(bidi.ok());
  EXPECT_EQ(*bidi, (SocketEndpoint{"127.0.0.1", 9515, "/session/abc123"}));
  EXPECT_EQ(bidi->HostPort(), "127.0.0.1:9515");
  Result<SocketEndpoint> v6 = ParseWebSocketUrl("ws://[::1]:4444");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(*v6, (SocketEndpoint{"::1", 4444, "/"}));
  EXPECT_EQ(v6->HostPort(), "[::1]:4444");
  EXPECT_EQ(ParseWebSocketUrl("ws://h/p?x=1")->path, "/p?x=1");
  EXPECT_EQ(ParseWebSocketUrl("ws://h/p")->port, 80);
  for (const char* bad :
       {"wss://h:1/p", "http://h:1/p", "ws://", "ws://u@h:1/", "ws://h:0/", "true", ""}) {
    EXPECT_FALSE(ParseWebSocketUrl(bad).ok()) << bad;
  }
}

TEST(SocketTargetsTest, DevToolsAddressIsHostAndPortWithLocalhostOnIpv4) {
  EXPECT_EQ(*ParseDevToolsAddress("localhost:41234"), (SocketEndpoint{"127.0.0.1", 41234, ""}));
  EXPECT_EQ(*ParseDevToolsAddress("[::1]:9222"), (SocketEndpoint{"::1", 9222, ""}));
  for (const char* bad : {"localhost", "localhost:1/x", "", "a b:1"}) {
    EXPECT_FALSE(ParseDevToolsAddress(bad).ok()) << bad;
  }
}

TEST(SocketTargetsTest, BrowserEndpointPathComesFromJsonVersion) {
  Result<std::string> path = BrowserEndpointPath(
      R"({"Browser": "Chrome/156.0.8078.114",
          "webSocketDebuggerUrl": "ws://localhost:41234/devtools/browser/4f1c-77"})");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, "/devtools/browser/4f1c-77");
  EXPECT_FALSE(BrowserEndpointPath(R"({"Browser": "x"})").ok());
  EXPECT_FALSE(BrowserEndpointPath("<html>").ok());
  EXPECT_FALSE(BrowserEndpointPath(R"({"webSocketDebuggerUrl": 7})").ok());
}

TEST(SocketTargetsTest, DriverTargetsAreItsWebSocketUrlAndDevToolsAddress) {
  SocketTargets targets = DriverSocketTargets(ChromeDriverCapabilities());
  ASSERT_TRUE(targets.bidi);
  EXPECT_EQ(*targets.bidi, (SocketEndpoint{"127.0.0.1", 9515, "/session/abc123"}));
  ASSERT_TRUE(targets.devtools);
  EXPECT_EQ(*targets.devtools, (SocketEndpoint{"127.0.0.1", 41234, ""}));
  EXPECT_FALSE(targets.cdp);
  EXPECT_TRUE(targets.offer_bidi && targets.offer_cdp);
  EXPECT_TRUE(targets.has(SocketKind::kBidi) && targets.has(SocketKind::kCdp));

  json edge = {{"ms:edgeOptions", {{"debuggerAddress", "127.0.0.1:9333"}}}};
  SocketTargets edge_targets = DriverSocketTargets(edge);
  EXPECT_FALSE(edge_targets.bidi);
  EXPECT_FALSE(edge_targets.has(SocketKind::kBidi));
  EXPECT_EQ(edge_targets.devtools->port, 9333);

  SocketTargets firefox = DriverSocketTargets({{"browserName", "firefox"}});
  EXPECT_FALSE(firefox.has(SocketKind::kBidi) || firefox.has(SocketKind::kCdp));
  EXPECT_FALSE(firefox.bidi_unusable);
}

TEST(SocketTargetsTest, AWebSocketUrlTheNodeCannotDialIsUnusable) {
  for (const json& url : {json(true), json("wss://127.0.0.1:9/s"), json("nonsense"), json(7)}) {
    SocketTargets targets = DriverSocketTargets({{"webSocketUrl", url}});
    EXPECT_TRUE(targets.bidi_unusable) << url;
    EXPECT_FALSE(targets.bidi) << url;
  }
  EXPECT_FALSE(DriverSocketTargets({{"webSocketUrl", false}}).bidi_unusable);
}

TEST(SocketTargetsTest, NodeUrlsReplaceTheDriversInTheAnswer) {
  json caps = ChromeDriverCapabilities();
  SocketTargets targets = DriverSocketTargets(caps);
  ASSERT_TRUE(OfferNodeSockets(caps, "http://10.0.0.5:5555", kId, targets));
  EXPECT_EQ(caps["webSocketUrl"], "ws://10.0.0.5:5555/session/abc123/se/bidi");
  EXPECT_EQ(caps["se:cdp"], "ws://10.0.0.5:5555/session/abc123/se/cdp");
  EXPECT_EQ(caps["se:cdpVersion"], "156.0.8078.114");
  // Kept: the hub and Selenium's clients read it; the node offers the socket itself.
  EXPECT_EQ(caps["goog:chromeOptions"]["debuggerAddress"], "localhost:41234");

  EXPECT_EQ(NodeSocketUrl("https://grid.example/node7/", kId, SocketKind::kCdp),
            "wss://grid.example/node7/session/abc123/se/cdp");

  json unusable = {{"webSocketUrl", true}};
  ASSERT_TRUE(OfferNodeSockets(unusable, "http://n:1", kId, DriverSocketTargets(unusable)));
  EXPECT_FALSE(unusable.contains("webSocketUrl"));
  EXPECT_EQ(unusable["se:bidiEnabled"], false);

  json plain = {{"browserName", "firefox"}};
  EXPECT_FALSE(OfferNodeSockets(plain, "http://n:1", kId, DriverSocketTargets(plain)));
  EXPECT_EQ(plain, json({{"browserName", "firefox"}}));
}

TEST(SocketTargetsTest, RelayTargetsAreItsOwnUrlsElseItsSePaths) {
  json grid_node = {{"webSocketUrl", "ws://10.0.0.9:5555/session/abc123/se/bidi"},
                    {"se:cdp", "ws://10.0.0.9:5555/session/abc123/se/cdp"},
                    {"goog:chromeOptions", {{"debuggerAddress", "localhost:9"}}}};
  SocketTargets relayed = RelaySocketTargets(grid_node, "http://10.0.0.9:5555", kId);
  EXPECT_EQ(*relayed.bidi, (SocketEndpoint{"10.0.0.9", 5555, "/session/abc123/se/bidi"}));
  EXPECT_EQ(*relayed.cdp, (SocketEndpoint{"10.0.0.9", 5555, "/session/abc123/se/cdp"}));
  EXPECT_FALSE(relayed.devtools);
  EXPECT_TRUE(relayed.offer_bidi && relayed.offer_cdp);

  // A relay that said nothing: its /se paths are dialled on request, not offered.
  SocketTargets silent =
      RelaySocketTargets({{"platformName", "android"}}, "http://10.0.0.9:4723/wd/hub", kId);
  EXPECT_EQ(*silent.bidi, (SocketEndpoint{"10.0.0.9", 4723, "/wd/hub/session/abc123/se/bidi"}));
  EXPECT_EQ(*silent.cdp, (SocketEndpoint{"10.0.0.9", 4723, "/wd/hub/session/abc123/se/cdp"}));
  EXPECT_FALSE(silent.offer_bidi || silent.offer_cdp);
  json caps = {{"platformName", "android"}};
  EXPECT_FALSE(OfferNodeSockets(caps, "http://n:1", kId, silent));

  // A DevTools address is the relay machine's: usable only when that is this machine.
  json chromedriver = {{"goog:chromeOptions", {{"debuggerAddress", "localhost:9222"}}}};
  EXPECT_TRUE(RelaySocketTargets(chromedriver, "http://127.0.0.1:9515", kId).devtools);
  SocketTargets remote = RelaySocketTargets(chromedriver, "http://10.0.0.9:9515", kId);
  EXPECT_FALSE(remote.devtools);
  EXPECT_FALSE(remote.offer_cdp);

  // The tunnel speaks no TLS.
  SocketTargets tls = RelaySocketTargets({}, "https://10.0.0.9:4723", kId);
  EXPECT_FALSE(tls.has(SocketKind::kBidi) || tls.has(SocketKind::kCdp));
  json wss = {{"se:cdp", "wss://10.0.0.9/x"}};
  ASSERT_TRUE(OfferNodeSockets(wss, "http://n:1", kId, RelaySocketTargets(wss, "https://r", kId)));
  EXPECT_FALSE(wss.contains("se:cdp"));
  EXPECT_EQ(wss["se:cdpEnabled"], false);
}

TEST(SocketTargetsTest, WithCapabilitiesReplacesOnlyTheCapabilities) {
  std::string body = R"({"value": {"sessionId": "abc123", "capabilities": {"a": 1}, "x": 2}})";
  json out = json::parse(WithCapabilities(body, {{"b", 2}}));
  EXPECT_EQ(out, json::parse(R"({"value": {"sessionId": "abc123", "capabilities": {"b": 2},
                                           "x": 2}})"));
  EXPECT_EQ(WithCapabilities("not json", {{"b", 2}}), "not json");
  EXPECT_EQ(WithCapabilities(R"({"value": 3})", {{"b", 2}}), R"({"value": 3})");
}

}  // namespace
}  // namespace gridhub::node
