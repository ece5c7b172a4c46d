// Node agent behaviour through its HTTP surface, with a fake hub (an in-process HttpServer that
// records what the node tells it) and fake drivers (testdata/fake_driver.py, a W3C server on the
// --port it is given, run by Debian's /usr/bin/python3).

#include "node-agent/node_agent.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "node-agent/driver_process.h"
#include "node-agent/free_port.h"
#include "node-agent/node_server.h"
#include "node-agent/testing/fake_driver.h"
#include "node-agent/testing/fake_hub.h"
#include "node-agent/testing/node_server_fixture.h"
#include "node-agent/upload_archive.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using test_support::Eventually;
using test_support::kFakeDriver;
using test_support::kPython;

config::SlotConfig FakeDriverSlot(int max_sessions = 1) {
  config::SlotConfig slot;
  slot.label = "chrome";
  slot.max_sessions = max_sessions;
  slot.stereotype = {
      {"browserName", "chrome"},
      {"goog:chromeOptions", {{"binary", "/opt/fake/chrome"}, {"args", {"--headless"}}}}};
  slot.driver = {kPython, kFakeDriver};
  return slot;
}

bool ProcessGone(int pid) { return ::kill(pid, 0) != 0; }

class NodeAgentTest : public test_support::NodeServerFixture {
 protected:
  NodeAgentTest() : NodeServerFixture("node-a", "gridhub-node-test-", FakeDriverSlot()) {}
};

TEST_F(NodeAgentTest, RegistersWithSecretSlotsAndHeartbeats) {
  StartNode();
  ASSERT_TRUE(Eventually([&] { return hub_.Count("POST", "/nodes/node-a/heartbeat") >= 1; }));
  std::vector<Recorded> registrations = hub_.Requests("POST", "/nodes");
  ASSERT_GE(registrations.size(), 1u);
  const Recorded& r = registrations[0];
  EXPECT_EQ(r.secret, "s3cret");
  EXPECT_EQ(r.body["id"], "node-a");
  EXPECT_EQ(r.body["uri"], base_);
  ASSERT_EQ(r.body["slots"].size(), 1u);
  EXPECT_EQ(r.body["slots"][0]["id"], SlotIdOf(NodeId("node-a"), 0).str());
  EXPECT_EQ(r.body["slots"][0]["label"], "chrome");
  EXPECT_EQ(r.body["slots"][0]["maxSessions"], 1);
  EXPECT_EQ(r.body["slots"][0]["stereotype"]["browserName"], "chrome");
  EXPECT_EQ(r.body["sessions"], json::array());
  EXPECT_TRUE(node_->agent().registered());
}

TEST_F(NodeAgentTest, RetriesRegistrationUntilTheHubAccepts) {
  hub_.set_register_status(503);
  StartNode();
  ASSERT_TRUE(Eventually([&] { return hub_.Count("POST", "/nodes") >= 2; }));
  EXPECT_FALSE(node_->agent().registered());
  hub_.set_register_status(201);
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
}

TEST_F(NodeAgentTest, RegistersAgainWithLiveSessionsWhenTheHubForgetsIt) {
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  size_t before = hub_.Count("POST", "/nodes");
  hub_.set_heartbeat_status(404);  // the hub restarted
  ASSERT_TRUE(Eventually([&] { return hub_.Count("POST", "/nodes") > before; }));
  hub_.set_heartbeat_status(204);
  Recorded again = hub_.Requests("POST", "/nodes").back();
  ASSERT_EQ(again.body["sessions"].size(), 1u);
  EXPECT_EQ(again.body["sessions"][0]["id"], id);
  EXPECT_EQ(again.body["sessions"][0]["slotId"], SlotIdOf(NodeId("node-a"), 0).str());
}

