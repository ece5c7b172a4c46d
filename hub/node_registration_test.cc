#include "hub/node_registration.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gridhub::hub {
namespace {

using nlohmann::json;

json Body(json slots = json::array({{{"id", "s"}, {"stereotype", {{"browserName", "chrome"}}}}})) {
  return {{"id", "n1"}, {"uri", "http://10.0.0.5:5555/wd/hub/"}, {"slots", std::move(slots)}};
}

std::string ErrorOf(const json& body) {
  Result<NodeRegistration> parsed = ParseNodeRegistration(body);
  if (parsed.ok()) return "accepted";
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  return parsed.error().message;
}

json Slots(size_t n, int max_sessions = 1) {
  json slots = json::array();
  for (size_t i = 0; i < n; ++i) {
    slots.push_back({{"maxSessions", max_sessions}, {"stereotype", {{"browserName", "chrome"}}}});
  }
  return slots;
}

TEST(NodeRegistrationTest, ReadsIdUriSlotsAndDefaults) {
  json body = Body(json::array({{{"id", "a"},
                                 {"label", "AppA:Chromium"},
                                 {"maxSessions", 3},
                                 {"stereotype", {{"browserName", "chrome"}}}},
                                {{"stereotype", {{"browserName", "firefox"}}}},
                                {{"id", 7}}}));
  Result<NodeRegistration> node = ParseNodeRegistration(body);
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->id, NodeId("n1"));
  EXPECT_EQ(node->uri, "http://10.0.0.5:5555/wd/hub");  // normalised
  EXPECT_EQ(node->parsed_uri.port, 5555);
  EXPECT_EQ(node->health_check, HealthCheck::kHeartbeat);
  EXPECT_FALSE(node->draining);
  ASSERT_EQ(node->slots.size(), 3u);
  EXPECT_EQ(node->slots[0].id, SlotId("a"));
  EXPECT_EQ(node->slots[0].max_sessions, 3);
  EXPECT_EQ(node->slots[0].stereotype.label().str(), "appa:chromium");
  EXPECT_EQ(node->slots[1].id, SlotId("1"));  // no id: its index
  EXPECT_EQ(node->slots[1].max_sessions, 1);
  EXPECT_EQ(node->slots[2].id, SlotId("7"));  // an integer id, as text
  EXPECT_EQ(node->Capacity(), 5);
  EXPECT_TRUE(node->sessions.empty());
}

TEST(NodeRegistrationTest, RefusesWhatIsNotANodeObject) {
  EXPECT_EQ(ErrorOf(json::array()), "node registration must be a JSON object");
  EXPECT_EQ(ErrorOf(json("n1")), "node registration must be a JSON object");
  json body = Body();
  body.erase("id");
  EXPECT_EQ(ErrorOf(body), "id must be a non-empty string");
  body = Body();
  body["uri"] = 5;
  EXPECT_EQ(ErrorOf(body), "uri must be a non-empty string");
  body = Body();
  body.erase("slots");
  EXPECT_EQ(ErrorOf(body), "slots must be a non-empty array");
  EXPECT_EQ(ErrorOf(Body(json::array())), "slots must be a non-empty array");
  EXPECT_EQ(ErrorOf(Body(json::array({"chrome"}))), "slots[0]. must be an object");
}

TEST(NodeRegistrationTest, NodeIdsTravelInPathsSoTheirCharactersAreBounded) {
  for (const std::string& id :
       std::vector<std::string>{"a b", "a/b", ".", "..", std::string(129, 'a')}) {
    json body = Body();
    body["id"] = id;
    EXPECT_EQ(ErrorOf(body), "id must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -") << id;
  }
  json body = Body();
  body["id"] = std::string(128, 'a');
  EXPECT_EQ(ErrorOf(body), "accepted");
  body["id"] = "node-1.example:5555@x_y";
  EXPECT_EQ(ErrorOf(body), "accepted");
}

