#pragma once

// Incremental HTTP/1.x request framing: bytes in, whole requests out. Every byte is looked at
// once (a head sent 4 bytes at a time costs no more than one sent whole), the head is judged
// as it arrives (garbage gets its 400 when its first line ends, a smuggling attempt when its
// header ends), and a body is stored once, as it arrives, never reserved from a declared
// length. No sockets, threads or clocks: http_server.cc feeds it, the fuzzer drives it.
//
//   RequestFramer framer({.max_body = 64 << 20});
//   std::string_view input(buffer, length);
//   for (;;) {
//     switch (framer.Feed(input)) {  // consumes from `input`
//       case FrameEvent::kNeedMore: return;                          // wait for more bytes
//       case FrameEvent::kHeadComplete: MaybeSend100(framer.head()); continue;  // body next
//       case FrameEvent::kRequest: Serve(framer.TakeRequest()); continue;
//       case FrameEvent::kBad: Reject(framer.error_status(), framer.error_message()); return;
//     }
//   }

#include <cstddef>
#include <string>
#include <string_view>

#include "http/http_types.h"

namespace gridhub::http {

struct HeadLimits {
  size_t max_body = size_t{64} << 20;  // a larger Content-Length is 413 before any byte of it
  size_t max_headers = 100;            // more header lines are 431
  size_t max_head = size_t{64} << 10;  // request line + headers; more is 431
};

// A request as framed: what the head said and, once complete, its (de-chunked) body.
struct FramedRequest {
  std::string method;
  std::string target;            // as sent: "/session/1?a=b"
  std::string path;              // the target up to '?' (for absolute-form, its path)
  std::string query;             // "" or "?" + the raw query, byte for byte
  Headers headers;               // arrival order, values trimmed of spaces and tabs
  std::string body;              // complete only with FrameEvent::kRequest
  size_t content_length = 0;     // declared (0 when absent or chunked)
  bool chunked = false;          // Transfer-Encoding: chunked
  bool http10 = false;           // HTTP/1.0
  bool close = false;            // the connection closes after the answer
  bool keep_alive = false;       // an HTTP/1.0 client asked to keep the connection
  bool expect_continue = false;  // Expect: 100-continue with a body to come
};

enum class FrameEvent {
  kNeedMore,      // all input consumed; the current request is not complete
  kHeadComplete,  // the head is complete and checked, its body has not arrived yet
  kRequest,       // a whole request is ready: TakeRequest()
  kBad,           // the input cannot be a valid request: answer error_status() and close
};

// Where the request being read stands; the server's timers depend on it.
enum class FramePhase { kIdle, kHead, kBody };

class RequestFramer {
 public:
  explicit RequestFramer(HeadLimits limits = {});

  // Consumes bytes from the front of `input` until a request completes, a head completes with
  // a body still to come, the input is bad, or `input` is empty. After kBad every call returns
  // kBad again.
  FrameEvent Feed(std::string_view& input);

  FramePhase phase() const;
  // The request being read (after kHeadComplete) or just completed (after kRequest).
  const FramedRequest& head() const { return request_; }
  // REQUIRES: the last Feed returned kRequest. Resets for the next request on the connection.
  FramedRequest TakeRequest();
  // Bytes of body framing received for the current request (chunk sizes included).
  size_t body_wire_bytes() const { return body_wire_bytes_; }

  int error_status() const { return error_status_; }  // 400, 413, 417, 431 or 501
  const std::string& error_message() const { return error_message_; }

 private:
  enum class State { kHead, kLengthBody, kChunkSize, kChunkData, kChunkEnd, kTrailer, kDone, kBad };

  FrameEvent FeedHead(std::string_view& input);
  FrameEvent FeedBody(std::string_view& input);
  // One complete line (CRLF stripped) of the head; false when the head is bad.
  bool HeadLine(std::string_view line);
  bool RequestLine(std::string_view line);
  bool HeaderLine(std::string_view line);
  // The blank line ended the head: framing decided, the body state chosen.
  FrameEvent EndOfHead();
  enum class LineResult { kPartial, kWhole, kBad };
  // Accumulates one CRLF-terminated line of chunk framing (at most `max` bytes) into line_.
  LineResult TakeFramingLine(std::string_view& input, size_t max);
  // Acts on a whole chunk-size line, chunk end or trailer line; kNeedMore = carry on.
  FrameEvent FramingLine(std::string_view line);
  FrameEvent Fail(int status, std::string message);

  HeadLimits limits_;
  State state_ = State::kHead;
  FramedRequest request_;
  std::string line_;     // the head line (or chunk framing line) being read
  bool saw_cr_ = false;  // the last byte consumed was a CR
  bool request_line_done_ = false;
  size_t head_bytes_ = 0;  // of the current head, leading blank lines included
  size_t header_count_ = 0;
  bool has_length_ = false;
  bool has_host_ = false;
  int transfer_encodings_ = 0;
  size_t remaining_ = 0;  // body bytes (or chunk bytes) still to come
  size_t trailer_bytes_ = 0;
  size_t body_wire_bytes_ = 0;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace gridhub::http
