#include "http/request_head.h"

#include <algorithm>
#include <array>

namespace gridhub::http {

namespace {

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// Path and raw query of a request target. Absolute-form ("http://host/p?q", RFC 9112 §3.2.2)
// is reduced to its path; "*" and authority-form stay as they are.
void SplitTarget(std::string_view target, std::string* path, std::string* query) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (StartsWithIgnoreCase(target, scheme)) {
      std::string_view rest = target.substr(scheme.size());
      size_t start = rest.find_first_of("/?");
      target = start == std::string_view::npos ? std::string_view("/") : rest.substr(start);
      break;
    }
  }
  size_t question = target.find('?');
  *path = std::string(target.substr(0, question));
  if (path->empty()) *path = "/";
  *query = question == std::string_view::npos ? "" : std::string(target.substr(question));
}

constexpr size_t kMaxChunkLine = 1024;  // chunk size plus extensions

}  // namespace

RequestFramer::RequestFramer(HeadLimits limits) : limits_(limits) {}

FramePhase RequestFramer::phase() const {
  switch (state_) {
    case State::kHead:
      return head_bytes_ == 0 ? FramePhase::kIdle : FramePhase::kHead;
    case State::kBad:
    case State::kDone:
      return FramePhase::kIdle;
    default:
      return FramePhase::kBody;
  }
}

FrameEvent RequestFramer::Fail(int status, std::string message) {
  state_ = State::kBad;
  error_status_ = status;
  error_message_ = std::move(message);
  return FrameEvent::kBad;
}

FrameEvent RequestFramer::Feed(std::string_view& input) {
  switch (state_) {
    case State::kBad:
      return FrameEvent::kBad;
    case State::kDone:
      return FrameEvent::kRequest;
    case State::kHead:
      return FeedHead(input);
    default:
      return FeedBody(input);
  }
}

FramedRequest RequestFramer::TakeRequest() {
  FramedRequest out = std::move(request_);
  *this = RequestFramer(limits_);
  return out;
}

// Each byte is examined once: a line is judged when its LF arrives, never re-scanned.
FrameEvent RequestFramer::FeedHead(std::string_view& input) {
  while (!input.empty()) {
    const char c = input.front();
    input.remove_prefix(1);
    if (++head_bytes_ > limits_.max_head) {
      return Fail(431,
                  request_line_done_ ? "request header fields too large" : "request line too long");
    }
    if (c == '\0') return Fail(400, "NUL in the request head");
    if (saw_cr_) {
      saw_cr_ = false;
      if (c != '\n') return Fail(400, "bare CR in the request head");
      std::string line = std::move(line_);
      line_.clear();
      // RFC 9112 §2.2: blank lines before the request line are ignored.
      if (!request_line_done_ && line.empty()) continue;
      if (request_line_done_ && line.empty()) return EndOfHead();
      if (!HeadLine(line)) return FrameEvent::kBad;
      continue;
    }
    if (c == '\r') {
      saw_cr_ = true;
    } else if (c == '\n') {
      return Fail(400, "bare LF in the request head");
    } else {
      line_.push_back(c);
    }
  }
  return FrameEvent::kNeedMore;
}

bool RequestFramer::HeadLine(std::string_view line) {
  if (!request_line_done_) {
    request_line_done_ = true;
    return RequestLine(line);
  }
  return HeaderLine(line);
}

// "METHOD SP target SP HTTP/1.x", judged as soon as it is complete: garbage gets its 400 at once.
bool RequestFramer::RequestLine(std::string_view line) {
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
  size_t first = line.find(' ');
  size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    Fail(400, "malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, last - first - 1);
  std::string_view version = line.substr(last + 1);
  if (!IsToken(method)) {
    Fail(400, "malformed request line");
    return false;
  }
  bool known = false;
  for (std::string_view m : kMethods) known = known || m == method;
  if (!known) {
    Fail(501, "method " + std::string(method) + " is not implemented");
    return false;
  }
  bool clean = !target.empty();
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    clean = clean && u > 0x20 && u < 0x7f;
  }
  if (!clean) {
    Fail(400, "malformed request target");
    return false;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    Fail(400, "unsupported HTTP version (HTTP/1.0 or HTTP/1.1 expected)");
    return false;
  }
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.http10 = version == "HTTP/1.0";
  SplitTarget(target, &request_.path, &request_.query);
  return true;
}

bool RequestFramer::HeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    Fail(400, "obsolete line folding in the request head");
    return false;
  }
  if (++header_count_ > limits_.max_headers) {
    Fail(431, "more than " + std::to_string(limits_.max_headers) + " header fields");
    return false;
  }
  size_t colon = line.find(':');
  // A space before the colon is refused too (RFC 9112 §5.1): IsToken rejects it.
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
    Fail(400, "malformed header field");
    return false;
  }
  std::string_view name = line.substr(0, colon);
  std::string_view value = TrimSpaces(line.substr(colon + 1));
  if (!CleanFieldValue(value)) {
    Fail(400, "control character in the value of header " + std::string(name));
    return false;
  }
  if (EqualsIgnoreCase(name, "Content-Length")) {
    size_t length = 0;
    if (!ParseLength(value, &length)) {
      Fail(400, "invalid Content-Length");
      return false;
    }
    if (has_length_ && length != request_.content_length) {
      Fail(400, "conflicting Content-Length headers");
      return false;
    }
    has_length_ = true;
    request_.content_length = length;
  } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
    if (++transfer_encodings_ > 1) {
      Fail(400, "more than one Transfer-Encoding header");
      return false;
    }
    if (!EqualsIgnoreCase(value, "chunked")) {
      Fail(501, "only Transfer-Encoding: chunked is supported");
      return false;
    }
  } else if (EqualsIgnoreCase(name, "Host")) {
    if (has_host_) {
      Fail(400, "more than one Host header");
      return false;
    }
    has_host_ = true;
  } else if (EqualsIgnoreCase(name, "Expect")) {
    if (!EqualsIgnoreCase(value, "100-continue")) {
      Fail(417, "only Expect: 100-continue is supported");
      return false;
    }
    request_.expect_continue = true;
  } else if (EqualsIgnoreCase(name, "Connection")) {
    request_.close = request_.close || ListHasToken(value, "close");
    request_.keep_alive = request_.keep_alive || ListHasToken(value, "keep-alive");
  }
  request_.headers.emplace_back(std::string(name), std::string(value));
  return true;
}

