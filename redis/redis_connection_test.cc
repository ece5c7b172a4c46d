#include "redis/redis_connection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "common/testing/loopback_sockets.h"
#include "redis/testing/redis_server.h"

namespace gridhub::redis {
namespace {

using std::chrono::milliseconds;
using testing::RedisServer;

class RedisConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) GTEST_SKIP() << RedisServer::kBinary << " is not installed";
    ASSERT_TRUE(server_.Start()) << server_.last_error();
  }

  RedisOptions Options(milliseconds timeout = milliseconds(2000)) {
    return {.url = server_.url(), .connect_timeout = timeout, .command_timeout = timeout};
  }

  RedisServer server_;
};

std::string Address(const RedisServer& server) {
  return "Redis at 127.0.0.1:" + std::to_string(server.port());
}

TEST_F(RedisConnectionTest, RepliesOfEveryType) {
  RedisConnection redis(Options());
  EXPECT_EQ(redis.Command("SET", "k", std::string("a\0b", 3))->ToString(), "+OK");
  EXPECT_EQ(*redis.Command("GET", "k"), Reply::String(std::string("a\0b", 3)));
  EXPECT_TRUE(redis.Command("GET", "missing")->is_nil());
  EXPECT_EQ(*redis.Command("INCRBY", "n", "-5"), Reply::Integer(-5));
  ASSERT_TRUE(redis.Command("RPUSH", "l", "x", "y").ok());
  EXPECT_EQ(redis.Command("LRANGE", "l", "0", "-1")->ToString(), "[\"x\", \"y\"]");
  EXPECT_TRUE(redis.Command("LRANGE", "missing", "0", "-1")->is_array());
  const Reply wrong = *redis.Command("INCR", "l");
  EXPECT_TRUE(wrong.is_error());
  EXPECT_TRUE(wrong.str().starts_with("WRONGTYPE")) << wrong.str();
  EXPECT_TRUE(redis.Command("NOSUCHCOMMAND")->is_error());
  // Nested arrays and nil inside an array come through Lua.
  const Script nested("return {1, {'two', false}, redis.status_reply('OK')}");
  EXPECT_EQ(redis.Eval(nested, {}, {})->ToString(), "[1, [\"two\", nil], +OK]");
  EXPECT_FALSE(redis.Command(RedisConnection::Args{}).ok());
}

TEST_F(RedisConnectionTest, PipelineRepliesInOrderAndAnErrorDoesNotStopTheRest) {
  RedisConnection redis(Options());
  std::vector<RedisConnection::Args> commands;
  commands.reserve(102);
  for (int i = 0; i < 100; ++i) commands.push_back({"INCR", "counter"});
  commands.push_back({"HGET", "counter", "field"});  // WRONGTYPE
  commands.push_back({"GET", "counter"});
  Result<std::vector<Reply>> replies = redis.Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.error().message;
  ASSERT_EQ(replies->size(), 102u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ((*replies)[i], Reply::Integer(i + 1));
  EXPECT_TRUE((*replies)[100].is_error());
  EXPECT_EQ((*replies)[101], Reply::String("100"));
  EXPECT_TRUE(redis.Pipeline({})->empty());
}

const Script kAdd("return redis.call('INCRBY', KEYS[1], ARGV[1])");

TEST_F(RedisConnectionTest, EvalLoadsTheScriptAgainAfterScriptFlush) {
  RedisConnection redis(Options());
  EXPECT_EQ(*redis.Eval(kAdd, {"sum"}, {"2"}), Reply::Integer(2));
  EXPECT_EQ(redis.Command("SCRIPT", "EXISTS", kAdd.sha1())->ToString(), "[1]");
  ASSERT_TRUE(redis.Command("SCRIPT", "FLUSH")->IsStatus("OK"));
  EXPECT_EQ(redis.Command("SCRIPT", "EXISTS", kAdd.sha1())->ToString(), "[0]");
  EXPECT_EQ(*redis.Eval(kAdd, {"sum"}, {"3"}), Reply::Integer(5));
  EXPECT_EQ(redis.Command("SCRIPT", "EXISTS", kAdd.sha1())->ToString(), "[1]");
  // Lua errors are error replies, not I/O failures.
  const Script broken("return redis.call('NOSUCH')");
  Result<Reply> reply = redis.Eval(broken, {}, {});
  ASSERT_TRUE(reply.ok());
  EXPECT_TRUE(reply->is_error());
}

TEST_F(RedisConnectionTest, EvalWorksOnARedisRestartedEmpty) {
  RedisConnection redis(Options());
  EXPECT_EQ(*redis.Eval(kAdd, {"sum"}, {"2"}), Reply::Integer(2));
  ASSERT_TRUE(server_.Restart()) << server_.last_error();
  // The first call finds the old connection dead and says so; the next one reconnects.
  Result<Reply> lost = redis.Eval(kAdd, {"sum"}, {"1"});
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(lost.error().message.find(Address(server_)), std::string::npos) << lost.error().message;
  EXPECT_EQ(*redis.Eval(kAdd, {"sum"}, {"1"}), Reply::Integer(1));
}

TEST_F(RedisConnectionTest, ReconnectsOnTheNextCallAfterKillAndRestart) {
  const size_t fds_before = test_support::OpenDescriptors();
  {
    RedisConnection redis(Options());
    ASSERT_TRUE(redis.Connect().ok());
    ASSERT_TRUE(redis.Command("PING")->IsStatus("PONG"));
    server_.Kill();
    Result<Reply> lost = redis.Command("PING");
    ASSERT_FALSE(lost.ok());
    EXPECT_NE(lost.error().message.find(Address(server_)), std::string::npos);
    EXPECT_FALSE(redis.connected());
    // While it is down every call fails fast, naming why.
    Result<Reply> refused = redis.Command("PING");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("refused"), std::string::npos)
        << refused.error().message;
    ASSERT_TRUE(server_.Restart()) << server_.last_error();
    EXPECT_TRUE(redis.Command("PING")->IsStatus("PONG"));
  }
  EXPECT_EQ(test_support::OpenDescriptors(), fds_before);
}

