// HubService over real HTTP on loopback with a FakeClock: its timer thread sleeps on the
// injected clock, so a deadline comes when the test advances time, not after real seconds.
#include "hub/hub_service.h"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

namespace gridhub::hub {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

config::Settings QueueTimeoutSettings() {
  config::Settings settings;
  settings.server.host = "127.0.0.1";
  settings.server.port = 0;
  settings.server.threads = 2;
  settings.queue.timeout = 60s;
  settings.queue.reject_unsatisfiable = false;  // no node yet: the request waits
  return settings;
}

// Waits (real time, bounded) until the hub's queue holds `count` requests.
bool QueueHolds(http::HttpClient& client, const std::string& url, size_t count) {
  for (int i = 0; i < 500; ++i) {
    http::ClientResponse answer = client.SendSync({.url = url + "/queue"});
    json queue = json::parse(answer.body, nullptr, false);
    if (answer.status == 200 && queue.contains("value") && queue["value"].size() == count) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(HubServiceTest, QueueTimeoutComesWhenTheInjectedClockReachesIt) {
  FakeClock clock;
  HubService hub(QueueTimeoutSettings(), clock);
  ASSERT_TRUE(hub.Start().ok());
  http::HttpClient client;
  std::promise<http::ClientResponse> answered;
  std::future<http::ClientResponse> answer = answered.get_future();
  client.Send({.method = "POST",
               .url = hub.url() + "/session",
               .headers = {{"Content-Type", "application/json"}},
               .body = R"({"capabilities": {"alwaysMatch": {"browserName": "chrome"}}})",
               .timeout = 30s},
              [&](http::ClientResponse response) { answered.set_value(std::move(response)); });
  ASSERT_TRUE(QueueHolds(client, hub.url(), 1));

  clock.Advance(59s);
  EXPECT_EQ(answer.wait_for(200ms), std::future_status::timeout);  // not due yet
  // Due now: the timer wakes at once (it would sleep a real minute on a real clock).
  clock.Advance(1s);
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  http::ClientResponse response = answer.get();
  EXPECT_EQ(response.status, 500) << response.body;
  json body = json::parse(response.body, nullptr, false);
  EXPECT_EQ(body["value"]["error"], "session not created") << response.body;
  EXPECT_TRUE(QueueHolds(client, hub.url(), 0));
  client.Stop();
  hub.Stop();
}

// The timer sleeps until its next deadline (here the console's next sample, 5 s away) and is
// woken only by a change that brings a sooner one: a node registered with a 3 s node-timeout.
std::string NodeAvailability(http::HttpClient& client, const std::string& url) {
  json nodes = json::parse(client.SendSync({.url = url + "/nodes"}).body, nullptr, false);
  if (!nodes.contains("value") || !nodes["value"].is_array() || nodes["value"].empty()) return "";
  return nodes["value"][0].value("availability", "");
}

TEST(HubServiceTest, AChangeBringingASoonerDeadlineWakesTheSleepingTimer) {
  FakeClock clock;
  config::Settings settings = QueueTimeoutSettings();
  settings.hub.node_timeout = 3s;
  HubService hub(settings, clock);
  ASSERT_TRUE(hub.Start().ok());
  http::HttpClient client;
  http::ClientResponse registered = client.SendSync(
      {.method = "POST",
       .url = hub.url() + "/nodes",
       .headers = {{"Content-Type", "application/json"}},
       .body = R"({"id": "n1", "uri": "http://192.0.2.1:5555", "healthCheck": "heartbeat",
                   "slots": [{"stereotype": {"browserName": "chrome"}}]})"});
  ASSERT_EQ(registered.status, 201) << registered.body;
  clock.Advance(2s);
  EXPECT_EQ(NodeAvailability(client, hub.url()), "UP");
  clock.Advance(1s);  // its node-timeout, before the timer's own next deadline
  std::string availability;
  for (int i = 0; i < 500 && availability != "DOWN"; ++i) {
    availability = NodeAvailability(client, hub.url());
    if (availability != "DOWN") std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(availability, "DOWN");
  client.Stop();
  hub.Stop();
}

}  // namespace
}  // namespace gridhub::hub