// The framing rules of RFC 9112 §6.3, strictly: anything two parties could read differently
// (and so smuggle a second request past one of them) is refused.
FrameEvent RequestFramer::EndOfHead() {
  if (has_length_ && transfer_encodings_ > 0) {
    return Fail(400, "both Content-Length and Transfer-Encoding");
  }
  if (request_.http10 && transfer_encodings_ > 0) {
    return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
  }
  if (request_.content_length > limits_.max_body) {
    return Fail(413, "request body of " + std::to_string(request_.content_length) +
                         " bytes exceeds server.max-body (" + std::to_string(limits_.max_body) +
                         ")");
  }
  request_.chunked = transfer_encodings_ > 0;
  if (request_.http10 && !request_.keep_alive) request_.close = true;
  const bool body_follows = request_.chunked || request_.content_length > 0;
  request_.expect_continue = request_.expect_continue && body_follows && !request_.http10;
  if (request_.chunked) {
    state_ = State::kChunkSize;
    return FrameEvent::kHeadComplete;
  }
  if (request_.content_length > 0) {
    state_ = State::kLengthBody;
    remaining_ = request_.content_length;
    return FrameEvent::kHeadComplete;
  }
  state_ = State::kDone;
  return FrameEvent::kRequest;
}

RequestFramer::LineResult RequestFramer::TakeFramingLine(std::string_view& input, size_t max) {
  while (!input.empty()) {
    const char c = input.front();
    input.remove_prefix(1);
    ++body_wire_bytes_;
    if (saw_cr_) {
      saw_cr_ = false;
      return c == '\n' ? LineResult::kWhole : LineResult::kBad;
    }
    if (c == '\r') {
      saw_cr_ = true;
    } else if (c == '\n' || c == '\0' || line_.size() >= max) {
      return LineResult::kBad;
    } else {
      line_.push_back(c);
    }
  }
  return LineResult::kPartial;
}

// "1a;ext=v" before chunk data; "" after it; trailer fields until an empty line.
FrameEvent RequestFramer::FramingLine(std::string_view line) {
  if (state_ == State::kChunkEnd) {
    if (!line.empty()) return Fail(400, "malformed chunked body: chunk longer than its size");
    state_ = State::kChunkSize;
    return FrameEvent::kNeedMore;
  }
  if (state_ == State::kTrailer) {
    if (line.empty()) {
      state_ = State::kDone;
      return FrameEvent::kRequest;
    }
    trailer_bytes_ += line.size();
    size_t colon = line.find(':');
    if (trailer_bytes_ > limits_.max_head) return Fail(431, "request trailer fields too large");
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon)) ||
        !CleanFieldValue(line.substr(colon + 1))) {
      return Fail(400, "malformed trailer field");
    }
    return FrameEvent::kNeedMore;  // trailers are read and dropped
  }
  size_t size = 0;
  size_t digits = 0;
  for (; digits < line.size() && HexDigit(line[digits]) >= 0; ++digits) {
    if (digits == 15) return Fail(400, "malformed chunked body: chunk size too large");
    size = size * 16 + static_cast<size_t>(HexDigit(line[digits]));
  }
  std::string_view rest = TrimSpaces(line.substr(digits));
  if (digits == 0 || (!rest.empty() && rest.front() != ';') || !CleanFieldValue(rest)) {
    return Fail(400, "malformed chunked body: bad chunk size line");
  }
  if (size > limits_.max_body - std::min(limits_.max_body, request_.body.size())) {
    return Fail(413,
                "request body exceeds server.max-body (" + std::to_string(limits_.max_body) + ")");
  }
  if (size == 0) {
    state_ = State::kTrailer;
  } else {
    state_ = State::kChunkData;
    remaining_ = size;
  }
  return FrameEvent::kNeedMore;
}

FrameEvent RequestFramer::FeedBody(std::string_view& input) {
  for (;;) {
    switch (state_) {
      case State::kLengthBody:
      case State::kChunkData: {
        const size_t n = std::min(remaining_, input.size());
        request_.body.append(input.data(), n);
        input.remove_prefix(n);
        remaining_ -= n;
        body_wire_bytes_ += n;
        if (remaining_ > 0) return FrameEvent::kNeedMore;
        if (state_ == State::kLengthBody) {
          state_ = State::kDone;
          return FrameEvent::kRequest;
        }
        state_ = State::kChunkEnd;
        continue;
      }
      case State::kChunkSize:
      case State::kChunkEnd:
      case State::kTrailer: {
        const size_t max = state_ == State::kChunkSize  ? kMaxChunkLine
                           : state_ == State::kChunkEnd ? 0
                                                        : limits_.max_head;
        LineResult taken = TakeFramingLine(input, max);
        if (taken == LineResult::kPartial) return FrameEvent::kNeedMore;
        if (taken == LineResult::kBad) return Fail(400, "malformed chunked body");
        std::string line = std::move(line_);
        line_.clear();
        if (FrameEvent e = FramingLine(line); e != FrameEvent::kNeedMore) return e;
        continue;
      }
      default:
        return Feed(input);
    }
  }
}

}  // namespace gridhub::http
