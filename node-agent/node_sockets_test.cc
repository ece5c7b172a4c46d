// The node's WebSocket routes (/session/{id}/se/bidi and /se/cdp) through its HTTP surface: an
// in-process NodeServer with a fake hub and testdata/fake_driver.py, whose sockets echo every
// frame and whose DevTools endpoint refuses what Chromium's refuses (an Origin header, a Host
// that is not an IP address or localhost). The client end is testing/test_websocket.h.

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "node-agent/driver_process.h"
#include "node-agent/free_port.h"
#include "node-agent/node_server.h"
#include "node-agent/testing/fake_driver.h"
#include "node-agent/testing/fake_hub.h"
#include "node-agent/testing/node_server_fixture.h"
#include "node-agent/testing/test_websocket.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test_support::Eventually;
using test_support::TestWebSocket;

// Open sockets of this process: what a tunnel holds (two per socket). Other descriptors are
// left out: a sanitizer's symbolizer opens pipes of its own at any moment.
size_t OpenSockets() {
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string().starts_with("socket:")) ++count;
  }
  return count;
}

// What each open descriptor is, for a failure message.
std::string DescriptorTargets() {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    out += entry.path().filename().string() + "->" +
           std::filesystem::read_symlink(entry.path(), ec).string() + " ";
  }
  return out;
}

config::SlotConfig ChromeSlot() {
  config::SlotConfig slot;
  slot.label = "chrome";
  slot.stereotype = {{"browserName", "chrome"},
                     {"browserVersion", "156.0.8078.114"},
                     {"goog:chromeOptions", {{"binary", "/opt/fake/chrome"}}}};
  slot.driver = {test_support::kPython, test_support::kFakeDriver};
  return slot;
}

class NodeSocketsTest : public test_support::NodeServerFixture {
 protected:
  NodeSocketsTest() : NodeServerFixture("node-ws", "gridhub-node-ws-test-", ChromeSlot()) {}
  std::pair<std::string, json> BidiSession() {
    return NewSession({{"browserName", "chrome"}, {"webSocketUrl", true}});
  }
  int Upgrade(TestWebSocket& ws, const std::string& path, http::Headers extra = {}) {
    extra.emplace_back("X-Registration-Secret", "s3cret");
    return ws.Connect(node_->port(), path, extra);
  }
  // The driver's /fake/upgrades: headers of every upgrade it received.
  json DriverUpgrades(const json& caps) {
    std::string address = caps["goog:chromeOptions"]["debuggerAddress"];  // the node keeps it
    return json::parse(
        client_.SendSync({.url = "http://" + address + "/fake/upgrades", .timeout = 5s}).body,
        nullptr, false)["value"];
  }
};

TEST_F(NodeSocketsTest, AnswerNamesTheNodesSocketUrlsNotTheDrivers) {
  StartNode();
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  std::string node = "ws://127.0.0.1:" + std::to_string(node_->port());
  EXPECT_EQ(caps["webSocketUrl"], node + "/session/" + id + "/se/bidi");
  EXPECT_EQ(caps["se:cdp"], node + "/session/" + id + "/se/cdp");
  EXPECT_EQ(caps["se:cdpVersion"], "156.0.8078.114");
  // The hub learns the same capabilities when the node registers again.
  hub_.set_heartbeat_status(404);
  ASSERT_TRUE(Eventually([&] {
    std::vector<Recorded> r = hub_.Requests("POST", "/nodes");
    return !r.empty() && r.back().body["sessions"].size() == 1;
  }));
  EXPECT_EQ(
      hub_.Requests("POST", "/nodes").back().body["sessions"][0]["capabilities"]["webSocketUrl"],
      node + "/session/" + id + "/se/bidi");
}

