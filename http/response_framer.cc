#include "http/response_framer.h"

#include <algorithm>

namespace gridhub::http {

namespace {

constexpr size_t kMaxChunkLine = 1024;  // chunk size plus extensions

bool Digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

ResponseFramer::ResponseFramer(ResponseLimits limits) : limits_(limits) {}

void ResponseFramer::Expect(bool head_request) {
  head_request_ = head_request;
  state_ = State::kStatusLine;
  started_ = false;
  http10_ = false;
  response_ = {};
  line_.clear();
  head_bytes_ = 0;
  header_count_ = 0;
  has_length_ = false;
  length_ = 0;
  chunked_ = false;
  remaining_ = 0;
  error_.clear();
}

ResponseEvent ResponseFramer::Fail(std::string message) {
  state_ = State::kBad;
  error_ = std::move(message);
  return ResponseEvent::kBad;
}

ResponseEvent ResponseFramer::TooLarge() {
  state_ = State::kTooLarge;
  error_ = "response body larger than " + std::to_string(limits_.max_body) + " bytes";
  return ResponseEvent::kTooLarge;
}

bool ResponseFramer::Append(std::string_view bytes) {
  if (limits_.max_body != 0 && response_.body.size() + bytes.size() > limits_.max_body) {
    return false;
  }
  response_.body.append(bytes);
  return true;
}

// What the line being read may still hold: the head's limit less the lines before it.
size_t ResponseFramer::HeadRoom() const {
  const size_t before_line = head_bytes_ - line_.size();
  return limits_.max_head > before_line ? limits_.max_head - before_line : 0;
}

ResponseFramer::LineResult ResponseFramer::TakeLine(std::string_view& input, size_t max) {
  const size_t lf = input.find('\n');
  const size_t take = lf == std::string_view::npos ? input.size() : lf + 1;
  if (line_.size() + take > max + 2) return LineResult::kBad;  // + CRLF
  line_.append(input.substr(0, take));
  input.remove_prefix(take);
  if (lf == std::string_view::npos) return LineResult::kPartial;
  line_.pop_back();  // LF
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return LineResult::kWhole;
}

// "HTTP/1.1 200 OK": the version, a space, three digits, then a space and a reason (or
// nothing at all).
bool ResponseFramer::StatusLine(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ' || !Digit(line[9]) || !Digit(line[10]) || !Digit(line[11]) || line[9] == '0' ||
      (line.size() > 12 && line[12] != ' ')) {
    return false;
  }
  http10_ = line[7] == '0';
  response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return CleanFieldValue(line.substr(12));
}

bool ResponseFramer::HeaderLine(std::string_view line) {
  if (++header_count_ > limits_.max_headers) return false;
  // Obsolete line folding starts with a space or tab; a space before the colon fails IsToken.
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return false;
  std::string_view name = line.substr(0, colon);
  std::string_view value = TrimSpaces(line.substr(colon + 1));
  if (!CleanFieldValue(value)) return false;
  if (EqualsIgnoreCase(name, "Content-Length")) {
    size_t length = 0;
    if (!ParseLength(value, &length) || (has_length_ && length != length_)) return false;
    has_length_ = true;
    length_ = length;
  } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
    // Only `chunked`, once: any other coding would reach the client still encoded.
    if (chunked_ || !EqualsIgnoreCase(value, "chunked")) return false;
    chunked_ = true;
  }
  response_.headers.emplace_back(std::string(name), std::string(value));
  return true;
}

ResponseEvent ResponseFramer::EndOfHead() {
  const int status = response_.status;
  if (status == 101) return Fail("node answered 101 Switching Protocols");
  if (status < 200) {
    // An interim answer: its head is dropped and the final one follows (RFC 9110 §15.2).
    const bool head_request = head_request_;
    Expect(head_request);
    started_ = true;
    return ResponseEvent::kNeedMore;
  }
  if (chunked_ && has_length_) return Fail("both Content-Length and Transfer-Encoding");
  std::string_view connection = FindHeader(response_.headers, "Connection");
  response_.close =
      ListHasToken(connection, "close") || (http10_ && !ListHasToken(connection, "keep-alive"));
  if (head_request_ || status == 204 || status == 304) {
    state_ = State::kDone;
    return ResponseEvent::kResponse;
  }
  if (chunked_) {
    state_ = State::kChunkSize;
    return ResponseEvent::kNeedMore;
  }
  if (has_length_) {
    if (limits_.max_body != 0 && length_ > limits_.max_body) return TooLarge();
    remaining_ = length_;
    response_.body.reserve(length_);  // bounded by max_body (the caller's limit)
    state_ = length_ == 0 ? State::kDone : State::kLengthBody;
    return length_ == 0 ? ResponseEvent::kResponse : ResponseEvent::kNeedMore;
  }
  response_.close = true;
  state_ = State::kCloseBody;
  return ResponseEvent::kNeedMore;
}

