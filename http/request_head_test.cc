#include "http/request_head.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gridhub::http {
namespace {

// Feeds `input` in pieces of `step` bytes; collects the requests and the final event.
struct Outcome {
  std::vector<FramedRequest> requests;
  FrameEvent last = FrameEvent::kNeedMore;
  int status = 0;
  std::string message;
  int heads_complete = 0;
};

Outcome Frame(const std::string& input, HeadLimits limits = {}, size_t step = 0) {
  RequestFramer framer(limits);
  Outcome out;
  if (step == 0) step = input.size() + 1;
  for (size_t at = 0; at < input.size() || at == 0; at += step) {
    std::string_view piece = std::string_view(input).substr(at, step);
    for (;;) {
      out.last = framer.Feed(piece);
      if (out.last == FrameEvent::kRequest) {
        out.requests.push_back(framer.TakeRequest());
        continue;
      }
      if (out.last == FrameEvent::kHeadComplete) {
        ++out.heads_complete;
        continue;
      }
      break;
    }
    if (out.last == FrameEvent::kBad) {
      out.status = framer.error_status();
      out.message = framer.error_message();
      break;
    }
    if (input.empty()) break;
  }
  return out;
}

int StatusOf(const std::string& input, HeadLimits limits = {}) {
  return Frame(input, limits).status;
}

TEST(RequestFramerTest, FramesAWellFormedRequestWithItsBody) {
  Outcome out =
      Frame("POST /session?b=2&a=1&a=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(out.requests.size(), 1u) << out.message;
  const FramedRequest& r = out.requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/session");
  EXPECT_EQ(r.query, "?b=2&a=1&a=3");  // byte for byte: order and repeated keys kept
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.content_length, 5u);
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[1].first, "Content-Length");
  EXPECT_FALSE(r.close);
  EXPECT_EQ(out.last, FrameEvent::kNeedMore);
}

TEST(RequestFramerTest, SameResultWhateverTheReadSizes) {
  const std::string input =
      "\r\nPOST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
      "GET /b%2F?x=%20 HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t step : {1, 2, 3, 4, 7, 64, 1000}) {
    Outcome out = Frame(input, {}, step);
    ASSERT_EQ(out.requests.size(), 2u) << "step " << step << ": " << out.message;
    EXPECT_EQ(out.requests[0].body, "hello world") << step;
    EXPECT_TRUE(out.requests[0].chunked);
    // The request pipelined behind the chunked one is served, path as sent.
    EXPECT_EQ(out.requests[1].path, "/b%2F");
    EXPECT_EQ(out.requests[1].query, "?x=%20");
  }
}

TEST(RequestFramerTest, ReportsPhasesForTheServersTimers) {
  RequestFramer framer;
  EXPECT_EQ(framer.phase(), FramePhase::kIdle);
  std::string_view part = "POST / HTTP/1.1\r\nContent-Le";
  EXPECT_EQ(framer.Feed(part), FrameEvent::kNeedMore);
  EXPECT_EQ(framer.phase(), FramePhase::kHead);
  std::string_view rest = "ngth: 4\r\nExpect: 100-continue\r\n\r\n";
  EXPECT_EQ(framer.Feed(rest), FrameEvent::kHeadComplete);
  EXPECT_TRUE(framer.head().expect_continue);
  EXPECT_EQ(framer.phase(), FramePhase::kBody);
  std::string_view body = "ab";
  EXPECT_EQ(framer.Feed(body), FrameEvent::kNeedMore);
  EXPECT_EQ(framer.body_wire_bytes(), 2u);
  std::string_view more = "cd";
  EXPECT_EQ(framer.Feed(more), FrameEvent::kRequest);
  EXPECT_EQ(framer.TakeRequest().body, "abcd");
  EXPECT_EQ(framer.phase(), FramePhase::kIdle);
}

TEST(RequestFramerTest, RejectsGarbageAsSoonAsTheFirstLineEnds) {
  for (const char* head :
       {"GARBAGE\r\n", "GET /status\r\n", "GET  HTTP/1.1\r\n", "GET /status HTTP/2.0\r\n",
        "GET /a b HTTP/1.1\r\n", "GET /\x01 HTTP/1.1\r\n"}) {
    EXPECT_EQ(StatusOf(head), 400) << head;
  }
  EXPECT_EQ(StatusOf("BREW /pot HTTP/1.1\r\n"), 501);
  EXPECT_EQ(StatusOf("GET /x HTTP/1.1\r\nno colon here\r\n\r\n"), 400);
}

