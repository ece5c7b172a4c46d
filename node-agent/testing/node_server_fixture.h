#pragma once

// Test fixture: an in-process NodeServer on a free loopback port with a FakeHub, called as the
// hub calls it (with the registration secret), and a relay target (a fake driver already
// running). The node agent's HTTP tests and its socket tests derive from it and name the node
// and its one slot:
//
//   class NodeSocketsTest : public NodeServerFixture {
//    protected:
//     NodeSocketsTest() : NodeServerFixture("node-ws", "gridhub-node-ws-test-", ChromeSlot()) {}
//   };
//   TEST_F(NodeSocketsTest, X) { StartNode(); auto [id, caps] = NewSession(...); }

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "node-agent/driver_process.h"
#include "node-agent/free_port.h"
#include "node-agent/node_server.h"
#include "node-agent/testing/eventually.h"
#include "node-agent/testing/fake_driver.h"
#include "node-agent/testing/fake_hub.h"

namespace gridhub::node::test_support {

class NodeServerFixture : public ::testing::Test {
 protected:
  // `work_prefix` names the node's work folder under the temp directory (with this pid).
  NodeServerFixture(std::string node_id, std::string work_prefix, config::SlotConfig slot)
      : node_id_(std::move(node_id)),
        work_prefix_(std::move(work_prefix)),
        slot_(std::move(slot)) {}

  // Starts the node; `tweak` changes its options first.
  void StartNode(const std::function<void(NodeAgentOptions&)>& tweak = nullptr) {
    using namespace std::chrono_literals;
    NodeAgentOptions options;
    options.id = node_id_;
    options.hub = hub_.url();
    options.registration_secret = "s3cret";
    options.slots = {slot_};
    options.heartbeat_period = 200ms;
    options.stop_grace = 2s;
    options.work_dir =
        (std::filesystem::temp_directory_path() / (work_prefix_ + std::to_string(::getpid())))
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
    relay_.reset();
    if (!relay_log_.empty()) std::filesystem::remove(relay_log_);
  }

  // An already-running fake driver on a free port, as Appium or another grid's node would be
  // (what a relay slot points at): relay_, logging to a temp file. Returns its URL once it
  // answers /status, "" (and a failure) when it does not start.
  std::string StartRelay() {
    using namespace std::chrono_literals;
    relay_log_ = (std::filesystem::temp_directory_path() /
                  ("gridhub-relay-" + std::to_string(::getpid()) + ".log"))
                     .string();
    Result<uint16_t> port = PickFreeLoopbackPort();
    if (!port.ok()) {
      ADD_FAILURE() << "no free port";
      return "";
    }
    auto relay = DriverProcess::Spawn({kPython, kFakeDriver, "--port=" + std::to_string(*port)},
                                      relay_log_, nullptr);
    if (!relay.ok()) {
      ADD_FAILURE() << "the relay's fake driver did not start";
      return "";
    }
    relay_ = std::move(*relay);
    std::string url = "http://127.0.0.1:" + std::to_string(*port);
    if (!Eventually([&] {
          return client_.SendSync({.url = url + "/status", .timeout = 1s}).status == 200;
        })) {
      ADD_FAILURE() << "the relay at " << url << " does not answer /status";
      return "";
    }
    return url;
  }
  // Starts the node with one relay slot, "android", whose relay is `slot_relay`.
  void StartRelayNode(const std::string& slot_relay) {
    StartNode([&](NodeAgentOptions& o) {
      config::SlotConfig slot;
      slot.label = "android";
      slot.stereotype = {{"browserName", "chrome"}, {"platformName", "android"}};
      slot.relay = slot_relay;
      o.slots = {slot};
    });
  }

  // As the hub calls: with the registration secret (StartNode sets "s3cret").
  http::ClientResponse Call(const std::string& method, const std::string& path,
                            const nlohmann::json& body = nullptr) {
    return CallWith(secret_, method, path, body);
  }
  http::ClientResponse CallWith(const std::string& secret, const std::string& method,
                                const std::string& path, const nlohmann::json& body = nullptr) {
    http::Headers headers;
    if (!secret.empty()) headers.emplace_back("X-Registration-Secret", secret);
    return client_.SendSync({.method = method,
                             .url = base_ + path,
                             .headers = std::move(headers),
                             .body = body.is_null() ? "" : body.dump(),
                             .timeout = std::chrono::seconds(30)});
  }
  // Creates a session; returns its id and the capabilities the node answered with.
  std::pair<std::string, nlohmann::json> NewSession(const nlohmann::json& always = {
                                                        {"browserName", "chrome"}}) {
    http::ClientResponse r =
        Call("POST", "/session", {{"capabilities", {{"alwaysMatch", always}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || body.is_discarded()) return {"", nlohmann::json()};
    return {body["value"]["sessionId"].get<std::string>(), body["value"]["capabilities"]};
  }

  SteadyClock clock_;
  // With use_fake_clock_, the node's time (heartbeats, waits, the unknown-session grace)
  // moves only by fake_clock_.Advance().
  bool use_fake_clock_ = false;
  FakeClock fake_clock_;
  FakeHub hub_;
  http::HttpClient client_;
  std::unique_ptr<NodeServer> node_;
  std::string base_;
  std::string secret_ = "s3cret";
  std::unique_ptr<DriverProcess> relay_;  // StartRelay's

 private:
  std::string node_id_;
  std::string work_prefix_;
  std::string relay_log_;
  config::SlotConfig slot_;
};

}  // namespace gridhub::node::test_support