TEST_F(RedisConnectionTest, PausedRedisTimesOutWithinTheTimeoutAndIsUsedAgainAfter) {
  RedisConnection redis(Options(milliseconds(200)));
  ASSERT_TRUE(redis.Command("PING")->IsStatus("PONG"));
  server_.Pause();
  const auto start = std::chrono::steady_clock::now();
  Result<Reply> reply = redis.Command("PING");
  const auto took = std::chrono::steady_clock::now() - start;
  server_.Resume();
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(reply.error().message, Address(server_) + ": no answer within 200 ms running PING");
  EXPECT_GE(took, milliseconds(150));
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_TRUE(redis.Command("PING")->IsStatus("PONG"));
}

TEST_F(RedisConnectionTest, ConnectingToAPausedRedisTimesOut) {
  RedisOptions options = Options(milliseconds(200));
  options.url.db = 1;  // SELECT at connect: the kernel accepts the TCP connection, Redis is mute
  server_.Pause();
  RedisConnection redis(options);
  const auto start = std::chrono::steady_clock::now();
  Status connected = redis.Connect();
  const auto took = std::chrono::steady_clock::now() - start;
  server_.Resume();
  ASSERT_FALSE(connected.ok());
  EXPECT_EQ(connected.error().code, ErrorCode::kTimeout) << connected.error().message;
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_TRUE(redis.Command("PING")->IsStatus("PONG"));
}

TEST_F(RedisConnectionTest, SelectsTheDatabaseOfTheUrl) {
  RedisOptions three = Options();
  three.url.db = 3;
  RedisConnection db3(three);
  RedisConnection db0(Options());
  ASSERT_TRUE(db3.Command("SET", "where", "three")->IsStatus("OK"));
  EXPECT_TRUE(db0.Command("GET", "where")->is_nil());
  EXPECT_EQ(*db3.Command("GET", "where"), Reply::String("three"));
  RedisOptions bad = Options();
  bad.url.db = 99;  // the server has 16
  Status refused = RedisConnection(bad).Connect();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("SELECT 99 refused"), std::string::npos)
      << refused.error().message;
}

TEST(RedisConnectionPasswordTest, LogsInWithThePasswordAndNeverShowsIt) {
  if (!RedisServer::Available()) GTEST_SKIP() << RedisServer::kBinary << " is not installed";
  RedisServer server({.password = "correct-horse"});
  ASSERT_TRUE(server.Start()) << server.last_error();
  RedisConnection good({.url = server.url()});
  EXPECT_TRUE(good.Command("PING")->IsStatus("PONG"));

  RedisUrl wrong_url = server.url();
  wrong_url.password = "battery-staple";
  Status wrong = RedisConnection({.url = wrong_url}).Connect();
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("AUTH refused"), std::string::npos) << wrong.error().message;
  EXPECT_EQ(wrong.error().code, ErrorCode::kForbidden);  // not "try again later"
  EXPECT_EQ(wrong.error().message.find("battery-staple"), std::string::npos);

  RedisUrl none = server.url();
  none.password.clear();
  Result<Reply> anonymous = RedisConnection({.url = none}).Command("GET", "k");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_TRUE(anonymous->str().starts_with("NOAUTH")) << anonymous->ToString();
}

TEST(RedisConnectionRefusedTest, NamesRedisAndTheAddress) {
  uint16_t port = 0;
  ::close(test_support::BindOnLoopback(&port));  // a port with no listener
  RedisConnection redis({.url = {.host = "127.0.0.1", .port = port}});
  Result<Reply> reply = redis.Command("PING");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(
      reply.error().message.rfind(
          "Redis at 127.0.0.1:" + std::to_string(port) + ": connecting: Connection refused", 0),
      0u)
      << reply.error().message;
}

}  // namespace
}  // namespace gridhub::redis
