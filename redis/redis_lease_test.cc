#include "redis/redis_lease.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "redis/redis_connection.h"
#include "redis/testing/redis_server.h"

namespace gridhub::redis {
namespace {

using std::chrono::milliseconds;
using testing::RedisServer;

constexpr const char* kKey = "gridhub:lease:probe:node-7";

class RedisLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) GTEST_SKIP() << RedisServer::kBinary << " is not installed";
    ASSERT_TRUE(server_.Start()) << server_.last_error();
    redis_a_ = std::make_unique<RedisConnection>(RedisOptions{.url = server_.url()});
    redis_b_ = std::make_unique<RedisConnection>(RedisOptions{.url = server_.url()});
    redis_c_ = std::make_unique<RedisConnection>(RedisOptions{.url = server_.url()});
  }

  // Polls until no one holds the lease (its TTL ran out on the server), for at most 5 s.
  bool WaitUntilFree(RedisLease& lease) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      Result<std::optional<std::string>> holder = lease.Holder();
      if (holder.ok() && !holder->has_value()) return true;
      ::poll(nullptr, 0, 5);
    }
    return false;
  }

  int64_t Pttl() { return redis_c_->Command("PTTL", kKey)->integer(); }

  RedisServer server_;
  // One connection per owner, as each hub has its own.
  std::unique_ptr<RedisConnection> redis_a_;
  std::unique_ptr<RedisConnection> redis_b_;
  std::unique_ptr<RedisConnection> redis_c_;
};

TEST_F(RedisLeaseTest, OneOwnerAtATime) {
  RedisLease a(*redis_a_, kKey, "hub-a", milliseconds(10000));
  RedisLease b(*redis_b_, kKey, "hub-b", milliseconds(10000));
  EXPECT_EQ(*a.Holder(), std::nullopt);
  EXPECT_TRUE(*a.Acquire());
  EXPECT_FALSE(*b.Acquire());
  EXPECT_EQ(*b.Holder(), "hub-a");
  EXPECT_TRUE(*a.Acquire());  // the holder acquiring again keeps it
  EXPECT_TRUE(*a.Release());
  EXPECT_EQ(*b.Holder(), std::nullopt);
  EXPECT_TRUE(*b.Acquire());
  EXPECT_FALSE(*a.Acquire());
  EXPECT_EQ(*a.Holder(), "hub-b");
}

TEST_F(RedisLeaseTest, ExpiryLetsAnotherOwnerIn) {
  RedisLease a(*redis_a_, kKey, "hub-a", milliseconds(100));
  RedisLease b(*redis_b_, kKey, "hub-b", milliseconds(100));
  ASSERT_TRUE(*a.Acquire());
  EXPECT_LE(Pttl(), 100);
  EXPECT_FALSE(*b.Acquire());
  ASSERT_TRUE(WaitUntilFree(b));
  EXPECT_TRUE(*b.Acquire());
  // The lapsed owner finds out: it can no longer renew or release what is now b's.
  EXPECT_FALSE(*a.Renew());
  EXPECT_FALSE(*a.Release());
  EXPECT_EQ(*a.Holder(), "hub-b");
}

TEST_F(RedisLeaseTest, OnlyTheHolderRenewsOrReleases) {
  RedisLease a(*redis_a_, kKey, "hub-a", milliseconds(10000));
  RedisLease b(*redis_b_, kKey, "hub-b", milliseconds(10000));
  EXPECT_FALSE(*a.Renew());  // no one holds it: nothing to renew
  EXPECT_FALSE(*a.Release());
  ASSERT_TRUE(*a.Acquire());
  ASSERT_TRUE(redis_c_->Command("PEXPIRE", kKey, "5000")->is_integer());
  EXPECT_FALSE(*b.Renew());
  EXPECT_FALSE(*b.Release());
  EXPECT_EQ(*b.Holder(), "hub-a");
  EXPECT_LE(Pttl(), 5000);  // b's Renew did not extend it
  EXPECT_TRUE(*a.Renew());
  EXPECT_GT(Pttl(), 5000);  // a's did
}

TEST_F(RedisLeaseTest, WorksAfterScriptFlushAndAnswersErrorsAsErrors) {
  RedisLease a(*redis_a_, kKey, "hub-a", milliseconds(10000));
  ASSERT_TRUE(*a.Acquire());
  ASSERT_TRUE(redis_c_->Command("SCRIPT", "FLUSH")->IsStatus("OK"));
  EXPECT_TRUE(*a.Renew());
  EXPECT_TRUE(*a.Release());
  server_.Kill();
  Result<bool> lost = a.Acquire();
  ASSERT_FALSE(lost.ok());
  EXPECT_NE(lost.error().message.find("Redis at 127.0.0.1:"), std::string::npos);
}

}  // namespace
}  // namespace gridhub::redis