TEST_F(NodeAgentTest, DriverSessionIsCreatedProxiedAndDeletedWithItsProcess) {
  StartNode();
  auto [id, caps] = NewSession({{"browserName", "chrome"},
                                {"gridhub:label", "chrome"},
                                {"goog:chromeOptions", {{"args", {"--window-size=800,600"}}}}});
  ASSERT_FALSE(id.empty());
  int pid = caps["fake:pid"].get<int>();
  // The driver got the request merged over the stereotype, hub keys removed, a fresh profile.
  EXPECT_FALSE(caps.contains("gridhub:label"));
  const json& chrome = caps["goog:chromeOptions"];
  EXPECT_EQ(chrome["binary"], "/opt/fake/chrome");
  std::vector<std::string> args = chrome["args"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(args.begin(), args.end(), "--headless"), args.end());
  EXPECT_NE(std::find(args.begin(), args.end(), "--window-size=800,600"), args.end());
  std::string profile;
  for (const std::string& a : args) {
    if (a.rfind("--user-data-dir=", 0) == 0) profile = a.substr(16);
  }
  ASSERT_FALSE(profile.empty());
  EXPECT_TRUE(std::filesystem::is_directory(profile));

  // Commands pass through byte for byte, including driver errors.
  http::ClientResponse nav =
      Call("POST", "/session/" + id + "/url", {{"url", "data:text/html,<title>x</title>"}});
  EXPECT_EQ(nav.status, 200);
  http::ClientResponse url = Call("GET", "/session/" + id + "/url");
  EXPECT_EQ(json::parse(url.body)["value"], "data:text/html,<title>x</title>");
  EXPECT_EQ(json::parse(Call("GET", "/session/" + id + "/title").body)["value"], "fake title");
  http::ClientResponse unknown = Call("GET", "/session/" + id + "/no/such/thing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["value"]["error"], "unknown command");

  // The slot is busy: a second session is refused by this node.
  http::ClientResponse second =
      Call("POST", "/session", {{"capabilities", {{"alwaysMatch", {{"browserName", "chrome"}}}}}});
  EXPECT_EQ(second.status, 500);
  EXPECT_EQ(json::parse(second.body)["value"]["error"], "session not created");

  http::ClientResponse deleted = Call("DELETE", "/session/" + id);
  EXPECT_EQ(deleted.status, 200);
  EXPECT_TRUE(ProcessGone(pid));  // DELETE answers once the driver is gone
  EXPECT_FALSE(std::filesystem::exists(profile));
  http::ClientResponse after = Call("GET", "/session/" + id + "/title");
  EXPECT_EQ(after.status, 404);
  EXPECT_EQ(json::parse(after.body)["value"]["error"], "invalid session id");
  // The slot is free again.
  auto [next, next_caps] = NewSession();
  EXPECT_FALSE(next.empty());
}

TEST_F(NodeAgentTest, DriverThatDiesEndsItsSessionFreesTheSlotAndTellsTheHub) {
  StartNode();
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(::kill(caps["fake:pid"].get<int>(), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&, id = id] { return hub_.Count("DELETE", "/session/" + id) == 1; }));
  http::ClientResponse after = Call("GET", "/session/" + id + "/title");
  EXPECT_EQ(after.status, 404);
  EXPECT_EQ(json::parse(after.body)["value"]["error"], "invalid session id");
  // The hub's DELETE that follows still succeeds, so it can free its slot cleanly.
  EXPECT_EQ(Call("DELETE", "/session/" + id).status, 200);
  auto [next, next_caps] = NewSession();
  EXPECT_FALSE(next.empty());
}

TEST_F(NodeAgentTest, IdleSessionIsEndedAndTheHubTold) {
  StartNode([](NodeAgentOptions& o) { o.session_timeout = 1s; });
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  int pid = caps["fake:pid"].get<int>();
  // A command in flight for longer than the timeout keeps the session alive.
  http::ClientResponse slow =
      Call("POST", "/session/" + id + "/execute/sync", {{"script", "sleep:1.5"}, {"args", {}}});
  EXPECT_EQ(slow.status, 200);
  EXPECT_EQ(hub_.Count("DELETE", "/session/" + id), 0u);
  ASSERT_TRUE(Eventually([&, id = id] { return hub_.Count("DELETE", "/session/" + id) == 1; }));
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 404);
}

TEST_F(NodeAgentTest, DrainRefusesNewSessionsFinishesRunningOnesThenDeregisters) {
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  node_->agent().Drain(DrainReason::kSignal);
  ASSERT_TRUE(Eventually([&] { return hub_.Count("POST", "/nodes/node-a/drain") == 1; }));
  EXPECT_EQ(hub_.Requests("POST", "/nodes/node-a/drain")[0].secret, "s3cret");
  http::ClientResponse refused =
      Call("POST", "/session", {{"capabilities", {{"alwaysMatch", json::object()}}}});
  EXPECT_EQ(refused.status, 500);
  // The running session still works until its client ends it.
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 200);
  EXPECT_FALSE(node_->agent().WaitDone(0s));
  EXPECT_EQ(hub_.Count("DELETE", "/nodes/node-a"), 0u);
  EXPECT_EQ(Call("DELETE", "/session/" + id).status, 200);
  EXPECT_TRUE(node_->agent().WaitDone(10s));
  EXPECT_EQ(hub_.Count("DELETE", "/nodes/node-a"), 1u);
}

