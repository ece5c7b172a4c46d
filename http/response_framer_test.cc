#include "http/response_framer.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::http {
namespace {

struct Outcome {
  ResponseEvent event = ResponseEvent::kNeedMore;
  FramedResponse response;
  std::string error;
  std::string rest;  // input left after the response
};

// Feeds `input` in pieces of `step` bytes (0: whole), then EOF when `eof`.
Outcome Frame(const std::string& input, size_t step = 0, bool eof = false, bool head = false,
              ResponseLimits limits = {}) {
  ResponseFramer framer(limits);
  framer.Expect(head);
  Outcome out;
  if (step == 0) step = input.size() + 1;
  size_t at = 0;
  for (; at < input.size(); at += step) {
    std::string_view piece = std::string_view(input).substr(at, step);
    out.event = framer.Feed(piece);
    if (out.event != ResponseEvent::kNeedMore) {
      out.rest = std::string(piece) + input.substr(std::min(input.size(), at + step));
      break;
    }
    EXPECT_TRUE(piece.empty());
  }
  if (out.event == ResponseEvent::kNeedMore && eof) out.event = framer.FeedEof();
  if (out.event == ResponseEvent::kResponse) out.response = framer.Take();
  out.error = framer.error();
  return out;
}

// Every way of cutting the input gives the same outcome as feeding it whole.
void ExpectSameWhateverTheCuts(const std::string& input, bool eof = false, bool head = false,
                               ResponseLimits limits = {}) {
  Outcome whole = Frame(input, 0, eof, head, limits);
  for (size_t step : {1, 2, 3, 7}) {
    Outcome cut = Frame(input, step, eof, head, limits);
    EXPECT_EQ(cut.event, whole.event) << "step " << step;
    EXPECT_EQ(cut.response.status, whole.response.status) << "step " << step;
    EXPECT_EQ(cut.response.body, whole.response.body) << "step " << step;
    EXPECT_EQ(cut.response.headers, whole.response.headers) << "step " << step;
    EXPECT_EQ(cut.response.close, whole.response.close) << "step " << step;
    if (whole.event == ResponseEvent::kResponse) {
      EXPECT_EQ(cut.rest, whole.rest) << "step " << step;
    }
  }
}

TEST(ResponseFramerTest, ContentLength) {
  const std::string input =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
      "{\"value\":1}";
  Outcome out = Frame(input);
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.status, 200);
  EXPECT_EQ(out.response.body, "{\"value\":1}");
  EXPECT_EQ(FindHeader(out.response.headers, "content-type"), "application/json");
  EXPECT_FALSE(out.response.close);
  EXPECT_EQ(out.rest, "");
  ExpectSameWhateverTheCuts(input);
}

TEST(ResponseFramerTest, BytesAfterTheResponseAreLeftInTheInput) {
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1";
  Outcome out = Frame(input);
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.body, "hi");
  EXPECT_EQ(out.rest, "HTTP/1.1");
  ExpectSameWhateverTheCuts(input);
}

TEST(ResponseFramerTest, ZeroLengthCompletesAtTheEndOfTheHead) {
  Outcome out = Frame("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.body, "");
}

TEST(ResponseFramerTest, Chunked) {
  const std::string input =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  Outcome out = Frame(input);
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.body, "hello world");
  EXPECT_FALSE(out.response.close);
  ExpectSameWhateverTheCuts(input);
}

TEST(ResponseFramerTest, ChunkedLowerAndUpperHex) {
  Outcome out = Frame(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n") +
                      std::string(10, 'x') + "\r\na\r\n" + std::string(10, 'y') + "\r\n0\r\n\r\n");
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.body, std::string(10, 'x') + std::string(10, 'y'));
}

TEST(ResponseFramerTest, CloseDelimitedBodyEndsWithEof) {
  const std::string input = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
  Outcome open = Frame(input);
  EXPECT_EQ(open.event, ResponseEvent::kNeedMore);
  Outcome out = Frame(input, 0, /*eof=*/true);
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.body, "all of it");
  EXPECT_TRUE(out.response.close);
  ExpectSameWhateverTheCuts(input, /*eof=*/true);
}

TEST(ResponseFramerTest, InterimAnswersAreSkipped) {
  const std::string input =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx";
  Outcome out = Frame(input);
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.status, 201);
  EXPECT_EQ(out.response.body, "x");
  EXPECT_EQ(FindHeader(out.response.headers, "Link"), "");
  ExpectSameWhateverTheCuts(input);
}

