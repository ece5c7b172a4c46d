#include "hub/node_uri.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

namespace gridhub::hub {

namespace {

using Bytes = std::array<unsigned char, 16>;  // an IPv6 address; IPv4 as ::ffff:a.b.c.d

Error Invalid(std::string_view what) {
  return Error{ErrorCode::kInvalidArgument, "uri " + std::string(what)};
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'); }

// Dotted-quad decimal only: inet_aton's "127.1", octal and hex forms are refused, because
// libcurl and the hub's own checks would not agree on what they mean.
std::optional<Bytes> ParseIpv4(std::string_view text) {
  Bytes bytes{};
  bytes[10] = bytes[11] = 0xff;
  int part = 0;
  size_t i = 0;
  while (part < 4) {
    size_t start = i;
    int value = 0;
    while (i < text.size() && IsDigit(text[i]) && i - start < 3)
      value = value * 10 + (text[i++] - '0');
    size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return std::nullopt;
    bytes[12 + part] = static_cast<unsigned char>(value);
    ++part;
    if (part < 4) {
      if (i >= text.size() || text[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != text.size()) return std::nullopt;
  return bytes;
}

std::optional<Bytes> ParseIpv6(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  for (char c : text) {
    if (!IsHex(c) && c != ':' && c != '.') return std::nullopt;  // no zone ids ("%eth0")
  }
  Bytes bytes{};
  std::string copy(text);
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) != 1) return std::nullopt;
  return bytes;
}

// An IP literal as 16 bytes: IPv4 dotted quad, IPv6 with or without brackets.
std::optional<Bytes> ParseIp(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    return ParseIpv6(text.substr(1, text.size() - 2));
  }
  if (text.find(':') != std::string_view::npos) return ParseIpv6(text);
  return ParseIpv4(text);
}

bool IsV4Mapped(const Bytes& b) {
  for (int i = 0; i < 10; ++i) {
    if (b[i] != 0) return false;
  }
  return b[10] == 0xff && b[11] == 0xff;
}

bool IsLoopback(const Bytes& b) {
  if (IsV4Mapped(b)) return b[12] == 127;
  for (int i = 0; i < 15; ++i) {
    if (b[i] != 0) return false;
  }
  return b[15] == 1;
}

// 0.0.0.0/8 and ::: a connection to them reaches this machine.
bool IsUnspecified(const Bytes& b) {
  if (IsV4Mapped(b)) return b[12] == 0;
  return std::all_of(b.begin(), b.end(), [](unsigned char c) { return c == 0; });
}

// A DNS name: labels of letters, digits, '-' and '_' (container names use it), 1-63 each.
// A name whose last label is numeric (or 0x-hex) is an IPv4 address to URL parsers, so it
// must then be a valid dotted quad.
Status CheckHostName(std::string_view host) {
  if (host.size() > 253) return Invalid("host is longer than 253 characters");
  size_t start = 0;
  std::string_view last;
  while (start <= host.size()) {
    size_t end = std::min(host.find('.', start), host.size());
    std::string_view label = host.substr(start, end - start);
    if (label.empty()) return Invalid("host has an empty label");
    if (label.size() > 63) return Invalid("host has a label longer than 63 characters");
    for (char c : label) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-' && c != '_') {
        return Invalid("host must be a name, an IPv4 address or [IPv6]");
      }
    }
    last = label;
    start = end + 1;
  }
  bool numeric = std::all_of(last.begin(), last.end(), IsDigit) ||
                 (last.size() > 2 && last[0] == '0' && Lower(last[1]) == 'x' &&
                  std::all_of(last.begin() + 2, last.end(), IsHex));
  if (numeric && !ParseIpv4(host)) return Invalid("host is not a valid dotted-quad IPv4 address");
  return Status::Ok();
}

// RFC 3986 pchar (unreserved, pct-encoded, sub-delims, ':', '@') and '/'.
bool IsPathChar(char c) {
  return IsAlpha(c) || IsDigit(c) || std::strchr("-._~!$&'()*+,;=:@/%", c) != nullptr;
}

bool IsDotSegment(std::string_view segment) {
  std::string decoded;
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size() && segment[i + 1] == '2' &&
        Lower(segment[i + 2]) == 'e') {
      decoded += '.';
      i += 2;
    } else {
      decoded += segment[i];
    }
  }
  return decoded == "." || decoded == "..";
}

