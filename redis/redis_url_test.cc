#include "redis/redis_url.h"

#include <gtest/gtest.h>

namespace gridhub::redis {
namespace {

TEST(RedisUrlTest, ParsesHostPortPasswordAndDb) {
  Result<RedisUrl> url = RedisUrl::Parse("redis://:s3cret@10.0.0.5:6380/2");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->host, "10.0.0.5");
  EXPECT_EQ(url->port, 6380);
  EXPECT_EQ(url->username, "");
  EXPECT_EQ(url->password, "s3cret");
  EXPECT_EQ(url->db, 2);
}

TEST(RedisUrlTest, DefaultsToPort6379AndDb0WithoutPassword) {
  Result<RedisUrl> url = RedisUrl::Parse("redis://redis.internal");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->host, "redis.internal");
  EXPECT_EQ(url->port, 6379);
  EXPECT_EQ(url->password, "");
  EXPECT_EQ(url->db, 0);
  EXPECT_TRUE(RedisUrl::Parse("redis://h:1/").ok());
}

TEST(RedisUrlTest, ParsesUserBracketedIpv6AndEscapedPassword) {
  Result<RedisUrl> url = RedisUrl::Parse("redis://hub:p%40ss%3Aw@[::1]:7000/15");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->username, "hub");
  EXPECT_EQ(url->password, "p@ss:w");
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 7000);
  EXPECT_EQ(url->db, 15);
  EXPECT_EQ(url->Address(), "[::1]:7000");
}

TEST(RedisUrlTest, RedactedNeverShowsThePassword) {
  Result<RedisUrl> url = RedisUrl::Parse("redis://:hunter2@127.0.0.1:6379/3");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->Redacted(), "redis://:<redacted>@127.0.0.1:6379/3");
  EXPECT_EQ(RedisUrl::Parse("redis://h")->Redacted(), "redis://h:6379");
}

// Each refusal says what is wrong, and none repeats the password it was given.
TEST(RedisUrlTest, RefusesBadUrlsWithAReasonAndNoPassword) {
  const struct {
    const char* text;
    const char* reason;
  } cases[] = {
      {"http://h:1", "must start with redis://"},
      {"rediss://h:1", "TLS (rediss://) is not supported"},
      {"redis://", "no host"},
      {"redis://:pw@:1", "no host"},
      {"redis://h:0", "port must be 1-65535, got '0'"},
      {"redis://h:65536", "port must be 1-65535, got '65536'"},
      {"redis://h:x", "port must be 1-65535, got 'x'"},
      {"redis://h:", "empty port"},
      {"redis://h:1/x", "database after '/' must be a number 0 or more, got 'x'"},
      {"redis://h:1/-1", "got '-1'"},
      {"redis://hunter2@h:1", "credentials must be ':password@'"},
      {"redis://:@h:1", "password after ':' is empty"},
      {"redis://:hunter2%zz@h", "password has a bad %-escape"},
      {"redis://[::1:1", "'[' without ']'"},
      {"redis://h:1?db=2", "query and fragment"},
  };
  for (const auto& c : cases) {
    Result<RedisUrl> url = RedisUrl::Parse(c.text);
    ASSERT_FALSE(url.ok()) << c.text;
    EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument) << c.text;
    EXPECT_NE(url.error().message.find(c.reason), std::string::npos)
        << c.text << " -> " << url.error().message;
    EXPECT_EQ(url.error().message.find("hunter2"), std::string::npos) << url.error().message;
  }
}

}  // namespace
}  // namespace gridhub::redis
