#include "http/request_head.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::http {
namespace {

HeadCheck Inspect(const std::string& head, HeadLimits limits = {}) {
  return InspectRequestHead(head, limits);
}

TEST(RequestHeadTest, AcceptsAWellFormedHeadAndReportsItsFraming) {
  HeadCheck check = Inspect("POST /session HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{...");
  ASSERT_EQ(check.verdict, HeadVerdict::kOk) << check.message;
  EXPECT_EQ(check.head_size, 55u);
  EXPECT_EQ(check.content_length, 12u);
  EXPECT_FALSE(check.close);
  EXPECT_FALSE(check.chunked);
}

TEST(RequestHeadTest, WaitsForTheRestOfAnIncompleteHead) {
  EXPECT_EQ(Inspect("GET /sta").verdict, HeadVerdict::kIncomplete);
  EXPECT_EQ(Inspect("GET /status HTTP/1.1\r\nHost: x\r\n").verdict, HeadVerdict::kIncomplete);
}

TEST(RequestHeadTest, RejectsGarbageAsSoonAsTheFirstLineEnds) {
  for (const char* head : {"GARBAGE\r\n", "GET /status\r\n", "GET  HTTP/1.1\r\n",
                           "GET /status HTTP/2.0\r\n", "GET /a b HTTP/1.1\r\n"}) {
    HeadCheck check = Inspect(head);
    EXPECT_EQ(check.verdict, HeadVerdict::kBad) << head;
    EXPECT_EQ(check.status, 400) << head;
  }
  EXPECT_EQ(Inspect("BREW /pot HTTP/1.1\r\n").status, 501);
  EXPECT_EQ(Inspect("GET /x HTTP/1.1\r\nno colon here\r\n\r\n").status, 400);
}

TEST(RequestHeadTest, ContentLengthMustBeDigitsWithinMaxBody) {
  auto with_length = [](const std::string& value) {
    return Inspect("POST /session HTTP/1.1\r\nContent-Length: " + value + "\r\n\r\n",
                   {.max_body = 1000});
  };
  EXPECT_EQ(with_length("-5").status, 400);
  EXPECT_EQ(with_length("99999999999999999999999").status, 400);
  EXPECT_EQ(with_length("1x").status, 400);
  EXPECT_EQ(with_length("").status, 400);
  EXPECT_EQ(with_length("1001").status, 413);
  EXPECT_EQ(with_length("1000000000000").status, 413);
  EXPECT_EQ(with_length("1000").verdict, HeadVerdict::kOk);
  EXPECT_EQ(Inspect("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status,
            400);
  EXPECT_EQ(
      Inspect("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").status,
      400);
  EXPECT_EQ(Inspect("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").status, 501);
  EXPECT_TRUE(Inspect("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").chunked);
}

TEST(RequestHeadTest, TooManyOrTooLargeHeadersAre431) {
  std::string head = "GET /status HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(Inspect(head + "\r\n").status, 431);
  EXPECT_EQ(Inspect(head + "\r\n", {.max_headers = 200}).verdict, HeadVerdict::kOk);
  EXPECT_EQ(Inspect("GET /" + std::string(70000, 'a')).status, 431);
  EXPECT_EQ(Inspect("GET / HTTP/1.1\r\nX: " + std::string(70000, 'a')).status, 431);
}

TEST(RequestHeadTest, ConnectionTokens) {
  EXPECT_TRUE(Inspect("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").close);
  EXPECT_TRUE(Inspect("GET / HTTP/1.0\r\n\r\n").close);
  HeadCheck kept = Inspect("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_FALSE(kept.close);
  EXPECT_TRUE(kept.keep_alive);
  EXPECT_FALSE(Inspect("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n").close);
}

}  // namespace
}  // namespace gridhub::http