TEST(ResponseFramerTest, NoBodyAfterHeadAnd204And304) {
  Outcome head = Frame("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, false, /*head=*/true);
  ASSERT_EQ(head.event, ResponseEvent::kResponse);
  EXPECT_EQ(head.response.body, "");
  EXPECT_EQ(FindHeader(head.response.headers, "Content-Length"), "5");
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    Outcome out = Frame(std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 5\r\n\r\nnext");
    ASSERT_EQ(out.event, ResponseEvent::kResponse) << status;
    EXPECT_EQ(out.response.body, "");
    EXPECT_EQ(out.rest, "next");
  }
}

TEST(ResponseFramerTest, ConnectionCloseAndHttp10) {
  EXPECT_TRUE(
      Frame("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").response.close);
  EXPECT_TRUE(Frame("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").response.close);
  EXPECT_FALSE(Frame("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
                   .response.close);
}

TEST(ResponseFramerTest, BareLineFeedsAndNoReasonPhrase) {
  Outcome out = Frame("HTTP/1.1 200\nContent-Length: 2\n\nok");
  ASSERT_EQ(out.event, ResponseEvent::kResponse);
  EXPECT_EQ(out.response.status, 200);
  EXPECT_EQ(out.response.body, "ok");
}

TEST(ResponseFramerTest, MaxBody) {
  const ResponseLimits limits{.max_body = 4};
  // A declared length over the limit is refused before any byte of the body.
  EXPECT_EQ(Frame("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, false, false, limits).event,
            ResponseEvent::kTooLarge);
  EXPECT_EQ(
      Frame("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd", 0, false, false, limits).event,
      ResponseEvent::kResponse);
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  EXPECT_EQ(Frame(chunked, 0, false, false, limits).event, ResponseEvent::kTooLarge);
  ExpectSameWhateverTheCuts(chunked, false, false, limits);
  const std::string until_close = "HTTP/1.1 200 OK\r\n\r\nabcde";
  EXPECT_EQ(Frame(until_close, 0, true, false, limits).event, ResponseEvent::kTooLarge);
  ExpectSameWhateverTheCuts(until_close, true, false, limits);
}

TEST(ResponseFramerTest, EofBeforeOrInsideAResponse) {
  ResponseFramer framer;
  framer.Expect(false);
  EXPECT_FALSE(framer.started());
  EXPECT_EQ(framer.FeedEof(), ResponseEvent::kBad);
  EXPECT_EQ(framer.error(), "connection closed before any response");

  Outcome cut = Frame("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, true);
  EXPECT_EQ(cut.event, ResponseEvent::kBad);
  EXPECT_EQ(cut.error, "connection closed in the middle of the response");
  EXPECT_EQ(Frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0, true).event,
            ResponseEvent::kBad);
  EXPECT_EQ(Frame("HTTP/1.1 20", 0, true).event, ResponseEvent::kBad);
}

TEST(ResponseFramerTest, StartedAfterTheFirstByte) {
  ResponseFramer framer;
  framer.Expect(false);
  std::string_view one("H");
  EXPECT_EQ(framer.Feed(one), ResponseEvent::kNeedMore);
  EXPECT_TRUE(framer.started());
}

TEST(ResponseFramerTest, MalformedInputIsRefused) {
  for (const char* input : {
           "HTTP/2 200 OK\r\n\r\n",
           "HTTP/1.1 20 OK\r\n\r\n",
           "HTTP/1.1 2000 OK\r\n\r\n",
           "HTTP/1.1 099 OK\r\n\r\n",
           "HTTP/1.1  200 OK\r\n\r\n",
           "HTTP/1.1 200OK\r\n\r\n",
           "ICY 200 OK\r\n\r\n",
           "<html>\r\n",
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n",
           "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
           "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n",
       }) {
    Outcome out = Frame(input);
    EXPECT_EQ(out.event, ResponseEvent::kBad) << input;
    EXPECT_FALSE(out.error.empty()) << input;
    ExpectSameWhateverTheCuts(input);
  }
  Outcome nul = Frame(std::string("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 27));
  EXPECT_EQ(nul.event, ResponseEvent::kBad);
}

TEST(ResponseFramerTest, HeadLimits) {
  const ResponseLimits limits{.max_head = 64, .max_headers = 2};
  EXPECT_EQ(
      Frame("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n", 0, false, false, limits)
          .event,
      ResponseEvent::kBad);
  EXPECT_EQ(
      Frame("HTTP/1.1 200 OK\r\nA: " + std::string(100, 'x') + "\r\n\r\n", 0, false, false, limits)
          .event,
      ResponseEvent::kBad);
  ExpectSameWhateverTheCuts("HTTP/1.1 200 OK\r\nA: " + std::string(100, 'x') + "\r\n\r\n", false,
                            false, limits);
  // A head with no line end at all is cut off at the limit, not buffered without end.
  ResponseFramer framer(limits);
  framer.Expect(false);
  std::string endless(1000, 'x');
  std::string_view input = endless;
  EXPECT_EQ(framer.Feed(input), ResponseEvent::kBad);
}

TEST(ResponseFramerTest, ErrorsStick) {
  ResponseFramer framer;
  framer.Expect(false);
  std::string_view bad("garbage\r\n");
  EXPECT_EQ(framer.Feed(bad), ResponseEvent::kBad);
  std::string_view more("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(framer.Feed(more), ResponseEvent::kBad);
  EXPECT_EQ(framer.FeedEof(), ResponseEvent::kBad);
}

TEST(ResponseFramerTest, OneFramerServesAConnectionsResponsesInTurn) {
  ResponseFramer framer;
  std::string stream =
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbcd";
  std::string_view input = stream;
  framer.Expect(false);
  ASSERT_EQ(framer.Feed(input), ResponseEvent::kResponse);
  EXPECT_EQ(framer.Take().body, "a");
  framer.Expect(true);  // the second was a HEAD: its body is the next response's
  ASSERT_EQ(framer.Feed(input), ResponseEvent::kResponse);
  EXPECT_EQ(framer.Take().body, "");
  EXPECT_EQ(input, "bcd");
}

}  // namespace
}  // namespace gridhub::http
