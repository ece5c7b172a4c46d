#include "redis/redis_subscriber.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "common/testing/loopback_sockets.h"
#include "redis/redis_connection.h"
#include "redis/testing/redis_server.h"

namespace gridhub::redis {
namespace {

using std::chrono::milliseconds;
using testing::RedisServer;

// What the subscriber's callbacks saw, for the test thread to wait on.
class Recorder {
 public:
  void OnMessage(const PubSubMessage& m) {
    std::lock_guard lock(mu_);
    messages_.push_back(m.pattern + "|" + m.channel + "|" + m.payload);
    changed_.notify_all();
  }
  void OnState(LinkState state, std::string_view why) {
    std::lock_guard lock(mu_);
    states_.push_back(state == LinkState::kUp ? "up" : "down: " + std::string(why));
    changed_.notify_all();
  }
  // Waits (up to `limit`) until `n` messages or states have come; returns what there is.
  std::vector<std::string> Messages(size_t n) { return Wait(messages_, n, kLimit); }
  std::vector<std::string> States(size_t n, milliseconds limit = kLimit) {
    return Wait(states_, n, limit);
  }

 private:
  static constexpr milliseconds kLimit{10000};

  std::vector<std::string> Wait(const std::vector<std::string>& list, size_t n,
                                milliseconds limit) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, limit, [&] { return list.size() >= n; });
    return list;
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
  std::vector<std::string> states_;
};

class RedisSubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) GTEST_SKIP() << RedisServer::kBinary << " is not installed";
    ASSERT_TRUE(server_.Start()) << server_.last_error();
  }

  SubscriberOptions Options() {
    return {.url = server_.url(),
            .channels = {"gridhub:wake", "gridhub:other"},
            .patterns = {"gridhub:node:*"},
            .on_message = [this](const PubSubMessage& m) { recorder_.OnMessage(m); },
            .on_state = [this](LinkState s, std::string_view why) { recorder_.OnState(s, why); },
            .connect_timeout = milliseconds(500),
            .ping_interval = milliseconds(100),
            .min_backoff = milliseconds(10),
            .max_backoff = milliseconds(100)};
  }

  void Publish(const std::string& channel, const std::string& payload) {
    RedisConnection redis({.url = server_.url()});
    ASSERT_TRUE(redis.Command("PUBLISH", channel, payload).ok());
  }

  RedisServer server_;
  Recorder recorder_;
};

TEST_F(RedisSubscriberTest, CallsBackForChannelAndPatternMessages) {
  RedisSubscriber subscriber(Options());
  ASSERT_TRUE(subscriber.Start().ok());
  ASSERT_EQ(recorder_.States(1), std::vector<std::string>{"up"});
  Publish("gridhub:wake", "label-a");
  Publish("gridhub:node:7", "down");
  Publish("gridhub:unrelated", "x");
  Publish("gridhub:other", "");
  EXPECT_EQ(recorder_.Messages(3), (std::vector<std::string>{
                                       "|gridhub:wake|label-a",
                                       "gridhub:node:*|gridhub:node:7|down",
                                       "|gridhub:other|",
                                   }));
}

TEST_F(RedisSubscriberTest, ReportsDownAndResubscribesAfterARestart) {
  RedisSubscriber subscriber(Options());
  ASSERT_TRUE(subscriber.Start().ok());
  ASSERT_EQ(recorder_.States(1).size(), 1u);
  server_.Kill();
  std::vector<std::string> states = recorder_.States(2);
  ASSERT_EQ(states.size(), 2u);
  EXPECT_TRUE(states[1].starts_with("down: Redis at 127.0.0.1:" + std::to_string(server_.port())))
      << states[1];
  ASSERT_TRUE(server_.Restart()) << server_.last_error();
  states = recorder_.States(3);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[2], "up");
  Publish("gridhub:wake", "again");
  EXPECT_EQ(recorder_.Messages(1), std::vector<std::string>{"|gridhub:wake|again"});
}

TEST_F(RedisSubscriberTest, APausedRedisIsFoundDownByPingAndUpAfterResume) {
  RedisSubscriber subscriber(Options());
  ASSERT_TRUE(subscriber.Start().ok());
  ASSERT_EQ(recorder_.States(1).size(), 1u);
  server_.Pause();
  std::vector<std::string> states = recorder_.States(2);
  server_.Resume();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_NE(states[1].find("no answer to PING within 100 ms"), std::string::npos) << states[1];
  states = recorder_.States(3);
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[2], "up");
}

TEST_F(RedisSubscriberTest, StopJoinsPromptlyAndLeavesNoDescriptor) {
  const size_t fds_before = test_support::OpenDescriptors();
  for (bool redis_up : {true, false}) {
    RedisSubscriber subscriber(Options());
    ASSERT_TRUE(subscriber.Start().ok());
    recorder_.States(redis_up ? 1 : 2);  // up; or, with Redis gone, down after it
    const auto start = std::chrono::steady_clock::now();
    subscriber.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
    EXPECT_EQ(test_support::OpenDescriptors(), fds_before);
    if (redis_up) server_.Kill();
  }
}

TEST(RedisSubscriberDownTest, ReportsDownOnceWhileRedisIsAbsent) {
  uint16_t port = 0;
  ::close(test_support::BindOnLoopback(&port));
  Recorder recorder;
  RedisSubscriber subscriber(
      {.url = {.host = "127.0.0.1", .port = port},
       .channels = {"c"},
       .on_state = [&](LinkState s, std::string_view why) { recorder.OnState(s, why); },
       .min_backoff = milliseconds(1),
       .max_backoff = milliseconds(5)});
  ASSERT_TRUE(subscriber.Start().ok());
  std::vector<std::string> states = recorder.States(1);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_NE(states[0].find("Connection refused"), std::string::npos) << states[0];
  // Transitions only, however many retries (at most 5 ms apart) come in 300 ms.
  EXPECT_EQ(recorder.States(2, milliseconds(300)).size(), 1u);
  subscriber.Stop();
}

}  // namespace
}  // namespace gridhub::redis
