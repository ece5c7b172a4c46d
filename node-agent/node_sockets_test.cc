// The node's WebSocket routes (/session/{id}/se/bidi and /se/cdp) through its HTTP surface: an
// in-process NodeServer with a fake hub and testdata/fake_driver.py, whose sockets echo every
// frame and whose DevTools endpoint refuses what Chromium's refuses (an Origin header, a Host
// that is not an IP address or localhost). The client end is testing/test_websocket.h.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "node-agent/node_server.h"
#include "node-agent/testing/fake_driver.h"
#include "node-agent/testing/fake_hub.h"
#include "node-agent/testing/test_websocket.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test_support::TestWebSocket;

bool Eventually(const std::function<bool()>& condition, Duration timeout = 10s) {
  SteadyClock clock;
  SteadyTime deadline = clock.Now() + timeout;
  while (!condition()) {
    if (clock.Now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
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

class NodeSocketsTest : public ::testing::Test {
 protected:
  void StartNode(const std::function<void(NodeAgentOptions&)>& tweak = nullptr) {
    NodeAgentOptions options;
    options.id = "node-ws";
    options.hub = hub_.url();
    options.registration_secret = "s3cret";
    options.slots = {ChromeSlot()};
    options.heartbeat_period = 200ms;
    options.stop_grace = 2s;
    options.work_dir = (std::filesystem::temp_directory_path() /
                        ("gridhub-node-ws-test-" + std::to_string(::getpid())))
                           .string();
    if (tweak) tweak(options);
    const Clock& clock = use_fake_clock_ ? static_cast<const Clock&>(fake_clock_) : clock_;
    node_ = std::make_unique<NodeServer>(
        options, http::ServerOptions{.host = "127.0.0.1", .port = 0}, clock);
    ASSERT_TRUE(node_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(node_->port());
  }
  void TearDown() override {
    if (node_) {
      std::string dir = node_->agent().work_dir();
      node_->Stop();
      std::filesystem::remove_all(dir);
    }
  }
  http::ClientResponse Call(const std::string& method, const std::string& path,
                            const json& body = nullptr) {
    return client_.SendSync({.method = method,
                             .url = base_ + path,
                             .headers = {{"X-Registration-Secret", "s3cret"}},
                             .body = body.is_null() ? "" : body.dump(),
                             .timeout = 30s});
  }
  // A session's id and the capabilities the node answered with.
  std::pair<std::string, json> NewSession(const json& always) {
    http::ClientResponse r =
        Call("POST", "/session", {{"capabilities", {{"alwaysMatch", always}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    json body = json::parse(r.body, nullptr, false);
    if (r.status != 200 || body.is_discarded()) return {"", json()};
    return {body["value"]["sessionId"].get<std::string>(), body["value"]["capabilities"]};
  }
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

  SteadyClock clock_;
  bool use_fake_clock_ = false;
  FakeClock fake_clock_;
  FakeHub hub_;
  http::HttpClient client_;
  std::unique_ptr<NodeServer> node_;
  std::string base_;
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

}  // namespace
}  // namespace gridhub::node