TEST(NodeRegistrationTest, UriFollowsTheNodeUriRules) {
  json body = Body();
  body["uri"] = "http://n1";
  EXPECT_NE(ErrorOf(body).find("uri"), std::string::npos);
  body["uri"] = "http://admin:pw@n1:5555";
  EXPECT_NE(ErrorOf(body).find("uri"), std::string::npos);
  body["uri"] = "https://[::1]:443";
  EXPECT_EQ(ErrorOf(body), "accepted");
}

TEST(NodeRegistrationTest, HealthCheckIsStatusOrHeartbeat) {
  json body = Body();
  body["healthCheck"] = "status";
  EXPECT_EQ(ParseNodeRegistration(body)->health_check, HealthCheck::kStatus);
  body["healthCheck"] = "heartbeat";
  EXPECT_EQ(ParseNodeRegistration(body)->health_check, HealthCheck::kHeartbeat);
  body["healthCheck"] = nullptr;
  EXPECT_EQ(ParseNodeRegistration(body)->health_check, HealthCheck::kHeartbeat);
  for (const json& bad : {json("ping"), json(true), json::array({"status"})}) {
    body["healthCheck"] = bad;
    EXPECT_EQ(ErrorOf(body), "healthCheck must be \"status\" or \"heartbeat\"") << bad;
  }
}

TEST(NodeRegistrationTest, AtMost1024Slots) {
  EXPECT_EQ(ErrorOf(Body(Slots(1024))), "accepted");
  EXPECT_EQ(ErrorOf(Body(Slots(1025))), "slots has 1025 entries; at most 1024 are allowed");
}

TEST(NodeRegistrationTest, MaxSessionsIsFrom1To1024) {
  EXPECT_EQ(ParseNodeRegistration(Body(Slots(1, 1024)))->Capacity(), 1024);
  EXPECT_EQ(ParseNodeRegistration(Body(Slots(1024, 1024)))->Capacity(), 1024 * 1024);
  for (const json& bad : {json(0), json(1025), json(-1), json(1.5), json("2")}) {
    json slots = Slots(1);
    slots[0]["maxSessions"] = bad;
    EXPECT_EQ(ErrorOf(Body(slots)), "slots[0].maxSessions must be an integer from 1 to 1024")
        << bad;
  }
}

TEST(NodeRegistrationTest, SlotIdsArePrintableAndDistinct) {
  json slots = Slots(2);
  slots[0]["id"] = "x";
  slots[1]["id"] = "x";
  EXPECT_EQ(ErrorOf(Body(slots)), "slots[1].id 'x' is repeated");
  slots[1]["id"] = 0;  // "0" as text: the first slot's implicit id would be "0" too
  slots[0].erase("id");
  EXPECT_EQ(ErrorOf(Body(slots)), "slots[1].id '0' is repeated");
  for (const std::string& id :
       std::vector<std::string>{"a b", "", std::string(129, 'a'), "caf\xc3\xa9"}) {
    slots[1]["id"] = id;
    EXPECT_EQ(ErrorOf(Body(slots)), "slots[1].id must be 1 to 128 printable ASCII characters")
        << id;
  }
  slots[1]["id"] = json::array();
  EXPECT_EQ(ErrorOf(Body(slots)), "slots[1].id must be a string");
}

TEST(NodeRegistrationTest, StereotypeAndLabelErrorsNameTheSlot) {
  json slots = Slots(1);
  slots[0]["stereotype"] = {{"browserName", 3}};
  EXPECT_EQ(ErrorOf(Body(slots)).rfind("slots[0].stereotype: ", 0), 0u);
  slots = Slots(1);
  slots[0]["label"] = 3;
  EXPECT_EQ(ErrorOf(Body(slots)), "slots[0].label must be a string");
}

