#include "hub/socket_answer.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::hub {
namespace {

using nlohmann::json;

constexpr std::string_view kBase = "wss://grid.example.com/wd/hub";
const SessionId kId("abc123");

json Answer(json caps) {
  return {{"value", {{"sessionId", kId.str()}, {"capabilities", std::move(caps)}}}};
}

const json& Caps(const json& body) { return body["value"]["capabilities"]; }

NodeUri Node(const std::string& uri) { return *ParseNodeUri(uri); }

TEST(SocketAnswerTest, AgentBidiUrlIsRewrittenToPublic) {
  json body = Answer(
      {{"browserName", "chrome"}, {"webSocketUrl", "ws://10.0.0.5:5555/session/abc123/se/bidi"}});
  SocketOffer offer = RewriteSocketUrls(body, kId, {.public_base = kBase});
  EXPECT_EQ(Caps(body)["webSocketUrl"], "wss://grid.example.com/wd/hub/session/abc123/se/bidi");
  EXPECT_TRUE(offer.bidi);
  EXPECT_EQ(offer.bidi_upstream, "");  // an agent is dialled at its own endpoint
  EXPECT_FALSE(Caps(body).contains("se:bidiEnabled"));
  EXPECT_FALSE(offer.cdp);
  EXPECT_FALSE(Caps(body).contains("se:cdp"));
}

TEST(SocketAnswerTest, ChromiumDevToolsAddressGetsCdpAndVersion) {
  for (const char* options : {"goog:chromeOptions", "ms:edgeOptions"}) {
    json body = Answer({{"browserName", "chrome"},
                        {"browserVersion", "156.0.8078.114"},
                        {options, {{"debuggerAddress", "localhost:39321"}}}});
    SocketOffer offer = RewriteSocketUrls(body, kId, {.public_base = "ws://hub:4444"});
    EXPECT_EQ(Caps(body)["se:cdp"], "ws://hub:4444/session/abc123/se/cdp") << options;
    EXPECT_EQ(Caps(body)["se:cdpVersion"], "156.0.8078.114");
    EXPECT_TRUE(offer.cdp);
    // The driver's address stays (Selenium Grid keeps it too); clients use se:cdp.
    EXPECT_EQ(Caps(body)[options]["debuggerAddress"], "localhost:39321");
  }
}

TEST(SocketAnswerTest, NodeCdpUrlIsOverriddenAndABadVersionDropped) {
  json body =
      Answer({{"se:cdp", "ws://10.0.0.5:5555/session/abc123/se/cdp"}, {"se:cdpVersion", 5}});
  SocketOffer offer = RewriteSocketUrls(body, kId, {.public_base = "ws://hub:4444"});
  EXPECT_EQ(Caps(body)["se:cdp"], "ws://hub:4444/session/abc123/se/cdp");
  EXPECT_FALSE(Caps(body).contains("se:cdpVersion"));
  EXPECT_TRUE(offer.cdp);
  json kept = Answer({{"se:cdp", "ws://x:1/y"}, {"se:cdpVersion", "120.0"}});
  RewriteSocketUrls(kept, kId, {.public_base = "ws://hub:4444"});
  EXPECT_EQ(Caps(kept)["se:cdpVersion"], "120.0");
}

TEST(SocketAnswerTest, WithoutPublicNothingIsOfferedAndNothingLocalLeaks) {
  json body = Answer({{"webSocketUrl", "ws://127.0.0.1:9515/session/abc123"},
                      {"goog:chromeOptions", {{"debuggerAddress", "localhost:1"}}},
                      {"se:cdp", "ws://127.0.0.1:1/devtools"},
                      {"se:cdpVersion", "1"}});
  SocketOffer offer = RewriteSocketUrls(body, kId, {});
  EXPECT_FALSE(offer.bidi);
  EXPECT_FALSE(offer.cdp);
  EXPECT_FALSE(Caps(body).contains("webSocketUrl"));
  EXPECT_FALSE(Caps(body).contains("se:cdp"));
  EXPECT_FALSE(Caps(body).contains("se:cdpVersion"));
  EXPECT_EQ(Caps(body)["se:bidiEnabled"], false);
  EXPECT_EQ(Caps(body)["se:cdpEnabled"], false);
}

TEST(SocketAnswerTest, NonStringWebSocketUrlIsNotOffered) {
  json body = Answer({{"webSocketUrl", true}});
  SocketOffer offer = RewriteSocketUrls(body, kId, {.public_base = "ws://hub:1"});
  EXPECT_FALSE(offer.bidi);
  EXPECT_FALSE(Caps(body).contains("webSocketUrl"));
  EXPECT_EQ(Caps(body)["se:bidiEnabled"], false);
}

TEST(SocketAnswerTest, NoSocketKeysMeansNothingAdded) {
  json body = Answer({{"browserName", "firefox"}});
  const json before = body;
  SocketOffer offer = RewriteSocketUrls(body, kId, {.public_base = "ws://hub:1"});
  EXPECT_EQ(body, before);
  EXPECT_FALSE(offer.bidi || offer.cdp);
  for (json odd :
       {json(), json::array(), json{{"value", 1}}, json{{"value", {{"capabilities", 1}}}}}) {
    const json copy = odd;
    RewriteSocketUrls(odd, kId, {.public_base = "ws://hub:1"});
    EXPECT_EQ(odd, copy);
  }
}

TEST(SocketAnswerTest, BareNodeBidiIsDialledAtTheDriversUrl) {
  NodeUri local = Node("http://127.0.0.1:9515");
  json body = Answer({{"webSocketUrl", "ws://127.0.0.1:9515/session/abc123"}});
  SocketOffer offer = RewriteSocketUrls(
      body, kId, {.public_base = "ws://hub:4444", .bare_node = true, .node_uri = &local});
  EXPECT_TRUE(offer.bidi);
  EXPECT_EQ(offer.bidi_upstream, "ws://127.0.0.1:9515/session/abc123");
  EXPECT_EQ(Caps(body)["webSocketUrl"], "ws://hub:4444/session/abc123/se/bidi");

  // A remote bare node reporting its own loopback: dialled at the node's host.
  NodeUri remote = Node("http://10.0.0.7:4444");
  json remote_body = Answer({{"webSocketUrl", "ws://127.0.0.1:4444/session/abc123"}});
  offer = RewriteSocketUrls(
      remote_body, kId, {.public_base = "ws://hub:4444", .bare_node = true, .node_uri = &remote});
  EXPECT_EQ(offer.bidi_upstream, "ws://10.0.0.7:4444/session/abc123");
}

TEST(SocketAnswerTest, BareNodeCannotPointTheHubElsewhere) {
  NodeUri node = Node("http://10.0.0.7:4444");
  for (const char* url :
       {"ws://10.9.9.9:4444/session/x", "wss://10.0.0.7:4444/s", "ws://10.0.0.7/s",
        "ws://u@10.0.0.7:1/s", "http://10.0.0.7:4444/s", "ws://10.0.0.7:1/a/../b"}) {
    json body = Answer({{"webSocketUrl", url}});
    SocketOffer offer = RewriteSocketUrls(
        body, kId, {.public_base = "ws://hub:4444", .bare_node = true, .node_uri = &node});
    EXPECT_FALSE(offer.bidi) << url;
    EXPECT_EQ(Caps(body)["se:bidiEnabled"], false) << url;
    EXPECT_FALSE(Caps(body).contains("webSocketUrl")) << url;
  }
}

TEST(SocketAnswerTest, BareNodeCdpNeedsAReachableDevTools) {
  NodeUri node = Node("http://127.0.0.1:9515");
  json body = Answer(
      {{"goog:chromeOptions", {{"debuggerAddress", "localhost:9222"}}}, {"browserVersion", "120"}});
  SocketOffer offer = RewriteSocketUrls(
      body, kId, {.public_base = "ws://hub:1", .bare_node = true, .node_uri = &node});
  EXPECT_FALSE(offer.cdp);
  EXPECT_EQ(Caps(body)["se:cdpEnabled"], false);
  json reachable = Answer(
      {{"goog:chromeOptions", {{"debuggerAddress", "localhost:9222"}}}, {"browserVersion", "120"}});
  offer = RewriteSocketUrls(reachable, kId,
                            {.public_base = "ws://hub:1",
                             .bare_node = true,
                             .node_uri = &node,
                             .cdp_upstream = "ws://localhost:9222/devtools/browser/u-1"});
  EXPECT_TRUE(offer.cdp);
  EXPECT_EQ(offer.cdp_upstream, "ws://localhost:9222/devtools/browser/u-1");
  EXPECT_EQ(Caps(reachable)["se:cdp"], "ws://hub:1/session/abc123/se/cdp");
  EXPECT_EQ(Caps(reachable)["se:cdpVersion"], "120");
}

TEST(SocketAnswerTest, DebuggerAddressReachability) {
  NodeUri local = Node("http://127.0.0.1:9515");
  NodeUri remote = Node("http://10.0.0.7:9515");
  EXPECT_TRUE(DebuggerAddressReachable("localhost:9222", local));
  EXPECT_TRUE(DebuggerAddressReachable("127.0.0.1:9222", local));
  EXPECT_FALSE(DebuggerAddressReachable("127.0.0.1:9222", remote));  // the node's own loopback
  EXPECT_TRUE(DebuggerAddressReachable("10.0.0.7:9222", remote));
  EXPECT_FALSE(DebuggerAddressReachable("10.0.0.8:9222", remote));
  for (const char* bad :
       {"", "localhost", "localhost:0", "localhost:1/x", "a b:1", "u@localhost:1"}) {
    EXPECT_FALSE(DebuggerAddressReachable(bad, local)) << bad;
  }
}

TEST(SocketAnswerTest, CdpUpstreamFromVersion) {
  EXPECT_EQ(
      CdpUpstreamFromVersion(
          "localhost:9222",
          R"({"Browser":"Chrome/120","webSocketDebuggerUrl":"ws://127.0.0.1:9222/devtools/browser/9f-1"})"),
      "ws://localhost:9222/devtools/browser/9f-1");
  EXPECT_EQ(CdpUpstreamFromVersion("localhost:9222", R"({"Browser":"x"})"), "");
  EXPECT_EQ(CdpUpstreamFromVersion("localhost:9222", "not json"), "");
  EXPECT_EQ(CdpUpstreamFromVersion("localhost:9222", R"({"webSocketDebuggerUrl":"http://x:1/a"})"),
            "");
}

TEST(SocketAnswerTest, ParseSocketTarget) {
  std::optional<SocketTarget> t = ParseSocketTarget("ws://[::1]:9515/session/x");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->host, "::1");
  EXPECT_EQ(t->port, 9515);
  EXPECT_EQ(t->path, "/session/x");
  EXPECT_EQ(t->host_port(), "[::1]:9515");
  EXPECT_EQ(ParseSocketTarget("ws://h:1")->path, "/");
  EXPECT_FALSE(ParseSocketTarget("wss://h:1/").has_value());
  EXPECT_FALSE(ParseSocketTarget("ws://h/").has_value());
}

TEST(SocketAnswerTest, DebuggerAddressOf) {
  EXPECT_EQ(DebuggerAddressOf({{"ms:edgeOptions", {{"debuggerAddress", "localhost:1"}}}}),
            "localhost:1");
  EXPECT_EQ(DebuggerAddressOf({{"goog:chromeOptions", {{"debuggerAddress", 1}}}}), "");
  EXPECT_EQ(DebuggerAddressOf({{"goog:chromeOptions", 1}}), "");
  EXPECT_EQ(DebuggerAddressOf(json::array()), "");
}

}  // namespace
}  // namespace gridhub::hub