TEST_F(NodeAgentTest, DrainTimeoutEndsSessionsThatDoNotFinish) {
  StartNode([](NodeAgentOptions& o) { o.drain_timeout = 500ms; });
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  node_->agent().Drain(DrainReason::kSignal);
  EXPECT_TRUE(node_->agent().WaitDone(10s));
  EXPECT_TRUE(ProcessGone(caps["fake:pid"].get<int>()));
  EXPECT_EQ(hub_.Count("DELETE", "/nodes/node-a"), 1u);
  // The hub hears about the ended session right after its slot is freed.
  EXPECT_TRUE(Eventually([&, id = id] { return hub_.Count("DELETE", "/session/" + id) == 1; }));
}

TEST_F(NodeAgentTest, DrainsAfterConfiguredNumberOfSessions) {
  StartNode([](NodeAgentOptions& o) {
    o.drain_after_sessions = 1;
    o.slots[0].max_sessions = 2;
  });
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Call("POST", "/session", {{"capabilities", {{"alwaysMatch", json::object()}}}}).status,
            500);
  EXPECT_EQ(Call("DELETE", "/session/" + id).status, 200);
  EXPECT_TRUE(node_->agent().WaitDone(10s));
}

TEST_F(NodeAgentTest, HubDrainRouteNeedsTheSecret) {
  StartNode();
  http::ClientResponse denied = CallWith("", "POST", "/se/grid/node/drain");
  EXPECT_EQ(denied.status, 401);
  http::ClientResponse ok = client_.SendSync({.method = "POST",
                                              .url = base_ + "/se/grid/node/drain",
                                              .headers = {{"X-Registration-Secret", "s3cret"}}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(node_->agent().WaitDone(10s));  // no sessions: leaves at once
}

TEST_F(NodeAgentTest, HeartbeatReplySayingDrainingStartsADrain) {
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  hub_.set_heartbeat_reply(200, R"({"value": {"id": "node-a", "availability": "DRAINING"}})");
  EXPECT_TRUE(node_->agent().WaitDone(10s));
  EXPECT_EQ(hub_.Count("DELETE", "/nodes/node-a"), 1u);
}

TEST_F(NodeAgentTest, SessionTheHubGaveUpOnIsEndedAtOnce) {
  ::setenv("FAKE_DRIVER_CREATE_DELAY", "1", 1);
  StartNode();
  // The caller stops waiting before the driver answers: the session must not hold the slot.
  http::ClientResponse r =
      client_.SendSync({.method = "POST",
                        .url = base_ + "/session",
                        .headers = {{"X-Registration-Secret", "s3cret"}},
                        .body = json({{"capabilities", {{"alwaysMatch", json::object()}}}}).dump(),
                        .timeout = 300ms});
  EXPECT_EQ(r.status, 0);
  ::unsetenv("FAKE_DRIVER_CREATE_DELAY");
  ASSERT_TRUE(Eventually([&] {
    json value = json::parse(Call("GET", "/status").body)["value"];
    return value["ready"].get<bool>() && value["node"]["sessionCount"] == 0 &&
           !std::filesystem::exists(node_->agent().work_dir() + "/session-1");
  }));
}

TEST_F(NodeAgentTest, DriverThatNeverGetsReadyFailsTheSessionAndFreesTheSlot) {
  ::setenv("FAKE_DRIVER_NOT_READY", "1", 1);
  StartNode([](NodeAgentOptions& o) { o.driver_ready_timeout = 1s; });
  http::ClientResponse r =
      Call("POST", "/session", {{"capabilities", {{"alwaysMatch", json::object()}}}});
  ::unsetenv("FAKE_DRIVER_NOT_READY");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("not ready"), std::string::npos) << r.body;
  auto [id, caps] = NewSession();
  EXPECT_FALSE(id.empty());
}

TEST_F(NodeAgentTest, RelaySlotForwardsToAnExistingDriver) {
  std::string relay_url = StartRelay();  // an already-running WebDriver server, as Appium
  ASSERT_FALSE(relay_url.empty());
  StartRelayNode(relay_url + "/");
  auto [id, caps] = NewSession({{"platformName", "android"}});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(caps["fake:pid"].get<int>(), relay_->pid());
  // Relayed sessions get no local profile: the browser is not on this machine.
  EXPECT_FALSE(caps.contains("goog:chromeOptions"));
  EXPECT_EQ(json::parse(Call("GET", "/session/" + id + "/title").body)["value"], "fake title");
  EXPECT_EQ(Call("DELETE", "/session/" + id).status, 200);
  EXPECT_FALSE(relay_->exited());  // the relay target outlives its sessions
  relay_->Terminate(2s);
}

TEST_F(NodeAgentTest, StatusDescribesSlotsAndUnknownRoutesAreW3CErrors) {
  StartNode();
  http::ClientResponse status = Call("GET", "/status");
  ASSERT_EQ(status.status, 200);
  json value = json::parse(status.body)["value"];
  EXPECT_TRUE(value["ready"].get<bool>());
  EXPECT_EQ(value["node"]["slots"].size(), 1u);
  http::ClientResponse unknown = Call("GET", "/nope");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["value"]["error"], "unknown command");
  http::ClientResponse bad = client_.SendSync({.method = "POST",
                                               .url = base_ + "/session",
                                               .headers = {{"X-Registration-Secret", "s3cret"}},
                                               .body = "{not json",
                                               .timeout = 5s});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Call("GET", "/session/nosuch/title").status, 404);
  EXPECT_EQ(Call("DELETE", "/session/nosuch").status, 404);
}

