#include "hub/session_record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace gridhub::hub {
namespace {

using nlohmann::json;

SessionRecord Full() {
  return {.id = SessionId("s-1"),
          .node_id = NodeId("node:1@a"),
          .node_uri = "http://10.0.0.5:5555/wd/hub",
          .bare_node = true,
          .sockets = {.bidi = true,
                      .cdp = true,
                      .bidi_upstream = "ws://10.0.0.5:9222/session/s-1",
                      .cdp_upstream = "ws://10.0.0.5:9223/devtools/browser/x"},
          .label = "chrome:linux",
          .run_id = "run-7",
          .slot_id = SlotId("slot 0"),
          .capabilities = {{"browserName", "chrome"}}};
}

TEST(SessionRecordTest, EveryFieldSurvivesTheStore) {
  Result<SessionRecord> back = RouteFromJson(json::parse(RouteToJson(Full()).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  const SessionRecord want = Full();
  EXPECT_EQ(back->id, want.id);
  EXPECT_EQ(back->node_id, want.node_id);
  EXPECT_EQ(back->node_uri, want.node_uri);
  EXPECT_TRUE(back->bare_node);
  EXPECT_TRUE(back->sockets.bidi);
  EXPECT_TRUE(back->sockets.cdp);
  EXPECT_EQ(back->sockets.bidi_upstream, want.sockets.bidi_upstream);
  EXPECT_EQ(back->sockets.cdp_upstream, want.sockets.cdp_upstream);
  EXPECT_EQ(back->label, "chrome:linux");
  EXPECT_EQ(back->run_id, "run-7");
  EXPECT_EQ(back->slot_id, SlotId("slot 0"));
  EXPECT_EQ(back->capabilities, want.capabilities);
}

TEST(SessionRecordTest, OnlyTheRouteIsRequired) {
  Result<SessionRecord> back =
      RouteFromJson({{"sessionId", "s1"}, {"nodeId", "n1"}, {"nodeUri", "http://10.0.0.5:5555/"}});
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->node_uri, "http://10.0.0.5:5555");  // normalised
  EXPECT_FALSE(back->bare_node);
  EXPECT_FALSE(back->sockets.bidi);
  EXPECT_EQ(back->label, "");
  EXPECT_EQ(back->capabilities, json::object());
}

TEST(SessionRecordTest, ARouteBecomesWhatTheProxyUses) {
  SessionRoute route = ToSessionRoute(Full());
  EXPECT_EQ(route.node_id, NodeId("node:1@a"));
  EXPECT_EQ(route.node_uri, "http://10.0.0.5:5555/wd/hub");
  EXPECT_TRUE(route.bare_node);
  EXPECT_EQ(route.sockets.cdp_upstream, "ws://10.0.0.5:9223/devtools/browser/x");
  EXPECT_EQ(route.label, "chrome:linux");
  EXPECT_EQ(route.run_id, "run-7");
  ASSERT_NE(route.activity, nullptr);  // the proxy stamps it
}

TEST(SessionRecordTest, BadInputIsRefusedNamingTheField) {
  const json good = RouteToJson(Full());
  struct Case {
    const char* key;
    json value;
    const char* named;
  };
  const Case cases[] = {
      {"sessionId", "../x", "sessionId"},
      {"sessionId", 7, "sessionId"},
      {"nodeId", "", "nodeId"},
      {"nodeId", "a/b", "nodeId"},
      {"nodeUri", "ftp://x:1", "nodeUri"},
      {"nodeUri", json::array(), "nodeUri"},
      {"bareNode", "yes", "bareNode"},
      {"label", std::string(300, 'a'), "label"},
      {"runId", 1, "runId"},
      {"slotId", json::object(), "slotId"},
      {"sockets", "none", "sockets"},
      {"capabilities", json::array(), "capabilities"},
  };
  for (const Case& c : cases) {
    json bad = good;
    bad[c.key] = c.value;
    Result<SessionRecord> parsed = RouteFromJson(bad);
    ASSERT_FALSE(parsed.ok()) << c.key;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(c.named), std::string::npos) << parsed.error().message;
  }
  json bad = good;
  bad["sockets"]["bidiUpstream"] = "http://10.0.0.5:1/";
  EXPECT_FALSE(RouteFromJson(bad).ok());
  bad = good;
  bad["sockets"]["cdp"] = 1;
  EXPECT_FALSE(RouteFromJson(bad).ok());
  bad = good;
  bad.erase("nodeUri");
  EXPECT_FALSE(RouteFromJson(bad).ok());
  EXPECT_FALSE(RouteFromJson(json::array()).ok());
  EXPECT_FALSE(RouteFromJson(json()).ok());
}

}  // namespace
}  // namespace gridhub::hub