TEST(RequestFramerTest, RefusesCrLfAndNulInsideTheHead) {
  // Header injection and request smuggling need one of these inside a name or value.
  for (std::string head :
       {std::string("GET / HTTP/1.1\r\nX-A: a\rX-B: b\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28),
        std::string("GET / HTTP/1.1\r\nX\nA: a\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n"), std::string("GET / HTTP/1.1\n\n"),
        std::string("GET / HTTP/1.1\r\nX-A : a\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nX-A: a\r\n folded\r\n\r\n")}) {
    Outcome out = Frame(head);
    EXPECT_EQ(out.status, 400) << head;
    EXPECT_TRUE(out.requests.empty()) << head;
  }
}

TEST(RequestFramerTest, RefusesAmbiguousFraming) {
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(StatusOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(StatusOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(StatusOf("POST / HTTP/1.1\r\nExpect: tea\r\n\r\n"), 417);
  // Identical repeated lengths are one length.
  EXPECT_EQ(
      Frame("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx").requests.size(),
      1u);
}

TEST(RequestFramerTest, ChunkedBodiesAreCheckedAndBounded) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(StatusOf(head + "zz\r\n"), 400);
  EXPECT_EQ(StatusOf(head + "3\r\nabcd\r\n"), 400);  // longer than its size
  EXPECT_EQ(StatusOf(head + "3\nabc\r\n"), 400);     // bare LF
  EXPECT_EQ(StatusOf(head + "fffffffffffffffff\r\n"), 400);
  EXPECT_EQ(StatusOf(head + "400\r\n", {.max_body = 1000}), 413);
  EXPECT_EQ(
      StatusOf(head + "300\r\n" + std::string(0x300, 'a') + "\r\n300\r\n", {.max_body = 1000}),
      413);
  EXPECT_EQ(StatusOf(head + "0\r\nBad Trailer\r\n\r\n"), 400);
}

TEST(RequestFramerTest, ContentLengthMustBeDigitsWithinMaxBody) {
  auto with_length = [](const std::string& value) {
    return StatusOf("POST /session HTTP/1.1\r\nContent-Length: " + value + "\r\n\r\n",
                    {.max_body = 1000});
  };
  EXPECT_EQ(with_length("-5"), 400);
  EXPECT_EQ(with_length("99999999999999999999999"), 400);
  EXPECT_EQ(with_length("1x"), 400);
  EXPECT_EQ(with_length(""), 400);
  EXPECT_EQ(with_length("1001"), 413);
  EXPECT_EQ(with_length("1000000000000"), 413);
  EXPECT_EQ(with_length("1000"), 0);
}

TEST(RequestFramerTest, NeverReservesTheDeclaredLength) {
  RequestFramer framer({.max_body = size_t{1} << 30});
  std::string_view head = "POST / HTTP/1.1\r\nContent-Length: 1000000000\r\n\r\nabc";
  EXPECT_EQ(framer.Feed(head), FrameEvent::kHeadComplete);
  EXPECT_EQ(framer.Feed(head), FrameEvent::kNeedMore);
  EXPECT_LT(framer.head().body.capacity(), size_t{1} << 20);
}

TEST(RequestFramerTest, TooManyOrTooLargeHeadersAre431) {
  std::string head = "GET /status HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(StatusOf(head + "\r\n"), 431);
  EXPECT_EQ(StatusOf(head + "\r\n", {.max_headers = 200}), 0);
  EXPECT_EQ(StatusOf("GET /" + std::string(70000, 'a')), 431);
  EXPECT_EQ(StatusOf("GET / HTTP/1.1\r\nX: " + std::string(70000, 'a')), 431);
  EXPECT_EQ(StatusOf(std::string(70000, '\r')), 400);  // CRs without LFs
}

TEST(RequestFramerTest, ConnectionTokensAndTargets) {
  EXPECT_TRUE(Frame("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").requests.at(0).close);
  EXPECT_TRUE(Frame("GET / HTTP/1.0\r\n\r\n").requests.at(0).close);
  FramedRequest kept = Frame("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").requests.at(0);
  EXPECT_FALSE(kept.close);
  EXPECT_TRUE(kept.keep_alive);
  EXPECT_FALSE(
      Frame("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n").requests.at(0).close);
  FramedRequest absolute = Frame("GET http://h:1/p/q?z=1 HTTP/1.1\r\n\r\n").requests.at(0);
  EXPECT_EQ(absolute.path, "/p/q");
  EXPECT_EQ(absolute.query, "?z=1");
  EXPECT_EQ(Frame("GET /a? HTTP/1.1\r\n\r\n").requests.at(0).query, "?");
}

TEST(RequestFramerTest, WorkIsLinearInTheInput) {
  // 60 KB of head four bytes at a time: each byte is looked at once, so this finishes at once
  // rather than re-scanning the head on every read (the finding was ~3 s of CPU).
  std::string head = "GET / HTTP/1.1\r\n";
  while (head.size() < 60000) head += "X-Padding-" + std::to_string(head.size()) + ": value\r\n";
  head += "\r\n";
  Outcome out = Frame(head, {.max_headers = 100000}, 4);
  ASSERT_EQ(out.requests.size(), 1u) << out.message;
}

}  // namespace
}  // namespace gridhub::http
