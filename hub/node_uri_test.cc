#include "hub/node_uri.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

std::string Normalised(std::string_view text) {
  Result<NodeUri> uri = ParseNodeUri(text);
  return uri.ok() ? uri->str() : "error: " + uri.error().message;
}

std::string Problem(std::string_view text) {
  Result<NodeUri> uri = ParseNodeUri(text);
  return uri.ok() ? "accepted as " + uri->str() : uri.error().message;
}

TEST(ParseNodeUriTest, AcceptsNamesIpv4AndIpv6WithPortAndPath) {
  EXPECT_EQ(Normalised("http://10.0.0.5:5555"), "http://10.0.0.5:5555");
  EXPECT_EQ(Normalised("HTTPS://Box-1.Example.COM:443/wd/hub/"),
            "https://box-1.example.com:443/wd/hub");
  EXPECT_EQ(Normalised("http://[::1]:4444"), "http://[::1]:4444");
  EXPECT_EQ(Normalised("http://[2001:DB8::5]:1/x"), "http://[2001:db8::5]:1/x");
  EXPECT_EQ(Normalised("http://selenium_node:65535/a%20b/c"), "http://selenium_node:65535/a%20b/c");
  EXPECT_EQ(Normalised("http://127.0.0.1:5555///"), "http://127.0.0.1:5555");
}

TEST(ParseNodeUriTest, ParsedFieldsAreSeparate) {
  Result<NodeUri> uri = ParseNodeUri("https://[fe80::1]:8443/grid");
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  EXPECT_EQ(uri->scheme, "https");
  EXPECT_EQ(uri->host, "fe80::1");
  EXPECT_TRUE(uri->ipv6);
  EXPECT_EQ(uri->port, 8443);
  EXPECT_EQ(uri->path, "/grid");
}

TEST(ParseNodeUriTest, RefusesWhatCouldReachAnotherUrl) {
  EXPECT_EQ(Problem("http://127.0.0.1:5/x#"), "uri must not have a query or fragment");
  EXPECT_EQ(Problem("http://127.0.0.1:5/x?a=1"), "uri must not have a query or fragment");
  EXPECT_EQ(Problem("http://user:pw@10.0.0.5:5555"), "uri must not contain user-info");
  EXPECT_EQ(Problem("http://10.0.0.5:5555/a/../b"), "uri path must not have '.' or '..' segments");
  EXPECT_EQ(Problem("http://10.0.0.5:5555/%2e%2E/b"),
            "uri path must not have '.' or '..' segments");
  EXPECT_EQ(Problem("http://10.0.0.5:5555/."), "uri path must not have '.' or '..' segments");
  EXPECT_EQ(Problem("http://10.0.0.5:5555/a\\b"),
            "uri path has a character that must be percent-encoded");
  EXPECT_EQ(Problem("http://10.0.0.5:5555/a%zz"), "uri path has a malformed percent-escape");
  EXPECT_EQ(Problem("http://10.0.0.5:5555/a%2"), "uri path has a malformed percent-escape");
}

TEST(ParseNodeUriTest, RefusesMissingOrBadPorts) {
  const std::string need_port = "uri must give an explicit port (http(s)://host:port)";
  EXPECT_EQ(Problem("http://10.0.0.5"), need_port);
  EXPECT_EQ(Problem("http://10.0.0.5/wd"), need_port);
  EXPECT_EQ(Problem("http://[::1]"), need_port);
  EXPECT_EQ(Problem("http://[::1]x:5"), need_port);
  EXPECT_EQ(Problem("http://10.0.0.5:"), need_port);
  const std::string range = "uri port must be a number from 1 to 65535";
  EXPECT_EQ(Problem("http://10.0.0.5:0"), range);
  EXPECT_EQ(Problem("http://10.0.0.5:65536"), range);
  EXPECT_EQ(Problem("http://10.0.0.5:123456"), range);
  EXPECT_EQ(Problem("http://10.0.0.5:+80"), range);
  EXPECT_EQ(Problem("http://10.0.0.5:80:81"), range);
}