TEST_F(NodeAgentTest, DeeplyNestedNewSessionBodyIsRefusedWith400) {
  StartNode();
  // ~600 KB of nesting used to overflow the node's stack while merging capabilities.
  std::string deep = R"({"capabilities": {"alwaysMatch": {"x:deep": )" + std::string(300000, '[') +
                     std::string(300000, ']') + "}}}";
  http::ClientResponse r = client_.SendSync({.method = "POST",
                                             .url = base_ + "/session",
                                             .headers = {{"X-Registration-Secret", "s3cret"}},
                                             .body = deep,
                                             .timeout = 30s});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["value"]["error"], "invalid argument");
  EXPECT_NE(r.body.find("deeper"), std::string::npos) << r.body;
  EXPECT_EQ(Call("GET", "/status").status, 200);  // still serving
}

TEST_F(NodeAgentTest, DriverAnswersOfTheWrongShapeFailTheSessionCleanly) {
  // The answer goes through a file named once, before the node has threads: a setenv while
  // the node spawns a driver (reading the environment) would be a data race.
  const std::string answer_file = ::testing::TempDir() + "fake_driver_create_answer";
  ::setenv("FAKE_DRIVER_CREATE_ANSWER_FILE", answer_file.c_str(), 1);
  StartNode();
  for (const char* answer :
       {R"({"value": {"error": "session not created", "message": null}})",
        R"({"value": {"error": 5, "message": {"a": 1}}})", R"({"value": {"sessionId": 7}})",
        R"({"value": "x"})", R"([1, 2])", R"({"value": {"error": [)", "null"}) {
    std::ofstream(answer_file, std::ios::trunc) << answer;
    http::ClientResponse r =
        Call("POST", "/session", {{"capabilities", {{"alwaysMatch", json::object()}}}});
    EXPECT_EQ(r.status, 500) << answer;
    EXPECT_EQ(json::parse(r.body)["value"]["error"], "session not created") << answer;
  }
  // The slot was freed each time.
  std::ofstream(answer_file, std::ios::trunc).flush();
  auto [id, caps] = NewSession();
  EXPECT_FALSE(id.empty());
  std::remove(answer_file.c_str());
}

TEST_F(NodeAgentTest, HeartbeatReplyOfTheWrongShapeIsIgnored) {
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  size_t before = hub_.Count("POST", "/nodes/node-a/heartbeat");
  hub_.set_heartbeat_reply(200, R"({"value": {"availability": null}})");
  ASSERT_TRUE(
      Eventually([&] { return hub_.Count("POST", "/nodes/node-a/heartbeat") > before + 1; }));
  hub_.set_heartbeat_reply(200, R"({"availability": ["DRAINING"]})");
  before = hub_.Count("POST", "/nodes/node-a/heartbeat");
  ASSERT_TRUE(
      Eventually([&] { return hub_.Count("POST", "/nodes/node-a/heartbeat") > before + 1; }));
  EXPECT_FALSE(node_->agent().WaitDone(0s));
  EXPECT_EQ(Call("GET", "/status").status, 200);
}

