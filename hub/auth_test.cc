#include "hub/auth.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::hub {
namespace {

constexpr std::string_view kLoopback = "127.0.0.1";
constexpr std::string_view kRemote = "192.0.2.7";

// "Basic base64(user:password)".
std::string Basic(std::string_view user_colon_password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : user_colon_password) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  while (out.size() % 4 != 0) out.push_back('=');
  return "Basic " + out;
}

Caller From(std::string_view peer, std::string_view authorization = {},
            std::string_view secret = {}) {
  return {.authorization = authorization, .registration_secret = secret, .peer_address = peer};
}

std::string Why(const Status& status) { return status.ok() ? "" : status.error().message; }

TEST(AuthTest, OpenRoutesNeedNothing) {
  Credentials all{.admin_token = "adm", .client_token = "ct", .registration_secret = "reg"};
  EXPECT_TRUE(CheckAccess(Access::kOpen, all, From(kRemote)).ok());
}

TEST(AuthTest, WithoutAClientTokenEveryoneIsAClient) {
  EXPECT_TRUE(CheckAccess(Access::kClient, {}, From(kRemote)).ok());
  EXPECT_TRUE(CheckAccess(Access::kClient, {}, From(kRemote, "Bearer whatever")).ok());
}

TEST(AuthTest, ClientTokenAsBearerOrAsBasicPasswordOfAnyUser) {
  Credentials credentials{.client_token = "ct"};
  EXPECT_TRUE(CheckAccess(Access::kClient, credentials, From(kRemote, "Bearer ct")).ok());
  EXPECT_TRUE(CheckAccess(Access::kClient, credentials, From(kRemote, "bearer ct")).ok());
  const std::string anyone = Basic("anyone:ct");
  const std::string nobody = Basic(":ct");
  EXPECT_TRUE(CheckAccess(Access::kClient, credentials, From(kRemote, anyone)).ok());
  EXPECT_TRUE(CheckAccess(Access::kClient, credentials, From(kRemote, nobody)).ok());
}

TEST(AuthTest, WrongOrMissingClientTokenIsRefusedEvenOnLoopback) {
  Credentials credentials{.client_token = "ct"};
  for (std::string_view authorization :
       {std::string_view(), std::string_view("Bearer c"), std::string_view("Bearer ctx"),
        std::string_view("Bearer "), std::string_view("ct"), std::string_view("Basic !!!!")}) {
    Status status = CheckAccess(Access::kClient, credentials, From(kLoopback, authorization));
    ASSERT_FALSE(status.ok()) << authorization;
    EXPECT_EQ(status.error().code, ErrorCode::kUnauthorized);
    EXPECT_EQ(status.error().message, "missing or wrong client token");
  }
  const std::string no_colon = Basic("ct");  // no user:password pair
  const std::string wrong = Basic("ct:wrong");
  EXPECT_FALSE(CheckAccess(Access::kClient, credentials, From(kLoopback, no_colon)).ok());
  EXPECT_FALSE(CheckAccess(Access::kClient, credentials, From(kLoopback, wrong)).ok());
}

TEST(AuthTest, AdminTokenIsAClientCredentialButNotTheReverse) {
  Credentials credentials{.admin_token = "adm", .client_token = "ct"};
  const std::string basic_admin = Basic("u:adm");
  EXPECT_TRUE(CheckAccess(Access::kClient, credentials, From(kRemote, "Bearer adm")).ok());
  EXPECT_TRUE(CheckAccess(Access::kClient, credentials, From(kRemote, basic_admin)).ok());
  EXPECT_TRUE(CheckAccess(Access::kAdmin, credentials, From(kRemote, basic_admin)).ok());
  Status status = CheckAccess(Access::kAdmin, credentials, From(kLoopback, "Bearer ct"));
  EXPECT_EQ(Why(status), "missing or wrong admin token");
}