ResponseEvent ResponseFramer::Settled() const {
  switch (state_) {
    case State::kBad:
      return ResponseEvent::kBad;
    case State::kTooLarge:
      return ResponseEvent::kTooLarge;
    case State::kDone:
      return ResponseEvent::kResponse;
    default:
      return ResponseEvent::kNeedMore;
  }
}

ResponseEvent ResponseFramer::Feed(std::string_view& input) {
  while (!input.empty()) {
    switch (state_) {
      case State::kBad:
      case State::kTooLarge:
      case State::kDone:
        return Settled();
      case State::kStatusLine:
      case State::kHeaders: {
        started_ = true;
        const size_t before = input.size();
        LineResult result = TakeLine(input, HeadRoom());
        head_bytes_ += before - input.size();
        if (result == LineResult::kBad) return Fail("response head too large");
        if (result == LineResult::kPartial) return ResponseEvent::kNeedMore;
        std::string line = std::move(line_);
        line_.clear();
        if (line.find_first_of(std::string_view("\r\0", 2)) != std::string::npos) {
          return Fail("CR or NUL inside a response head line");
        }
        if (state_ == State::kStatusLine) {
          if (!StatusLine(line)) return Fail("not an HTTP/1.x status line");
          state_ = State::kHeaders;
          continue;
        }
        if (line.empty()) {
          ResponseEvent event = EndOfHead();
          if (event != ResponseEvent::kNeedMore) return event;
          continue;
        }
        if (!HeaderLine(line)) return Fail("bad response header line");
        continue;
      }
      case State::kLengthBody: {
        const size_t take = std::min(remaining_, input.size());
        response_.body.append(input.substr(0, take));
        input.remove_prefix(take);
        remaining_ -= take;
        if (remaining_ == 0) {
          state_ = State::kDone;
          return ResponseEvent::kResponse;
        }
        continue;
      }
      case State::kCloseBody: {
        if (!Append(input)) return TooLarge();
        input.remove_prefix(input.size());
        continue;
      }
      case State::kChunkSize: {
        LineResult result = TakeLine(input, kMaxChunkLine);
        if (result == LineResult::kBad) return Fail("chunk size line too long");
        if (result == LineResult::kPartial) continue;
        std::string line = std::move(line_);
        line_.clear();
        size_t size = 0;
        size_t digits = 0;
        for (; digits < line.size() && HexDigit(line[digits]) >= 0; ++digits) {
          if (digits >= 15) return Fail("chunk size too large");
          size = size * 16 + static_cast<size_t>(HexDigit(line[digits]));
        }
        std::string_view rest = std::string_view(line).substr(digits);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) {
          rest.remove_prefix(1);
        }
        if (digits == 0 || (!rest.empty() && rest.front() != ';') || !CleanFieldValue(rest)) {
          return Fail("bad chunk size line");
        }
        if (size == 0) {
          state_ = State::kTrailer;
          head_bytes_ = 0;
          continue;
        }
        if (limits_.max_body != 0 && response_.body.size() + size > limits_.max_body) {
          return TooLarge();
        }
        remaining_ = size;
        state_ = State::kChunkData;
        continue;
      }
      case State::kChunkData: {
        const size_t take = std::min(remaining_, input.size());
        response_.body.append(input.substr(0, take));
        input.remove_prefix(take);
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kChunkEnd;
        continue;
      }
      case State::kChunkEnd: {
        LineResult result = TakeLine(input, 0);
        if (result == LineResult::kBad) return Fail("chunk not followed by CRLF");
        if (result == LineResult::kPartial) continue;
        if (!line_.empty()) return Fail("chunk not followed by CRLF");
        state_ = State::kChunkSize;
        continue;
      }
      case State::kTrailer: {
        const size_t before = input.size();
        LineResult result = TakeLine(input, HeadRoom());
        head_bytes_ += before - input.size();
        if (result == LineResult::kBad) return Fail("response trailer too large");
        if (result == LineResult::kPartial) continue;
        std::string line = std::move(line_);
        line_.clear();
        if (line.empty()) {
          state_ = State::kDone;
          return ResponseEvent::kResponse;
        }
        // Trailers are read and dropped, but must still be fields.
        const size_t colon = line.find(':');
        if (colon == std::string::npos || !IsToken(std::string_view(line).substr(0, colon)) ||
            !CleanFieldValue(std::string_view(line).substr(colon + 1))) {
          return Fail("bad trailer line");
        }
        continue;
      }
    }
  }
  return Settled();
}

ResponseEvent ResponseFramer::FeedEof() {
  switch (state_) {
    case State::kBad:
    case State::kTooLarge:
    case State::kDone:
      return Settled();
    case State::kCloseBody:
      state_ = State::kDone;
      return ResponseEvent::kResponse;
    default:
      return Fail(started_ ? "connection closed in the middle of the response"
                           : "connection closed before any response");
  }
}

FramedResponse ResponseFramer::Take() {
  FramedResponse out = std::move(response_);
  Expect(head_request_);
  return out;
}

}  // namespace gridhub::http