TEST_F(NodeSocketsTest, RefusedUpgradesAreW3CErrors) {
  StartNode();
  auto [plain, plain_caps] = NewSession({{"browserName", "chrome"}});
  ASSERT_FALSE(plain.empty());
  EXPECT_FALSE(plain_caps.contains("webSocketUrl"));
  auto error_of = [](const TestWebSocket& ws) {
    std::string answer = ws.answer();
    json body = json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
    return body.is_discarded() ? std::string("?") : body["value"]["error"].get<std::string>();
  };
  {  // no webSocketUrl asked for: no BiDi socket
    TestWebSocket ws;
    EXPECT_EQ(Upgrade(ws, "/session/" + plain + "/se/bidi"), 404);
    EXPECT_EQ(error_of(ws), "unknown command");
    EXPECT_NE(ws.answer().find("webSocketUrl"), std::string::npos) << ws.answer();
  }
  {
    TestWebSocket ws;
    EXPECT_EQ(Upgrade(ws, "/session/nosuchsession/se/cdp"), 404);
    EXPECT_EQ(error_of(ws), "invalid session id");
  }
  for (const std::string& secret : {std::string(), std::string("wrong")}) {
    TestWebSocket ws;
    http::Headers headers;
    if (!secret.empty()) headers.emplace_back("X-Registration-Secret", secret);
    EXPECT_EQ(ws.Connect(node_->port(), "/session/" + plain + "/se/cdp", headers), 401);
  }
  // Without Upgrade it is not a socket; other methods are not either.
  EXPECT_EQ(Call("GET", "/session/" + plain + "/se/cdp").status, 400);
  EXPECT_EQ(Call("POST", "/session/" + plain + "/se/cdp", json::object()).status, 405);
  EXPECT_EQ(node_->agent().socket_count(), 0u);
  EXPECT_EQ(Call("GET", "/session/" + plain + "/title").status, 200);
}

TEST_F(NodeSocketsTest, BidiSocketReachesTheDriverWithBytesBothWays) {
  StartNode();
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  TestWebSocket ws;
  ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
  ASSERT_TRUE(ws.SendText(R"({"id":1,"method":"session.status","params":{}})"));
  EXPECT_EQ(ws.ReadMessage(), R"({"id":1,"method":"session.status","params":{}})");
  // Large in both directions: a 300 KiB message to the driver and 1 MiB from it.
  std::string big(300 << 10, 'b');
  ASSERT_TRUE(ws.SendFrame(0x2, big));
  auto echoed = ws.ReadFrame();
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->first, 0x2);
  EXPECT_EQ(echoed->second, big);
  ASSERT_TRUE(ws.SendText("send:1048576"));
  EXPECT_EQ(ws.ReadMessage().size(), size_t{1} << 20);
  EXPECT_EQ(ws.ReadMessage(), "send:1048576");
  EXPECT_EQ(node_->agent().socket_count(), 1u);
  // The legacy prefix works too; the driver saw its own path and Host.
  TestWebSocket legacy;
  ASSERT_EQ(Upgrade(legacy, "/wd/hub/session/" + id + "/se/bidi"), 101) << legacy.answer();
  json upgrades = DriverUpgrades(caps);
  ASSERT_EQ(upgrades.size(), 2u);
  std::string address = caps["goog:chromeOptions"]["debuggerAddress"];  // the fake's own port
  EXPECT_EQ(upgrades[0]["Host"], "127.0.0.1:" + address.substr(address.find(':') + 1));
  EXPECT_FALSE(upgrades[0].contains("X-Registration-Secret"));
}

TEST_F(NodeSocketsTest, CdpSocketReachesTheBrowserEndpointWithoutTheClientsOrigin) {
  StartNode();
  auto [id, caps] = NewSession({{"browserName", "chrome"}});
  ASSERT_FALSE(id.empty());
  for (int i = 0; i < 2; ++i) {  // the second finds the browser endpoint remembered
    TestWebSocket ws;
    // The fake, like Chromium, refuses any Origin: the node must not pass the client's on.
    ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/cdp", {{"Origin", "http://evil.example"}}), 101)
        << ws.answer();
    ASSERT_TRUE(ws.SendText(R"({"id":1,"method":"Browser.getVersion"})"));
    EXPECT_EQ(ws.ReadMessage(), R"({"id":1,"method":"Browser.getVersion"})");
  }
  json upgrades = DriverUpgrades(caps);
  ASSERT_EQ(upgrades.size(), 2u);
  EXPECT_FALSE(upgrades[0].contains("Origin"));
}