TEST_F(NodeAgentTest, DriverThatExitsRightAfterCreatingEndsTheSession) {
  // The driver's exit races the node publishing the session: the node must not touch the
  // process another thread is ending (run under ASan/TSan to see a use-after-free).
  ::setenv("FAKE_DRIVER_EXIT_AFTER_CREATE", "1", 1);
  StartNode();
  for (int i = 0; i < 3; ++i) {
    http::ClientResponse r =
        Call("POST", "/session", {{"capabilities", {{"alwaysMatch", json::object()}}}});
    EXPECT_TRUE(r.status == 200 || r.status == 500) << r.body;
    ASSERT_TRUE(Eventually([&] {
      return json::parse(Call("GET", "/status").body)["value"]["node"]["sessionCount"] == 0;
    }));
  }
  ::unsetenv("FAKE_DRIVER_EXIT_AFTER_CREATE");
  auto [id, caps] = NewSession();
  EXPECT_FALSE(id.empty());
}

TEST_F(NodeAgentTest, WithASecretEveryRouteButStatusNeedsIt) {
  StartNode();
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  json body = {{"capabilities", {{"alwaysMatch", json::object()}}}};
  for (const std::string& secret : {std::string(), std::string("wrong"), std::string("s3cre")}) {
    for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"POST", "/session"},
             {"GET", "/session/" + id + "/title"},
             {"POST", "/session/" + id + "/url"},
             {"DELETE", "/session/" + id},
             {"POST", "/se/grid/node/drain"},
             {"POST", "/drain"},
             {"GET", "/wd/hub/session/" + id + "/title"},
             {"GET", "/nope"},
             {"POST", "/status"}}) {
      http::ClientResponse r = CallWith(secret, method, path, body);
      EXPECT_EQ(r.status, 401) << method << " " << path << " secret '" << secret << "'";
      EXPECT_NE(r.body.find("hub.registration-secret"), std::string::npos) << r.body;
    }
  }
  // The session was not touched and the node does not drain.
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 200);
  EXPECT_FALSE(node_->agent().WaitDone(0s));

  // GET /status stays open, without what would let a stranger drive the session.
  http::ClientResponse open = CallWith("", "GET", "/status");
  ASSERT_EQ(open.status, 200);
  EXPECT_EQ(open.body.find(id), std::string::npos) << open.body;
  json value = json::parse(open.body)["value"];
  EXPECT_EQ(value["node"]["sessionCount"], 1);
  EXPECT_FALSE(value["node"].contains("uri"));
  EXPECT_FALSE(value["node"]["slots"][0].contains("stereotype"));
  EXPECT_EQ(value["node"]["slots"][0]["sessionCount"], 1);
  http::ClientResponse full = Call("GET", "/status");
  EXPECT_NE(full.body.find(id), std::string::npos) << full.body;
}

TEST_F(NodeAgentTest, PathsWithDotSegmentsOrBadSessionIdsReachNoDriver) {
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  for (const std::string& path : {"/session/" + id + "/../../drain", "/session/" + id + "/../" + id,
                                  "/session/" + id + "/./title", "/session/" + id + "/%2e%2e/x",
                                  "/session/" + id + "/a%2Fb", "/session/" + id + "/a\\b"}) {
    http::ClientResponse r = Call("POST", path, json::object());
    EXPECT_EQ(r.status, 400) << path << ": " << r.body;
  }
  http::ClientResponse bad_id = Call("GET", "/session/a%20b/title");
  EXPECT_EQ(bad_id.status, 404);
  EXPECT_EQ(json::parse(bad_id.body)["value"]["error"], "invalid session id");
  EXPECT_EQ(Call("GET", "/session/" + std::string(129, 'a') + "/title").status, 404);
  // Nothing happened: the session lives, the node does not drain, no second session.
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 200);
  EXPECT_FALSE(node_->agent().WaitDone(0s));
  EXPECT_EQ(json::parse(Call("GET", "/status").body)["value"]["node"]["sessionCount"], 1);
}

