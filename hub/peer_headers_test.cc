#include "hub/peer_headers.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

http::ServerRequest WithHeaders(http::Headers headers) {
  http::ServerRequest request;
  request.method = "POST";
  request.path = "/session";
  request.headers = std::move(headers);
  return request;
}

PeerCaller Vouched() {
  return {.hub_id = "hub-a",
          .access = Access::kAdmin,
          .exposure = Exposure::kFull,
          .public_base = "http://front:4444",
          .order = 42};
}

TEST(PeerHeadersTest, RoundTripsWithTheRightSecret) {
  http::Headers headers;
  AddPeerHeaders(headers, Vouched(), "s3cret");
  std::optional<PeerCaller> read = ReadPeerHeaders(WithHeaders(headers), "s3cret");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->hub_id, "hub-a");
  EXPECT_EQ(read->access, Access::kAdmin);
  EXPECT_EQ(read->exposure, Exposure::kFull);
  EXPECT_EQ(read->public_base, "http://front:4444");
  EXPECT_EQ(read->order, std::optional<uint64_t>(42));
}

TEST(PeerHeadersTest, WrongMissingOrUnsetSecretIsNotTrusted) {
  http::Headers headers;
  AddPeerHeaders(headers, Vouched(), "s3cret");
  EXPECT_FALSE(ReadPeerHeaders(WithHeaders(headers), "other").has_value());
  EXPECT_FALSE(ReadPeerHeaders(WithHeaders(headers), "").has_value());
  http::Headers no_secret = headers;
  std::erase_if(no_secret, [](const auto& h) { return h.first == kPeerSecretHeader; });
  EXPECT_FALSE(ReadPeerHeaders(WithHeaders(no_secret), "s3cret").has_value());
}

TEST(PeerHeadersTest, UnreadableAccessOrOrderIsNotHalfBelieved) {
  http::Headers headers = {{"X-Gridhub-Peer", "hub-a"},
                           {"X-Gridhub-Peer-Secret", "s3cret"},
                           {"X-Gridhub-Access", "root"}};
  EXPECT_FALSE(ReadPeerHeaders(WithHeaders(headers), "s3cret").has_value());
  headers[2].second = "client";
  headers.emplace_back("X-Gridhub-Order", "12x");
  EXPECT_FALSE(ReadPeerHeaders(WithHeaders(headers), "s3cret").has_value());
  headers.pop_back();
  std::optional<PeerCaller> read = ReadPeerHeaders(WithHeaders(headers), "s3cret");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->access, Access::kClient);
  EXPECT_EQ(read->exposure, Exposure::kCounts);  // not sent: the least
  EXPECT_FALSE(read->order.has_value());
}

TEST(PeerHeadersTest, StripsEveryGridhubHeaderWhateverItsCase) {
  http::Headers stripped = StripPeerHeaders({{"x-gridhub-access", "admin"},
                                             {"Authorization", "Bearer t"},
                                             {"X-GRIDHUB-PEER", "forged"},
                                             {"X-Gridhub-Not-Leader", "1"},
                                             {"X-Gridhubby", "kept: not the X-Gridhub- prefix"}});
  ASSERT_EQ(stripped.size(), 2u);
  EXPECT_EQ(stripped[0].first, "Authorization");
  EXPECT_EQ(stripped[1].first, "X-Gridhubby");
}

TEST(PeerHeadersTest, AccessNamesOnTheWire) {
  EXPECT_EQ(AccessWireName(Access::kNodeDrain), "node");
  EXPECT_EQ(AccessWireName(Access::kClientOrNode), "client");
  EXPECT_EQ(AccessFromWire("open"), std::optional<Access>(Access::kOpen));
  EXPECT_FALSE(AccessFromWire("Admin").has_value());
}

TEST(PeerHeadersTest, PublicBaseThatWouldSplitTheHeadIsNotSent) {
  http::Headers headers;
  PeerCaller caller = Vouched();
  caller.public_base = "http://x\r\nEvil: 1";
  AddPeerHeaders(headers, caller, "s");
  EXPECT_EQ(http::FindHeader(headers, kPeerPublicBaseHeader), "");
}

}  // namespace
}  // namespace gridhub::hub