TEST_F(NodeSocketsTest, SocketTrafficKeepsASessionAliveAndSilenceDoesNot) {
  use_fake_clock_ = true;
  StartNode([](NodeAgentOptions& o) { o.session_timeout = 5s; });
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  int pid = caps["fake:pid"].get<int>();
  TestWebSocket ws;
  ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
  // Twelve seconds of node time, one message every two: busy over BiDi only, never idle.
  for (int i = 0; i < 6; ++i) {
    fake_clock_.Advance(2s);
    ASSERT_TRUE(ws.SendText("ping " + std::to_string(i)));
    ASSERT_EQ(ws.ReadMessage(), "ping " + std::to_string(i));
  }
  // Half a second later: bytes the idle clock is not told of at once (once a second at most),
  // yet the idle timeout counts from them.
  fake_clock_.Advance(500ms);
  ASSERT_TRUE(ws.SendText("last"));
  ASSERT_EQ(ws.ReadMessage(), "last");
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_EQ(hub_.Count("DELETE", "/session/" + id), 0u);
  // An open socket with no traffic is idle: the session ends and so does its socket. Time moves
  // in small steps: the pump reports the last bytes a moment after they were relayed, and
  // that report must not land after one big jump past the deadline.
  SteadyTime silent_since = fake_clock_.Now();
  bool ended = false;
  while (!ended && fake_clock_.Now() < silent_since + 30s) {
    fake_clock_.Advance(250ms);
    // Ending a session closes its sockets first.
    ended = Eventually([&] { return node_->agent().socket_count() == 0; }, 20ms);
  }
  ASSERT_TRUE(ended);
  EXPECT_GE(fake_clock_.Now(), silent_since + 5s);
  EXPECT_LE(fake_clock_.Now(), silent_since + 7s);
  EXPECT_TRUE(ws.WaitClosedByPeer(10s));
  EXPECT_TRUE(Eventually([&, id = id] { return hub_.Count("DELETE", "/session/" + id) == 1; }));
  EXPECT_TRUE(Eventually([&] { return ::kill(pid, 0) != 0; }));
}

TEST_F(NodeSocketsTest, EndingASessionClosesItsSocketsAndLeaksNoDescriptor) {
  StartNode();
  // Warm up what opens descriptors once (the client's connection cache, the driver's pipes).
  auto [warm, warm_caps] = BidiSession();
  ASSERT_FALSE(warm.empty());
  {
    TestWebSocket cdp;
    ASSERT_EQ(Upgrade(cdp, "/session/" + warm + "/se/cdp"), 101) << cdp.answer();
  }
  ASSERT_EQ(Call("DELETE", "/session/" + warm).status, 200);
  ASSERT_TRUE(Eventually([&] { return node_->agent().socket_count() == 0; }));
  size_t before = OpenSockets();
  for (int round = 0; round < 3; ++round) {
    auto [id, caps] = BidiSession();
    ASSERT_FALSE(id.empty());
    TestWebSocket bidi, cdp;
    ASSERT_EQ(Upgrade(bidi, "/session/" + id + "/se/bidi"), 101) << bidi.answer();
    ASSERT_EQ(Upgrade(cdp, "/session/" + id + "/se/cdp"), 101) << cdp.answer();
    EXPECT_EQ(node_->agent().socket_count(), 2u);
    ASSERT_EQ(Call("DELETE", "/session/" + id).status, 200);
    EXPECT_TRUE(bidi.WaitClosedByPeer(10s));
    EXPECT_TRUE(cdp.WaitClosedByPeer(10s));
    EXPECT_TRUE(Eventually([&] { return node_->agent().socket_count() == 0; }));
    // The session is gone for new sockets too.
    TestWebSocket late;
    EXPECT_EQ(Upgrade(late, "/session/" + id + "/se/bidi"), 404);
  }
  EXPECT_TRUE(Eventually([&] { return OpenSockets() <= before; }))
      << OpenSockets() << " open, " << before << " before: " << DescriptorTargets();
}

TEST_F(NodeSocketsTest, DriverThatDiesTakesItsSocketsAlong) {
  StartNode();
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  TestWebSocket ws;
  ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
  ASSERT_EQ(::kill(caps["fake:pid"].get<int>(), SIGKILL), 0);
  EXPECT_TRUE(ws.WaitClosedByPeer(10s));
  EXPECT_TRUE(Eventually([&] { return node_->agent().socket_count() == 0; }));
}

TEST_F(NodeSocketsTest, DrainTimeoutAndTheHubNotKnowingASessionCloseItsSockets) {
  StartNode([](NodeAgentOptions& o) { o.drain_timeout = 500ms; });
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  TestWebSocket ws;
  ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
  node_->agent().Drain(DrainReason::kSignal);
  EXPECT_TRUE(ws.WaitClosedByPeer(10s));
  EXPECT_TRUE(node_->agent().WaitDone(10s));
}