TEST_F(NodeAgentTest, ReconfigureChangesTheSecretAndTimeoutsOfARunningNode) {
  StartNode([](NodeAgentOptions& o) { o.session_timeout = 0s; });
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());

  NodeAgentOptions fresh;
  fresh.registration_secret = "n3w";
  fresh.session_timeout = 1s;
  fresh.heartbeat_period = 200ms;
  fresh.drain_timeout = 60s;
  node_->agent().Reconfigure(fresh);
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 401);  // the old secret
  EXPECT_EQ(CallWith("n3w", "GET", "/status").body.find(id) != std::string::npos, true);
  // The hub hears the new secret on the next heartbeat.
  ASSERT_TRUE(Eventually([&] {
    std::vector<Recorded> beats = hub_.Requests("POST", "/nodes/node-a/heartbeat");
    return !beats.empty() && beats.back().secret == "n3w";
  }));
  // The session, never idle before, now idles out after 1 s and the hub is told.
  ASSERT_TRUE(Eventually([&, id = id] { return hub_.Count("DELETE", "/session/" + id) == 1; }));
  EXPECT_TRUE(ProcessGone(caps["fake:pid"].get<int>()));
}

TEST_F(NodeAgentTest, DriverAnswersAreReadOnlyUpToTheLimit) {
  StartNode([](NodeAgentOptions& o) { o.max_response_body = 64 * 1024; });
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  http::ClientResponse small =
      Call("POST", "/session/" + id + "/execute/sync", {{"script", "big:1000"}, {"args", {}}});
  EXPECT_EQ(small.status, 200);
  http::ClientResponse big =
      Call("POST", "/session/" + id + "/execute/sync", {{"script", "big:200000"}, {"args", {}}});
  EXPECT_EQ(big.status, 502) << big.body.substr(0, 300);
  EXPECT_NE(big.body.find("server.max-body"), std::string::npos) << big.body.substr(0, 300);
  EXPECT_LT(big.body.size(), 1000u);
  // The session is still usable.
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 200);
}

TEST_F(NodeAgentTest, SessionTheHubDoesNotKnowIsEndedOnTheNodeOnceTenSecondsOld) {
  use_fake_clock_ = true;
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  int pid = caps["fake:pid"].get<int>();
  hub_.set_heartbeat_reply(
      200, json({{"value", {{"id", "node-a"}, {"availability", "UP"}, {"unknownSessions", {id}}}}})
               .dump());
  // Node time runs at 50x from here (100 ms every 2 ms), so the maintenance thread heartbeats
  // every 200 ms of node time and the test never races one heartbeat against a jump.
  SteadyTime answered = fake_clock_.Now();
  std::atomic<bool> ticking = true;
  std::thread ticker([&] {
    while (ticking) {
      fake_clock_.Advance(100ms);
      std::this_thread::sleep_for(2ms);
    }
  });
  // Younger than 10 s the hub may not have recorded it yet: heartbeats pass, the session lives.
  ASSERT_TRUE(Eventually([&] { return fake_clock_.Now() >= answered + 8s; }));
  EXPECT_GE(hub_.Count("POST", "/nodes/node-a/heartbeat"), 3u);  // each listed it
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 200);
  bool gone = Eventually([&] { return ProcessGone(pid); });
  SteadyTime ended = fake_clock_.Now();
  ticking = false;
  ticker.join();
  ASSERT_TRUE(gone);
  EXPECT_GE(ended, answered + 10s);
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 404);
  // The hub does not know the session, so it is not told about it.
  EXPECT_EQ(hub_.Count("DELETE", "/session/" + id), 0u);
  // The slot is free again.
  hub_.set_heartbeat_reply(204, "");
  ASSERT_TRUE(Eventually([&] {
    return json::parse(Call("GET", "/status").body)["value"]["node"]["sessionCount"] == 0;
  }));
  auto [next, next_caps] = NewSession();
  EXPECT_FALSE(next.empty());
}

TEST(UnknownSessionsToEndTest, OnlySessionsAnsweredTenSecondsBeforeTheHeartbeat) {
  FakeClock clock;
  SteadyTime composed = clock.Now();
  std::map<SessionId, SteadyTime> answered = {{SessionId("old"), composed - 10s},
                                              {SessionId("young"), composed - 9s}};
  auto answered_at = [&](const SessionId& id) -> std::optional<SteadyTime> {
    auto it = answered.find(id);
    return it == answered.end() ? std::nullopt : std::optional(it->second);
  };
  std::vector<SessionId> unknown = {SessionId("young"), SessionId("old"), SessionId("gone")};
  EXPECT_EQ(UnknownSessionsToEnd(unknown, composed, answered_at),
            std::vector<SessionId>{SessionId("old")});
  EXPECT_EQ(UnknownSessionsToEnd(unknown, composed + 1s, answered_at),
            (std::vector<SessionId>{SessionId("young"), SessionId("old")}));
}

