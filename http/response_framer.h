#pragma once

// Incremental HTTP/1.x response framing for the outbound client (reactor_client.h): bytes in,
// one whole response out. Pure — no sockets, threads or clocks — so every framing rule is
// unit-tested byte by byte and fuzzed (tests/fuzz/response_framer_fuzzer.cc). Each byte is
// looked at once however the response is cut into reads.
//
//   ResponseFramer framer({.max_body = 64 << 20});
//   framer.Expect(/*head_request=*/false);          // before each request's answer
//   std::string_view input(buffer, length);
//   switch (framer.Feed(input)) {                    // consumes from `input`
//     case ResponseEvent::kNeedMore: break;          // wait for more (or FeedEof() on EOF)
//     case ResponseEvent::kResponse: Use(framer.Take()); break;
//     case ResponseEvent::kTooLarge:                 // body over max_body: drop the connection
//     case ResponseEvent::kBad: Fail(framer.error()); break;
//   }
//
// Framing (RFC 9112 §6.3): no body after HEAD and for 1xx, 204 and 304; otherwise
// `Transfer-Encoding: chunked` (de-chunked, trailers read and dropped), else `Content-Length`,
// else the body runs until the peer closes (FeedEof completes it). Interim 1xx answers
// (100 Continue, 103 Early Hints) are skipped; 101 is refused (nothing here upgrades).
// Refused as kBad, since a response the node frames ambiguously must not be relayed: a status
// line that is not `HTTP/1.x NNN`, NUL or a bare CR in the head, obsolete line folding, a
// space before a header's colon, a Content-Length that is not digits or that differs from
// another, Content-Length together with Transfer-Encoding, a transfer coding other than
// chunked, a bad chunk size, a head over max_head or with more than max_headers fields.

#include <cstddef>
#include <string>
#include <string_view>

#include "http/http_types.h"

namespace gridhub::http {

struct ResponseLimits {
  size_t max_body = 0;  // 0 = no limit; beyond it kTooLarge (a declared length: at once)
  size_t max_head = size_t{64} << 10;  // status line + headers (each interim head alone)
  size_t max_headers = 100;
};

struct FramedResponse {
  int status = 0;
  Headers headers;   // arrival order, values trimmed of spaces and tabs
  std::string body;  // de-chunked
  // The connection cannot carry another request: `Connection: close`, HTTP/1.0 without
  // keep-alive, or a body delimited by the close.
  bool close = false;
};

enum class ResponseEvent {
  kNeedMore,  // all input consumed, the response is not complete
  kResponse,  // complete: Take()
  kTooLarge,  // the body is larger than max_body
  kBad,       // not a valid response; error() says why
};

class ResponseFramer {
 public:
  explicit ResponseFramer(ResponseLimits limits = {});

  // Prepares for the answer to the next request; `head_request`: it was HEAD (no body).
  void Expect(bool head_request);
  // Consumes bytes until the response completes (what follows it is left in `input`), fails,
  // or `input` is empty. After kBad or kTooLarge every call returns the same again.
  ResponseEvent Feed(std::string_view& input);
  // The peer closed its side: kResponse for a body delimited by the close, kBad when the
  // response was cut short (or never began: error() tells the two apart by started()).
  ResponseEvent FeedEof();
  // Whether any byte of the current response (an interim one included) has arrived.
  bool started() const { return started_; }
  // REQUIRES: the last Feed or FeedEof returned kResponse.
  FramedResponse Take();
  const std::string& error() const { return error_; }

 private:
  enum class State {
    kStatusLine,
    kHeaders,
    kLengthBody,
    kCloseBody,
    kChunkSize,
    kChunkData,
    kChunkEnd,
    kTrailer,
    kDone,
    kBad,
    kTooLarge,
  };
  enum class LineResult { kPartial, kWhole, kBad };

  // Accumulates one LF-terminated line (CR before the LF stripped) of at most `max` bytes.
  LineResult TakeLine(std::string_view& input, size_t max);
  size_t HeadRoom() const;
  bool StatusLine(std::string_view line);
  bool HeaderLine(std::string_view line);
  ResponseEvent EndOfHead();
  ResponseEvent Fail(std::string message);
  // The event a finished (or failed) state stands for; kNeedMore otherwise.
  ResponseEvent Settled() const;
  ResponseEvent TooLarge();
  bool Append(std::string_view bytes);  // false: over max_body

  ResponseLimits limits_;
  State state_ = State::kStatusLine;
  bool head_request_ = false;
  bool started_ = false;
  bool http10_ = false;
  FramedResponse response_;
  std::string line_;
  size_t head_bytes_ = 0;
  size_t header_count_ = 0;
  bool has_length_ = false;
  size_t length_ = 0;
  bool chunked_ = false;
  size_t remaining_ = 0;
  std::string error_;
};

}  // namespace gridhub::http