TEST(AuthTest, BearerHeaderIsNotReadAsBasic) {
  // A Bearer header is judged on its token alone.
  Credentials credentials{.admin_token = "adm"};
  EXPECT_FALSE(CheckAccess(Access::kAdmin, credentials, From(kRemote, "Bearer x")).ok());
  EXPECT_TRUE(CheckAccess(Access::kAdmin, credentials, From(kRemote, "Bearer adm")).ok());
}

TEST(AuthTest, AdminWithoutAnyTokenStaysOnLoopback) {
  EXPECT_TRUE(CheckAccess(Access::kAdmin, {}, From(kLoopback)).ok());
  EXPECT_TRUE(CheckAccess(Access::kAdmin, {}, From("127.3.2.1")).ok());
  EXPECT_TRUE(CheckAccess(Access::kAdmin, {}, From("::1")).ok());
  EXPECT_TRUE(CheckAccess(Access::kAdmin, {}, From("::ffff:127.0.0.1")).ok());
  Status status = CheckAccess(Access::kAdmin, {}, From(kRemote, "Bearer anything"));
  EXPECT_EQ(Why(status),
            "admin calls from 192.0.2.7 are refused: without hub.admin-token the hub accepts "
            "them only from loopback; set hub.admin-token to administer it from other machines");
  EXPECT_FALSE(CheckAccess(Access::kAdmin, {}, From("::ffff:192.0.2.7")).ok());
  EXPECT_FALSE(CheckAccess(Access::kAdmin, {}, From("2001:db8::1")).ok());
  EXPECT_FALSE(CheckAccess(Access::kAdmin, {}, From("")).ok());
}

TEST(AuthTest, WithoutAnAdminTokenTheClientTokenGuardsAdminCalls) {
  Credentials credentials{.client_token = "ct"};
  EXPECT_TRUE(CheckAccess(Access::kAdmin, credentials, From(kRemote, "Bearer ct")).ok());
  EXPECT_EQ(Why(CheckAccess(Access::kAdmin, credentials, From(kLoopback))),
            "missing or wrong admin token");
}

TEST(AuthTest, NodeCallsWithoutASecretComeFromLoopbackOnly) {
  EXPECT_TRUE(CheckAccess(Access::kNode, {}, From(kLoopback)).ok());
  EXPECT_TRUE(CheckAccess(Access::kNode, {}, From("::1")).ok());
  EXPECT_TRUE(CheckAccess(Access::kNode, {}, From("::ffff:127.0.0.1")).ok());
  EXPECT_TRUE(CheckAccess(Access::kNodeDrain, {}, From(kLoopback)).ok());
  Status status = CheckAccess(Access::kNode, {}, From("::ffff:192.0.2.7"));
  EXPECT_EQ(Why(status),
            "node calls from ::ffff:192.0.2.7 are refused: without hub.registration-secret the "
            "hub accepts them only from loopback; set hub.registration-secret on the hub and on "
            "its nodes to register nodes from other machines");
  // A secret sent to a hub that has none opens nothing.
  EXPECT_FALSE(CheckAccess(Access::kNode, {}, From(kRemote, "", "guess")).ok());
}

TEST(AuthTest, WithASecretEveryNodeCallNeedsItFromAnywhere) {
  Credentials credentials{.registration_secret = "reg"};
  EXPECT_TRUE(CheckAccess(Access::kNode, credentials, From(kRemote, "", "reg")).ok());
  EXPECT_TRUE(CheckAccess(Access::kNodeDrain, credentials, From(kRemote, "", "reg")).ok());
  for (std::string_view secret : {"", "re", "reg2", "REG"}) {
    EXPECT_EQ(Why(CheckAccess(Access::kNode, credentials, From(kLoopback, "", secret))),
              "missing or wrong X-Registration-Secret (hub.registration-secret)");
    EXPECT_EQ(Why(CheckAccess(Access::kNodeDrain, credentials, From(kLoopback, "", secret))),
              "missing or wrong X-Registration-Secret (hub.registration-secret) or admin token");
  }
}