TEST(NodeServerTest, AdvertisedUriUsesLoopbackForAHubOnLoopback) {
  EXPECT_EQ(AdvertisedUri("10.0.0.7", 5555, "http://hub:4444"), "http://10.0.0.7:5555");
  for (const char* hub : {"http://localhost:4444", "http://127.0.0.1:4444", "http://[::1]:4444",
                          "http://127.1.2.3"}) {
    EXPECT_EQ(AdvertisedUri("0.0.0.0", 5555, hub), "http://127.0.0.1:5555") << hub;
    EXPECT_EQ(AdvertisedUri("::", 5555, hub), "http://127.0.0.1:5555") << hub;
  }
}

TEST(NodeServerTest, ReloadNamesWhatChangedAndWhatNeedsARestart) {
  config::Settings before;
  before.node.slots = {FakeDriverSlot()};
  config::Settings after = before;
  EXPECT_EQ(config::DescribeReload(CompareNodeSettings(before, after, ReloadScope::kNode)),
            "settings reloaded; nothing changed");
  after.node.session_timeout = 5s;
  after.hub.registration_secret = "new-secret-value";
  after.node.slots[0].max_sessions = 4;
  after.server.port = 1234;
  config::ReloadReport reload = CompareNodeSettings(before, after, ReloadScope::kNode);
  std::string line = config::DescribeReload(reload);
  EXPECT_EQ(line,
            "settings reloaded; changed: node.session-timeout, hub.registration-secret; need a "
            "restart (kept as they were): node.slots, server.port");
  EXPECT_EQ(line.find("new-secret-value"), std::string::npos);
  // A standalone's hub reports hub.* and server.* itself.
  config::ReloadReport standalone =
      CompareNodeSettings(before, after, ReloadScope::kStandaloneNode);
  EXPECT_EQ(standalone.applied, std::vector<std::string>{"node.session-timeout"});
  EXPECT_EQ(standalone.needs_restart, std::vector<std::string>{"node.slots"});
  // What needs a restart is kept as it runs, so the next reload reports it again.
  config::Settings kept = KeepRestartOnly(before, after, ReloadScope::kNode);
  EXPECT_EQ(kept.node.slots[0].max_sessions, 1);
  EXPECT_EQ(kept.server.port, before.server.port);
  EXPECT_EQ(kept.node.session_timeout, 5s);
  EXPECT_EQ(kept.hub.registration_secret, "new-secret-value");
}

TEST_F(NodeAgentTest, FileCallsKeepASessionAliveAndItsFolderGoesWithIt) {
  use_fake_clock_ = true;
  StartNode([](NodeAgentOptions& o) { o.session_timeout = 5s; });
  auto [id, caps] = NewSession();
  ASSERT_FALSE(id.empty());
  json upload = {{"file", EncodeBase64(*ZipOneFile("a.txt", "kept alive"))}};
  std::string path;
  // Twelve seconds of node time, an upload every two: never idle.
  for (int i = 0; i < 6; ++i) {
    fake_clock_.Advance(2s);
    http::ClientResponse r = Call("POST", "/session/" + id + "/se/file", upload);
    ASSERT_EQ(r.status, 200) << r.body;
    path = json::parse(r.body)["value"].get<std::string>();
  }
  EXPECT_EQ(hub_.Count("DELETE", "/session/" + id), 0u);
  ASSERT_TRUE(std::filesystem::exists(path));
  // Silence ends it, and the upload folder goes with the session's directory.
  SteadyTime silent_since = fake_clock_.Now();
  bool ended = false;
  while (!ended && fake_clock_.Now() < silent_since + 30s) {
    fake_clock_.Advance(250ms);
    ended = Eventually([&, id = id] { return hub_.Count("DELETE", "/session/" + id) == 1; }, 20ms);
  }
  ASSERT_TRUE(ended);
  EXPECT_GE(fake_clock_.Now(), silent_since + 5s);
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(path); }));
  EXPECT_EQ(Call("POST", "/session/" + id + "/se/file", upload).status, 404);
}

}  // namespace
}  // namespace gridhub::node
