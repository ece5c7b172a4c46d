#include "hub/public_url.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace gridhub::hub {
namespace {

using nlohmann::json;

std::string Base(const PublicUrlSources& in) {
  std::optional<PublicBase> base = ChoosePublicBase(in);
  return base.has_value() ? base->str() : "<none>";
}

std::string SourceOf(const PublicUrlSources& in) {
  std::optional<PublicBase> base = ChoosePublicBase(in);
  return base.has_value() ? base->source : "<none>";
}

TEST(PublicUrlTest, ConfiguredUrlComesFirstWithItsPathAsPrefix) {
  PublicUrlSources in{.configured = "https://Grid.Example.com/wd/hub/",
                      .remote_url = "http://client-view:4444",
                      .trust_forwarded = true,
                      .x_forwarded_host = "proxy",
                      .host = "hub:4444",
                      .legacy = true};
  EXPECT_EQ(Base(in), "wss://grid.example.com/wd/hub");
  EXPECT_EQ(SourceOf(in), "public-url");
  in.configured = "http://10.0.0.1:8080";
  EXPECT_EQ(Base(in), "ws://10.0.0.1:8080");
  std::optional<PublicBase> base = ChoosePublicBase(in);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(base->SocketUrl("abc", "bidi"), "ws://10.0.0.1:8080/session/abc/se/bidi");
}

TEST(PublicUrlTest, RemoteUrlComesSecond) {
  PublicUrlSources in{.remote_url = "http://grid.lan:4444/wd/hub",
                      .trust_forwarded = true,
                      .x_forwarded_host = "proxy",
                      .host = "hub:4444"};
  EXPECT_EQ(Base(in), "ws://grid.lan:4444/wd/hub");
  EXPECT_EQ(SourceOf(in), "se:remoteUrl");
  in.remote_url = "HTTPS://grid.lan";
  EXPECT_EQ(Base(in), "wss://grid.lan");
}

TEST(PublicUrlTest, MalformedRemoteUrlFallsThrough) {
  for (const char* bad :
       {"ftp://grid:21", "http://user:pw@grid:4444", "http://grid:4444/?x=1", "http://grid:4444/#f",
        "http://gr id:4444", "http://grid:99999", "http://grid:4444/a b",
        "http://grid:4444/\r\nX: y", "http://grid:4444/../x", "grid:4444", "http://:4444",
        "http://[::1:4444"}) {
    PublicUrlSources in{.remote_url = bad, .host = "hub:4444"};
    EXPECT_EQ(Base(in), "ws://hub:4444") << bad;
    EXPECT_EQ(SourceOf(in), "host") << bad;
  }
}

TEST(PublicUrlTest, ForwardedHeadersOnlyWhenTrusted) {
  PublicUrlSources in{.x_forwarded_proto = "https",
                      .x_forwarded_host = "grid.example.com",
                      .x_forwarded_prefix = "/selenium",
                      .host = "hub:4444"};
  EXPECT_EQ(Base(in), "ws://hub:4444");
  in.trust_forwarded = true;
  EXPECT_EQ(Base(in), "wss://grid.example.com/selenium");
  EXPECT_EQ(SourceOf(in), "forwarded");
  in.legacy = true;
  EXPECT_EQ(Base(in), "wss://grid.example.com/selenium/wd/hub");
}

TEST(PublicUrlTest, ForwardedTakesTheFirstHopAndAPort) {
  PublicUrlSources in{.trust_forwarded = true,
                      .x_forwarded_proto = "http, https",
                      .x_forwarded_host = "outer:8080, inner",
                      .host = "hub:4444"};
  EXPECT_EQ(Base(in), "ws://outer:8080");
  in.x_forwarded_host = "outer";
  in.x_forwarded_port = "9000";
  EXPECT_EQ(Base(in), "ws://outer:9000");
  // A port already in the host wins.
  in.x_forwarded_host = "outer:81";
  EXPECT_EQ(Base(in), "ws://outer:81");
  // Only the proto forwarded: the host is the request's.
  PublicUrlSources proto_only{
      .trust_forwarded = true, .x_forwarded_proto = "https", .host = "hub.lan:4444"};
  EXPECT_EQ(Base(proto_only), "wss://hub.lan:4444");
}

TEST(PublicUrlTest, Rfc7239Forwarded) {
  PublicUrlSources in{
      .trust_forwarded = true,
      .forwarded =
          R"(for=192.0.2.60;Proto=https;host="grid.example.com:8443", for=10.0.0.1;host=inner)",
      .x_forwarded_host = "ignored",
      .host = "hub:4444"};
  EXPECT_EQ(Base(in), "wss://grid.example.com:8443");
  in.forwarded = "for=1.2.3.4";  // no host or proto: the X-Forwarded-* then decide
  EXPECT_EQ(Base(in), "ws://ignored");
  in.forwarded = R"(host="[2001:db8::1]:8080";proto=http)";
  EXPECT_EQ(Base(in), "ws://[2001:db8::1]:8080");
}

TEST(PublicUrlTest, MalformedForwardedFallsBackToHost) {
  for (const char* bad : {"host", "host=\"unterminated", "host=a b", "proto=gopher;host=grid",
                          "host=grid\\x", "host=\"a\\\"b\""}) {
    PublicUrlSources in{.trust_forwarded = true, .forwarded = bad, .host = "hub:4444"};
    EXPECT_EQ(Base(in), "ws://hub:4444") << bad;
  }
  for (PublicUrlSources in : {
           PublicUrlSources{
               .trust_forwarded = true, .x_forwarded_host = "evil\r\nX: 1", .host = "hub:4444"},
           PublicUrlSources{
               .trust_forwarded = true, .x_forwarded_proto = "ftp", .host = "hub:4444"},
           PublicUrlSources{
               .trust_forwarded = true, .x_forwarded_prefix = "/a?b", .host = "hub:4444"},
           PublicUrlSources{
               .trust_forwarded = true, .x_forwarded_prefix = "/../x", .host = "hub:4444"},
           PublicUrlSources{.trust_forwarded = true, .x_forwarded_prefix = "x", .host = "hub:4444"},
       }) {
    EXPECT_EQ(Base(in), "ws://hub:4444");
  }
}

TEST(PublicUrlTest, BadForwardedPortFallsBackToHost) {
  EXPECT_EQ(Base({.trust_forwarded = true,
                  .x_forwarded_host = "proxy",
                  .x_forwarded_port = "0",
                  .host = "hub"}),
            "ws://hub");
}

TEST(PublicUrlTest, HostHeaderKeepsTheLegacyPrefix) {
  EXPECT_EQ(Base({.host = "Hub.LAN:4444"}), "ws://hub.lan:4444");
  EXPECT_EQ(Base({.host = "hub:4444", .legacy = true}), "ws://hub:4444/wd/hub");
  EXPECT_EQ(Base({.host = "[::1]:4444"}), "ws://[::1]:4444");
  EXPECT_EQ(Base({.host = "127.0.0.1"}), "ws://127.0.0.1");
  EXPECT_EQ(Base({.host = "grid_hub_1:4444"}), "ws://grid_hub_1:4444");
}

TEST(PublicUrlTest, GarbageHostGivesNoPublic) {
  for (const char* bad :
       {"", "hub 4444", "hub:", "hub:0", "hub:65536", "hub:44a", "a:b:c", "[::1", "[zz::1]:80",
        "[::1]x", "hub\r\n", "hub/x", "user@hub", ".hub", "-hub", "a..b", "hüb:80", "hub:4444:1"}) {
    EXPECT_EQ(Base({.host = bad}), "<none>") << bad;
  }
}

TEST(PublicUrlTest, NoUrlCarriesSpacesOrLineBreaks) {
  // Whatever the inputs, a chosen base has only URL characters.
  const char* junk[] = {"a b", "a\rb", "a\nb", "a\tb", "a\"b", "a<b", "a\\b", "a%zz", "a{b}"};
  for (const char* j : junk) {
    for (PublicUrlSources in :
         {PublicUrlSources{.configured = j, .host = j},
          PublicUrlSources{.remote_url = j, .host = j},
          PublicUrlSources{.trust_forwarded = true, .x_forwarded_host = j, .host = j},
          PublicUrlSources{.trust_forwarded = true, .x_forwarded_prefix = j, .host = "h"}}) {
      std::optional<PublicBase> base = ChoosePublicBase(in);
      if (!base.has_value()) continue;
      EXPECT_EQ(base->str().find_first_of(" \r\n\t\"<>\\{}"), std::string::npos) << base->str();
    }
  }
}

TEST(PublicUrlTest, ParsePublicUrl) {
  EXPECT_EQ(ParsePublicUrl("http://h:1/a/b//")->str(), "ws://h:1/a/b");
  EXPECT_EQ(ParsePublicUrl("https://h/")->str(), "wss://h");
  EXPECT_EQ(ParsePublicUrl("https://h/p%20q")->str(), "wss://h/p%20q");
  EXPECT_FALSE(ParsePublicUrl("https://h/p%2").has_value());
  EXPECT_FALSE(ParsePublicUrl("ws://h:1").has_value());
  EXPECT_FALSE(ParsePublicUrl("").has_value());
}

TEST(PublicUrlTest, TakeRemoteUrlRemovesItEverywhere) {
  json body = {{"capabilities",
                {{"alwaysMatch", {{"browserName", "chrome"}, {"se:remoteUrl", "http://a:1"}}},
                 {"firstMatch", json::array({{{"se:remoteUrl", "http://b:2"}}, json::object()})}}}};
  EXPECT_EQ(TakeRemoteUrl(body), "http://a:1");
  EXPECT_FALSE(body["capabilities"]["alwaysMatch"].contains("se:remoteUrl"));
  EXPECT_FALSE(body["capabilities"]["firstMatch"][0].contains("se:remoteUrl"));
  EXPECT_EQ(body["capabilities"]["alwaysMatch"]["browserName"], "chrome");

  json first_only = {
      {"capabilities",
       {{"firstMatch", json::array({{{"se:remoteUrl", 7}}, {{"se:remoteUrl", "http://c:3"}}})}}}};
  EXPECT_EQ(TakeRemoteUrl(first_only), "http://c:3");  // a non-string is dropped, not used
  EXPECT_FALSE(first_only["capabilities"]["firstMatch"][0].contains("se:remoteUrl"));

  json none = {{"capabilities", {{"alwaysMatch", {{"browserName", "chrome"}}}}}};
  EXPECT_EQ(TakeRemoteUrl(none), "");
  json odd = json::array();
  EXPECT_EQ(TakeRemoteUrl(odd), "");
  json odd_caps = {{"capabilities", 5}};
  EXPECT_EQ(TakeRemoteUrl(odd_caps), "");
}

}  // namespace
}  // namespace gridhub::hub