TEST(AuthTest, TheAdminTokenOpensEveryNodeCall) {
  Credentials credentials{.admin_token = "adm", .registration_secret = "reg"};
  EXPECT_TRUE(CheckAccess(Access::kNode, credentials, From(kRemote, "Bearer adm")).ok());
  EXPECT_TRUE(CheckAccess(Access::kNodeDrain, credentials, From(kRemote, Basic("x:adm"))).ok());
  EXPECT_FALSE(CheckAccess(Access::kNode, credentials, From(kRemote, "Bearer reg")).ok());
}

TEST(AuthTest, DrainOnLoopbackNeedsTheAdminTokenWhenOneIsSet) {
  Credentials credentials{.admin_token = "adm"};
  EXPECT_TRUE(CheckAccess(Access::kNode, credentials, From(kLoopback)).ok());
  EXPECT_EQ(Why(CheckAccess(Access::kNodeDrain, credentials, From(kLoopback))),
            "missing or wrong admin token");
  EXPECT_TRUE(CheckAccess(Access::kNodeDrain, credentials, From(kLoopback, "Bearer adm")).ok());
}

TEST(AuthTest, TheRegistryIsShownToClientsAndToNodes) {
  Credentials credentials{.client_token = "ct", .registration_secret = "reg"};
  EXPECT_TRUE(CheckAccess(Access::kClientOrNode, credentials, From(kRemote, "Bearer ct")).ok());
  EXPECT_TRUE(CheckAccess(Access::kClientOrNode, credentials, From(kRemote, "", "reg")).ok());
  EXPECT_EQ(Why(CheckAccess(Access::kClientOrNode, credentials, From(kLoopback, "", "x"))),
            "missing or wrong client token");
  // Without a client token anyone may read it.
  EXPECT_TRUE(
      CheckAccess(Access::kClientOrNode, {.registration_secret = "reg"}, From(kRemote)).ok());
}

TEST(AuthTest, AdminDrainAndNodeCallsFromAnotherSiteAreRefused) {
  for (Access access : {Access::kAdmin, Access::kNodeDrain, Access::kNode}) {
    EXPECT_EQ(CheckSite(access, {.sec_fetch_site = "cross-site"}).error().code,
              ErrorCode::kForbidden);
    EXPECT_EQ(CheckSite(access, {.sec_fetch_site = "Cross-Site", .host = "hub:4444"}).error().code,
              ErrorCode::kForbidden);
    for (std::string_view origin :
         {"http://evil.example", "null", "http://hub:4445", "http://hub:4444.evil", "hub:4444"}) {
      EXPECT_FALSE(CheckSite(access, {.origin = origin, .host = "hub:4444"}).ok()) << origin;
    }
    EXPECT_FALSE(CheckSite(access, {.origin = "http://hub:4444"}).ok());  // no Host to match
  }
}

TEST(AuthTest, SameOriginCallsAndNonBrowserClientsPassTheSiteCheck) {
  EXPECT_TRUE(CheckSite(Access::kAdmin, {}).ok());  // curl, bindings, node agents
  EXPECT_TRUE(
      CheckSite(Access::kAdmin,
                {.sec_fetch_site = "same-origin", .origin = "http://Hub:4444", .host = "hub:4444"})
          .ok());
  EXPECT_TRUE(
      CheckSite(Access::kNodeDrain, {.origin = "https://hub:4444/", .host = "hub:4444"}).ok());
  // Client and open calls are not checked here.
  EXPECT_TRUE(CheckSite(Access::kClient, {.sec_fetch_site = "cross-site"}).ok());
  EXPECT_TRUE(CheckSite(Access::kOpen, {.origin = "http://evil.example", .host = "h"}).ok());
}

}  // namespace
}  // namespace gridhub::hub
