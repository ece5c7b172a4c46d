#include "hub/node_uri.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "common/ip_address.h"

namespace gridhub::hub {

namespace {

Error Invalid(std::string_view what) {
  return Error{ErrorCode::kInvalidArgument, "uri " + std::string(what)};
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'); }

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

bool IsOwnAddress(const NodeUri& uri, const SelfAddress& self) {
  if (self.port == 0 || uri.port != self.port) return false;
  if (std::optional<IpBytes> bytes = ParseIp(uri.host)) {
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