TEST(NodeRegistrationTest, ReadsAdoptedSessionsAsIdsOrObjects) {
  json body = Body(Slots(2, 2));
  body["sessions"] = {"abc",
                      {{"sessionId", "def"}, {"slotId", "1"}, {"capabilities", {{"x", 1}}}},
                      {{"id", "ghi"}, {"slot", ""}}};
  Result<NodeRegistration> node = ParseNodeRegistration(body);
  ASSERT_TRUE(node.ok()) << node.error().message;
  ASSERT_EQ(node->sessions.size(), 3u);
  EXPECT_EQ(node->sessions[0].id, SessionId("abc"));
  EXPECT_FALSE(node->sessions[0].slot.has_value());
  EXPECT_EQ(node->sessions[0].capabilities, json::object());
  EXPECT_EQ(node->sessions[1].id, SessionId("def"));
  EXPECT_EQ(node->sessions[1].slot, SlotId("1"));
  EXPECT_EQ(node->sessions[1].capabilities, (json{{"x", 1}}));
  EXPECT_EQ(node->sessions[2].id, SessionId("ghi"));
  EXPECT_FALSE(node->sessions[2].slot.has_value());  // an empty slot id names no slot
}

TEST(NodeRegistrationTest, SessionsBeyondTheSlotsCapacityAreRefused) {
  json body = Body(Slots(2, 2));
  body["sessions"] = {"a", "b", "c", "d"};
  EXPECT_EQ(ErrorOf(body), "accepted");
  body["sessions"].push_back("e");
  EXPECT_EQ(ErrorOf(body), "sessions has 5 entries but the slots offer only 4");
  body["sessions"] = "a";
  EXPECT_EQ(ErrorOf(body), "sessions must be an array");
}

TEST(NodeRegistrationTest, SessionIdsMustBeRoutable) {
  json body = Body(Slots(1, 4));
  for (const json& bad : {json("../x"), json(""), json(5), json({{"slotId", "0"}})}) {
    body["sessions"] = json::array({bad});
    EXPECT_EQ(ErrorOf(body),
              "sessions[0] must be a session id (1 to 128 of A-Z a-z 0-9 . _ -) or an object "
              "with one")
        << bad;
  }
}

TEST(NodeRegistrationTest, DrainingAgentsRegisterDraining) {
  json body = Body();
  EXPECT_FALSE(ParseNodeRegistration(body)->draining);
  body["availability"] = "UP";
  EXPECT_FALSE(ParseNodeRegistration(body)->draining);
  body["availability"] = "DRAINING";
  EXPECT_TRUE(ParseNodeRegistration(body)->draining);
}

TEST(NodeRegistrationTest, ErrorsComeInFieldOrder) {
  json body = {{"id", "a b"}, {"uri", "nope"}, {"slots", json::array()}};
  EXPECT_EQ(ErrorOf(body), "id must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -");
  body["id"] = "n1";
  EXPECT_NE(ErrorOf(body).find("uri"), std::string::npos);
  body["uri"] = "http://n1:5555";
  body["healthCheck"] = "x";
  EXPECT_EQ(ErrorOf(body), "healthCheck must be \"status\" or \"heartbeat\"");
}

TEST(ParseHeartbeatReportTest, ReadsTheAgentsBodyAndRefusesWrongTypes) {
  Result<HeartbeatReport> report =
      ParseHeartbeatReport({{"sessions", {"a", "b"}}, {"draining", true}});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->sessions, (std::vector<SessionId>{SessionId("a"), SessionId("b")}));
  EXPECT_TRUE(report->draining);
  report = ParseHeartbeatReport(json::object());
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->sessions.has_value());
  EXPECT_FALSE(report->draining);
  report = ParseHeartbeatReport(nullptr);  // no body sent
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->sessions.has_value());
  report = ParseHeartbeatReport({{"sessions", json::array()}});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->sessions, std::vector<SessionId>());  // said: none
  EXPECT_EQ(ParseHeartbeatReport(json::array()).error().message,
            "heartbeat body must be a JSON object");
  EXPECT_EQ(ParseHeartbeatReport({{"sessions", "a"}}).error().message,
            "sessions must be an array of session ids");
  EXPECT_EQ(ParseHeartbeatReport({{"sessions", {1}}}).error().message,
            "sessions[0] must be a string");
  EXPECT_EQ(ParseHeartbeatReport({{"draining", "yes"}}).error().message,
            "draining must be true or false");
}

}  // namespace
}  // namespace gridhub::hub