TEST_F(NodeSocketsTest, SessionUnknownToTheHubLosesItsSockets) {
  use_fake_clock_ = true;
  StartNode();
  ASSERT_TRUE(Eventually([&] { return node_->agent().registered(); }));
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  TestWebSocket ws;
  ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
  hub_.set_heartbeat_reply(
      200, json({{"value", {{"id", "node-ws"}, {"availability", "UP"}, {"unknownSessions", {id}}}}})
               .dump());
  // Past the grace the node gives a young session, in heartbeat-sized steps.
  bool closed = false;
  for (int step = 0; step < 100 && !closed; ++step) {
    fake_clock_.Advance(200ms);
    closed = ws.WaitClosedByPeer(20ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_TRUE(Eventually([&] { return node_->agent().socket_count() == 0; }));
}

TEST_F(NodeSocketsTest, StopClosesEverySocket) {
  StartNode();
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  TestWebSocket ws;
  ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
  node_->Stop();
  EXPECT_TRUE(ws.WaitClosedByPeer(10s));
}

TEST_F(NodeSocketsTest, RelaySlotSocketsGoToTheRelay) {
  std::string relay_url = StartRelay();  // as another grid node or Appium would be
  ASSERT_FALSE(relay_url.empty());
  StartRelayNode(relay_url);
  auto upgrades = [&] {
    return json::parse(
        client_.SendSync({.url = relay_url + "/fake/upgrades", .timeout = 5s}).body)["value"];
  };
  // The relay returned its own webSocketUrl: offered with the node's URL, dialled as returned.
  auto [id, caps] = NewSession({{"platformName", "android"}, {"webSocketUrl", true}});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(caps["webSocketUrl"],
            "ws://127.0.0.1:" + std::to_string(node_->port()) + "/session/" + id + "/se/bidi");
  EXPECT_FALSE(caps.contains("se:cdp"));  // it named no CDP endpoint
  {
    TestWebSocket ws;
    ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/bidi"), 101) << ws.answer();
    ASSERT_TRUE(ws.SendText("over the relay"));
    EXPECT_EQ(ws.ReadMessage(), "over the relay");
    EXPECT_EQ(upgrades().back()["path"], "/session/" + id);
  }
  {  // Not offered, yet dialled on request: the same path on the relay.
    TestWebSocket ws;
    ASSERT_EQ(Upgrade(ws, "/session/" + id + "/se/cdp"), 101) << ws.answer();
    ASSERT_TRUE(ws.SendText("cdp over the relay"));
    EXPECT_EQ(ws.ReadMessage(), "cdp over the relay");
    EXPECT_EQ(upgrades().back()["path"], "/session/" + id + "/se/cdp");
  }
  EXPECT_EQ(Call("DELETE", "/session/" + id).status, 200);
  EXPECT_FALSE(relay_->exited());  // the relay outlives its sessions
  relay_->Terminate(2s);
}

TEST_F(NodeSocketsTest, ASessionHoldsAtMostSixtyFourSocketsOnTheNode) {
  StartNode();
  auto [id, caps] = BidiSession();
  ASSERT_FALSE(id.empty());
  std::vector<std::unique_ptr<TestWebSocket>> open;
  for (size_t i = 0; i < SessionSockets::kMaxPerSession; ++i) {
    open.push_back(std::make_unique<TestWebSocket>());
    ASSERT_EQ(Upgrade(*open.back(), "/session/" + id + "/se/bidi"), 101) << i;
  }
  TestWebSocket over;
  EXPECT_EQ(Upgrade(over, "/session/" + id + "/se/bidi"), 429);
  EXPECT_NE(over.answer().find("64 open sockets"), std::string::npos) << over.answer();
  // A socket the client closes gives its place back.
  open.back()->Close();
  ASSERT_TRUE(Eventually([&] { return node_->agent().socket_count() == 63; }));
  TestWebSocket again;
  EXPECT_EQ(Upgrade(again, "/session/" + id + "/se/bidi"), 101) << again.answer();
}

TEST_F(NodeSocketsTest, DevToolsAddressThatDoesNotAnswerIs502) {
  Result<uint16_t> closed = PickFreeLoopbackPort();  // nothing listens there
  ASSERT_TRUE(closed.ok());
  ::setenv("FAKE_DRIVER_DEBUGGER_ADDRESS", ("127.0.0.1:" + std::to_string(*closed)).c_str(), 1);
  StartNode();
  auto [id, caps] = NewSession({{"browserName", "chrome"}});
  ::unsetenv("FAKE_DRIVER_DEBUGGER_ADDRESS");
  ASSERT_FALSE(id.empty());
  TestWebSocket ws;
  EXPECT_EQ(Upgrade(ws, "/session/" + id + "/se/cdp"), 502);
  EXPECT_NE(ws.answer().find("/json/version"), std::string::npos) << ws.answer();
  EXPECT_EQ(node_->agent().socket_count(), 0u);
  EXPECT_EQ(Call("GET", "/session/" + id + "/title").status, 200);
}

}  // namespace
}  // namespace gridhub::node