Status CheckPath(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (!IsPathChar(c)) return Invalid("path has a character that must be percent-encoded");
    if (c == '%' && (i + 2 >= path.size() || !IsHex(path[i + 1]) || !IsHex(path[i + 2]))) {
      return Invalid("path has a malformed percent-escape");
    }
  }
  size_t start = 0;
  while (start < path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    if (IsDotSegment(path.substr(start, end - start))) {
      return Invalid("path must not have '.' or '..' segments");
    }
    start = end + 1;
  }
  return Status::Ok();
}

Result<uint16_t> ParsePort(std::string_view port) {
  if (port.empty()) return Invalid("must give an explicit port (http(s)://host:port)");
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), IsDigit)) {
    return Invalid("port must be a number from 1 to 65535");
  }
  int value = 0;
  for (char c : port) value = value * 10 + (c - '0');
  if (value < 1 || value > 65535) return Invalid("port must be a number from 1 to 65535");
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string NodeUri::str() const {
  std::string host_part = ipv6 ? "[" + host + "]" : host;
  return scheme + "://" + host_part + ":" + std::to_string(port) + path;
}

Result<NodeUri> ParseNodeUri(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return Invalid("must not contain whitespace, control or non-ASCII");
  }
  NodeUri uri;
  size_t scheme_end = text.find("://");
  if (scheme_end != std::string_view::npos) {
    for (char c : text.substr(0, scheme_end)) uri.scheme += Lower(c);
  }
  if (uri.scheme != "http" && uri.scheme != "https") {
    return Invalid("must be an http:// or https:// URL (http(s)://host:port[/path])");
  }
  if (text.find_first_of("?#") != std::string_view::npos) {
    return Invalid("must not have a query or fragment");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return Invalid("must not contain user-info");
  std::string_view host;
  std::string_view port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("has an unclosed [IPv6] host");
    host = authority.substr(1, close - 1);
    if (!ParseIpv6(host)) return Invalid("host is not a valid [IPv6] address");
    uri.ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.starts_with(':')) return Invalid("must give an explicit port (http(s)://host:port)");
    port = after.substr(1);
  } else {
    size_t colon = authority.find(':');
    if (colon == std::string_view::npos) {
      return Invalid("must give an explicit port (http(s)://host:port)");
    }
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (host.empty()) return Invalid("has no host");
    if (Status s = CheckHostName(host); !s.ok()) return s.error();
  }
  Result<uint16_t> number = ParsePort(port);
  if (!number.ok()) return number.error();
  uri.port = *number;
  for (char c : host) uri.host += Lower(c);
  if (Status s = CheckPath(path); !s.ok()) return s.error();
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  uri.path = std::string(path);
  return uri;
}

bool IsLoopbackAddress(std::string_view ip) {
  std::optional<Bytes> bytes = ParseIp(ip);
  return bytes.has_value() && IsLoopback(*bytes);
}

bool IsOwnAddress(const NodeUri& uri, const SelfAddress& self) {
  if (self.port == 0 || uri.port != self.port) return false;
  if (std::optional<Bytes> bytes = ParseIp(uri.host)) {
    if (IsLoopback(*bytes) || IsUnspecified(*bytes)) return true;
    for (const std::string& own : self.ips) {
      if (ParseIp(own) == bytes) return true;
    }
    return false;
  }
  if (uri.host == "localhost" || uri.host.ends_with(".localhost")) return true;
  return std::find(self.names.begin(), self.names.end(), uri.host) != self.names.end();
}

}  // namespace gridhub::hub
