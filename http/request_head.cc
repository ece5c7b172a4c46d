#include "http/request_head.h"

#include <array>
#include <cctype>

#include "http/http_types.h"

namespace gridhub::http {

namespace {

HeadCheck Bad(int status, std::string message) {
  HeadCheck check;
  check.verdict = HeadVerdict::kBad;
  check.status = status;
  check.message = std::move(message);
  return check;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != s.npos) {
      return false;
    }
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (EqualsIgnoreCase(Trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// "METHOD SP target SP HTTP/1.x"; Pistache knows only these methods and versions.
HeadCheck CheckRequestLine(std::string_view line, bool* http10) {
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
  size_t first = line.find(' ');
  size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    return Bad(400, "malformed request line");
  }
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, last - first - 1);
  std::string_view version = line.substr(last + 1);
  bool known = false;
  for (std::string_view m : kMethods) known = known || m == method;
  if (!IsToken(method)) return Bad(400, "malformed request line");
  if (!known) return Bad(501, "method " + std::string(method) + " is not implemented");
  if (target.empty() || target.find(' ') != std::string_view::npos) {
    return Bad(400, "malformed request target");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return Bad(400, "unsupported HTTP version (HTTP/1.0 or HTTP/1.1 expected)");
  }
  *http10 = version == "HTTP/1.0";
  return HeadCheck{.verdict = HeadVerdict::kOk};
}

// Digits only: no sign, no spaces inside, no overflow.
bool ParseLength(std::string_view value, size_t* out) {
  if (value.empty() || value.size() > 18) return false;
  size_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  *out = n;
  return true;
}

}  // namespace

HeadCheck InspectRequestHead(std::string_view data, const HeadLimits& limits) {
  size_t line_end = data.find("\r\n");
  if (line_end == std::string_view::npos) {
    if (data.size() > limits.max_head) return Bad(431, "request line too long");
    return {};
  }
  bool http10 = false;
  // The request line is judged as soon as it is complete: garbage gets its 400 at once.
  if (HeadCheck line = CheckRequestLine(data.substr(0, line_end), &http10);
      line.verdict == HeadVerdict::kBad) {
    return line;
  }
  size_t end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > limits.max_head) return Bad(431, "request header fields too large");
    return {};
  }
  if (end + 4 > limits.max_head) return Bad(431, "request header fields too large");

  HeadCheck check;
  check.verdict = HeadVerdict::kOk;
  check.head_size = end + 4;
  check.http10 = http10;
  bool has_length = false;
  bool has_encoding = false;
  size_t headers = 0;
  size_t pos = line_end + 2;
  while (pos < end + 2) {
    size_t next = data.find("\r\n", pos);
    std::string_view field = data.substr(pos, next - pos);
    pos = next + 2;
    if (++headers > limits.max_headers) {
      return Bad(431, "more than " + std::to_string(limits.max_headers) + " header fields");
    }
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || !IsToken(field.substr(0, colon))) {
      return Bad(400, "malformed header field");
    }
    std::string_view name = field.substr(0, colon);
    std::string_view value = Trim(field.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Length")) {
      size_t length = 0;
      if (!ParseLength(value, &length)) return Bad(400, "invalid Content-Length");
      if (has_length && length != check.content_length) {
        return Bad(400, "conflicting Content-Length headers");
      }
      has_length = true;
      check.content_length = length;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      if (!EqualsIgnoreCase(value, "chunked")) {
        return Bad(501, "only Transfer-Encoding: chunked is supported");
      }
      has_encoding = true;
    } else if (EqualsIgnoreCase(name, "Connection")) {
      check.close = check.close || HasToken(value, "close");
      check.keep_alive = check.keep_alive || HasToken(value, "keep-alive");
    }
  }
  if (has_length && has_encoding) {
    return Bad(400, "both Content-Length and Transfer-Encoding");
  }
  if (check.content_length > limits.max_body) {
    return Bad(413, "request body of " + std::to_string(check.content_length) +
                        " bytes exceeds server.max-body (" + std::to_string(limits.max_body) + ")");
  }
  check.chunked = has_encoding;
  if (http10 && !check.keep_alive) check.close = true;
  return check;
}

}  // namespace gridhub::http