TEST(ParseNodeUriTest, RefusesHostsThatAreNotNamesOrAddresses) {
  EXPECT_EQ(Problem("http://:5555"), "uri has no host");
  EXPECT_EQ(Problem("http://[::1:5555"), "uri has an unclosed [IPv6] host");
  EXPECT_EQ(Problem("http://[::g]:5555"), "uri host is not a valid [IPv6] address");
  EXPECT_EQ(Problem("http://[fe80::1%25eth0]:5555"), "uri host is not a valid [IPv6] address");
  EXPECT_EQ(Problem("http://[]:5555"), "uri host is not a valid [IPv6] address");
  const std::string quad = "uri host is not a valid dotted-quad IPv4 address";
  EXPECT_EQ(Problem("http://127.1:5555"), quad);
  EXPECT_EQ(Problem("http://2130706433:5555"), quad);
  EXPECT_EQ(Problem("http://0x7f.0x1:5555"), quad);
  EXPECT_EQ(Problem("http://0177.0.0.1:5555"), quad);
  EXPECT_EQ(Problem("http://256.0.0.1:5555"), quad);
  EXPECT_EQ(Problem("http://a..b:5555"), "uri host has an empty label");
  EXPECT_EQ(Problem("http://a.b.:5555"), "uri host has an empty label");
  EXPECT_EQ(Problem("http://a!b:5555"), "uri host must be a name, an IPv4 address or [IPv6]");
  EXPECT_EQ(Problem("http://" + std::string(64, 'a') + ":5555"),
            "uri host has a label longer than 63 characters");
}

TEST(ParseNodeUriTest, RefusesOtherSchemesAndUnsafeCharacters) {
  const std::string scheme = "uri must be an http:// or https:// URL (http(s)://host:port[/path])";
  EXPECT_EQ(Problem("ftp://10.0.0.5:21"), scheme);
  EXPECT_EQ(Problem("10.0.0.5:5555"), scheme);
  EXPECT_EQ(Problem(""), scheme);
  const std::string chars = "uri must not contain whitespace, control or non-ASCII";
  EXPECT_EQ(Problem("http://10.0.0.5:5555/a b"), chars);
  EXPECT_EQ(Problem("http://10.0.0.5:5555/\r\nX: y"), chars);
  EXPECT_EQ(Problem(std::string("http://10.0.0.5:5555/\0", 22)), chars);
  EXPECT_EQ(Problem("http://b\xc3\xbc.de:5555"), chars);
}

TEST(IsLoopbackAddressTest, KnowsEveryLoopbackForm) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.255.3.4"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("0:0:0:0:0:ffff:7f00:1"));
  EXPECT_FALSE(IsLoopbackAddress("10.1.2.3"));
  EXPECT_FALSE(IsLoopbackAddress("::ffff:10.1.2.3"));
  EXPECT_FALSE(IsLoopbackAddress("::2"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress(""));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));
  EXPECT_FALSE(IsLoopbackAddress("127.1"));
}

TEST(IsOwnAddressTest, TheHubsPortOnAnyOfItsAddresses) {
  SelfAddress self{.port = 4444, .ips = {"10.0.0.1", "fd00::7"}, .names = {"hub-box"}};
  auto own = [&](std::string_view text) {
    Result<NodeUri> uri = ParseNodeUri(text);
    EXPECT_TRUE(uri.ok()) << text;
    return uri.ok() && IsOwnAddress(*uri, self);
  };
  EXPECT_TRUE(own("http://127.0.0.1:4444"));
  EXPECT_TRUE(own("http://127.9.9.9:4444/wd/hub"));
  EXPECT_TRUE(own("https://[::1]:4444"));
  EXPECT_TRUE(own("http://[::ffff:127.0.0.1]:4444"));
  EXPECT_TRUE(own("http://0.0.0.0:4444"));
  EXPECT_TRUE(own("http://[::]:4444"));
  EXPECT_TRUE(own("http://localhost:4444"));
  EXPECT_TRUE(own("http://LocalHost:4444"));
  EXPECT_TRUE(own("http://x.localhost:4444"));
  EXPECT_TRUE(own("http://10.0.0.1:4444"));
  EXPECT_TRUE(own("http://[::ffff:10.0.0.1]:4444"));
  EXPECT_TRUE(own("http://[fd00:0::7]:4444"));
  EXPECT_TRUE(own("http://hub-box:4444"));
  EXPECT_FALSE(own("http://127.0.0.1:4445"));
  EXPECT_FALSE(own("http://10.0.0.2:4444"));
  EXPECT_FALSE(own("http://other-box:4444"));
  self.port = 0;  // not listening yet: nothing is known to be the hub
  EXPECT_FALSE(own("http://127.0.0.1:4444"));
}

}  // namespace
}  // namespace gridhub::hub
