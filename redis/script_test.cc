#include "redis/script.h"

#include <gtest/gtest.h>

#include <string>

#include "redis/reply.h"

namespace gridhub::redis {
namespace {

// FIPS 180 test vectors, and lengths either side of the 55/56/64-byte padding edges.
TEST(ScriptTest, Sha1MatchesKnownDigests) {
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Sha1Hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  EXPECT_EQ(Sha1Hex(std::string(64, 'a')), "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

TEST(ScriptTest, ComputesItsSha1Once) {
  const Script script("return 1");
  EXPECT_EQ(script.text(), "return 1");
  EXPECT_EQ(script.sha1(), Sha1Hex("return 1"));
  EXPECT_EQ(script.sha1().size(), 40u);
}

TEST(ReplyTest, PrintsEveryType) {
  const Reply reply = Reply::Array({Reply::Nil(), Reply::Integer(-3), Reply::String("a"),
                                    Reply::Status("OK"), Reply::Error("ERR x"), Reply::Array({})});
  EXPECT_EQ(reply.ToString(), "[nil, -3, \"a\", +OK, -ERR x, []]");
  EXPECT_TRUE(Reply::Status("OK").IsStatus("OK"));
  EXPECT_FALSE(Reply::String("OK").IsStatus("OK"));
}

}  // namespace
}  // namespace gridhub::redis
