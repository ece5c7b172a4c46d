#pragma once

// A strict look at the raw head of an HTTP/1.x request before Pistache parses it. Pistache 0.0.5
// waits forever on a request line without spaces, turns a negative or huge Content-Length into
// a C++ exception (500 with its text) or reserves that much memory first, and accepts any
// number of headers; this check answers all of those with a clean 4xx at once.
//
//   HeadCheck check = InspectRequestHead(buffered, {.max_body = 64 << 20});
//   if (check.verdict == HeadVerdict::kIncomplete) return;  // wait for more bytes
//   if (check.verdict == HeadVerdict::kBad) Reject(check.status, check.message);
//   size_t whole = check.head_size + check.content_length;  // one request, body included

#include <cstddef>
#include <string>
#include <string_view>

namespace gridhub::http {

struct HeadLimits {
  size_t max_body = size_t{64} << 20;  // a larger Content-Length is 413 before any byte of it
  size_t max_headers = 100;            // more header lines are 431
  size_t max_head = size_t{64} << 10;  // request line + headers; more is 431
};

enum class HeadVerdict { kIncomplete, kOk, kBad };

struct HeadCheck {
  HeadVerdict verdict = HeadVerdict::kIncomplete;
  int status = 0;             // kBad: 400, 413, 431 or 501
  std::string message;        // kBad: what is wrong, for the client
  size_t head_size = 0;       // kOk: bytes up to and including the blank line
  size_t content_length = 0;  // kOk: declared body size (0 when absent)
  bool chunked = false;       // kOk: Transfer-Encoding: chunked (body length unknown here)
  bool http10 = false;        // kOk: HTTP/1.0
  bool close = false;         // kOk: the client asked to close after the response
  bool keep_alive = false;    // kOk: an HTTP/1.0 client asked to keep the connection
};

// `data` starts at the first byte of a request (no leading blank lines).
HeadCheck InspectRequestHead(std::string_view data, const HeadLimits& limits);

}  // namespace gridhub::http
