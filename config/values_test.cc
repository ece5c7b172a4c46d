// The single-value parsers of config/values.h: URLs and durations never throw, whatever the
// text (a config file, an environment variable, a flag or an admin patch).

#include "config/values.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::config {
namespace {

using namespace std::chrono_literals;

TEST(ParseHttpUrlTest, SplitsEveryPart) {
  Result<HttpUrl> url = ParseHttpUrl("https://me:pw@hub.example:8443/grid/x?y=1#z");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->user_info, "me:pw");
  EXPECT_EQ(url->host, "hub.example");
  EXPECT_FALSE(url->ipv6);
  EXPECT_EQ(url->port, 8443);
  EXPECT_TRUE(url->explicit_port);
  EXPECT_EQ(url->rest, "/grid/x?y=1#z");

  Result<HttpUrl> v6 = ParseHttpUrl("http://[::1]:4444");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->port, 4444);
  EXPECT_EQ(v6->rest, "");

  EXPECT_EQ(ParseHttpUrl("http://h").value().port, 80);
  EXPECT_FALSE(ParseHttpUrl("http://h").value().explicit_port);
  EXPECT_EQ(ParseHttpUrl("https://h/").value().port, 443);
  EXPECT_EQ(ParseHttpUrl("http://h:65535").value().port, 65535);
  EXPECT_EQ(ParseHttpUrl("http://[::1]").value().port, 80);
}

TEST(ParseHttpUrlTest, RefusesWithTheReasonAndNeverThrows) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c : {
           Case{"http://[::1]:", "empty port"},  // the finding: std::stoi("") aborted
           Case{"http://h:", "empty port"},
           Case{"http://h:/x", "empty port"},
           Case{"http://h:0", "out of range"},
           Case{"http://h:65536", "out of range"},
           Case{"http://h:99999", "out of range"},
           Case{"http://h:123456", "not a number"},
           Case{"http://h:-1", "not a number"},
           Case{"http://h:+80", "not a number"},
           Case{"http://h:8o", "not a number"},
           Case{"http://[::1]x", "junk"},
           Case{"http://[::1", "unclosed"},
           Case{"http://", "no host"},
           Case{"http://:80", "no host"},
           Case{"http://[]:80", "no host"},
           Case{"http://u@", "no host"},
           Case{"http://::1:80", "brackets"},
           Case{"ftp://h", "not an http"},
           Case{"h:80", "not an http"},
           Case{"", "not an http"},
           Case{"http://a b", "space"},
           Case{"http://h\n", "control"},
       }) {
    Result<HttpUrl> url = ParseHttpUrl(c.text);
    ASSERT_FALSE(url.ok()) << c.text;
    EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(url.error().message.find(c.reason), std::string::npos)
        << c.text << ": " << url.error().message;
    EXPECT_EQ(detail::HttpUrlProblem(c.text), url.error().message);
  }
}

TEST(ParseHttpUrlTest, SurvivesEveryPrefixOfAWeirdUrl) {
  // Each prefix stops the parser somewhere else: none may throw or abort.
  const std::string weird = "https://u:p@[fe80::1%25eth0]:00443/p?q#f";
  for (size_t n = 0; n <= weird.size(); ++n) {
    (void)ParseHttpUrl(weird.substr(0, n));
  }
  EXPECT_FALSE(ParseHttpUrl("http://[fe80::1]:000443").ok());  // 5 digits at most
  EXPECT_TRUE(ParseHttpUrl("http://[fe80::1]:0443").ok());
}

TEST(DurationFromTextTest, NeverThrowsOnHugeOrOddNumbers) {
  for (const char* text : {"99999999999999999999999s", "18446744073709551616ms", "1e9s", "0x10s",
                           "--1s", "1s2", "s", "", " ", "1.5s", "９s"}) {
    EXPECT_FALSE(detail::DurationFromText(text).ok()) << text;
  }
  EXPECT_EQ(detail::DurationFromText("87840h").value(), std::chrono::hours(87840));
  EXPECT_FALSE(detail::DurationFromText("87841h").ok());
  EXPECT_EQ(detail::DurationFromText(" 500ms ").value(), 500ms);
}

// Found by tests/fuzz/config_values_fuzzer: YAML read this text as one scalar starting with "{",
// and CapsFromJson recursed on it until the stack overflowed (PUT /admin/config reaches it).
TEST(CapsFromJsonTest, TextThatIsNoMapIsRefusedNotRecursedOn) {
  for (const char* text : {"\r{\"a{AAAAAAAp", "{\"a{", "{ a: 1"}) {
    auto caps = detail::CapsFromJson(nlohmann::json(text));
    EXPECT_TRUE(std::holds_alternative<detail::Problem>(caps)) << text;
  }
  using Caps = std::map<std::string, int>;
  auto caps = detail::CapsFromJson(nlohmann::json("{AppA: 2}"));
  ASSERT_TRUE(std::holds_alternative<Caps>(caps));
  EXPECT_EQ(std::get<Caps>(caps).at("appa"), 2);
}

// Found by tests/fuzz/config_values_fuzzer: "65500m" was accepted but its byte count, written
// out, was "too large".
TEST(SizeFromTextTest, OneBoundWhateverTheUnit) {
  EXPECT_EQ(detail::SizeFromText("65500m").value(), size_t{65500} << 20);
  EXPECT_EQ(detail::SizeFromText(std::to_string(size_t{65500} << 20)).value(), size_t{65500} << 20);
  EXPECT_EQ(detail::SizeFromText("1073741824G").value(), size_t{1} << 60);
  EXPECT_EQ(detail::SizeFromText(std::to_string(size_t{1} << 60)).value(), size_t{1} << 60);
  EXPECT_FALSE(detail::SizeFromText("1073741825G").ok());
  EXPECT_FALSE(detail::SizeFromText(std::to_string((size_t{1} << 60) + 1)).ok());
  EXPECT_FALSE(detail::SizeFromText("18446744073709551615k").ok());
}

TEST(RedactUserInfoTest, HidesThePasswordWhetherOrNotTheUrlParses) {
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"redis://h:6379/1", "redis://h:6379/1"},
           {"memory", "memory"},
           {"redis://:pw@h", "redis://:<redacted>@h"},
           {"redis://user:pw@h:1/2", "redis://user:<redacted>@h:1/2"},
           {"redis://pw@h", "redis://<redacted>@h"},
           {"redis://:p@w:x@h:0", "redis://:<redacted>@h:0"},  // the last '@' ends it, as in Parse
           {"redis://:pw@", "redis://:<redacted>@"},
           {"user:pw@h", "user:<redacted>@h"},
           {"a@b://h", "<redacted>@b://h"},  // an '@' before the scheme is not user-info
       }) {
    EXPECT_EQ(detail::RedactUserInfo(c.text), c.want) << c.text;
  }
}

}  // namespace
}  // namespace gridhub::config
