#include "common/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace gridhub {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view WithoutBrackets(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

}  // namespace

std::optional<IpBytes> ParseIpv4(std::string_view text) {
  IpBytes bytes{};
  bytes[10] = bytes[11] = 0xff;
  int part = 0;
  size_t i = 0;
  while (part < 4) {
    size_t start = i;
    int value = 0;
    while (i < text.size() && IsDigit(text[i]) && i - start < 3) {
      value = value * 10 + (text[i++] - '0');
    }
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

std::optional<IpBytes> ParseIpv6(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  for (char c : text) {
    if (!IsHex(c) && c != ':' && c != '.') return std::nullopt;  // no zone ids ("%eth0")
  }
  IpBytes bytes{};
  std::string copy(text);  // inet_pton needs a terminated string
  if (inet_pton(AF_INET6, copy.c_str(), bytes.data()) != 1) return std::nullopt;
  return bytes;
}

std::optional<IpBytes> ParseIp(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    return ParseIpv6(text.substr(1, text.size() - 2));
  }
  if (text.find(':') != std::string_view::npos) return ParseIpv6(text);
  return ParseIpv4(text);
}

bool IsV4Mapped(const IpBytes& ip) {
  for (int i = 0; i < 10; ++i) {
    if (ip[i] != 0) return false;
  }
  return ip[10] == 0xff && ip[11] == 0xff;
}

bool IsLoopback(const IpBytes& ip) {
  if (IsV4Mapped(ip)) return ip[12] == 127;
  for (int i = 0; i < 15; ++i) {
    if (ip[i] != 0) return false;
  }
  return ip[15] == 1;
}

bool IsUnspecified(const IpBytes& ip) {
  if (IsV4Mapped(ip)) return ip[12] == 0;
  return std::all_of(ip.begin(), ip.end(), [](unsigned char c) { return c == 0; });
}

bool IsLoopbackAddress(std::string_view text) {
  std::optional<IpBytes> ip = ParseIp(text);
  return ip.has_value() && IsLoopback(*ip);
}

std::optional<std::string> CanonicalAddress(std::string_view text) {
  // A bracketed IPv4 literal is read as the IPv4 address, as peers and hosts are compared.
  std::optional<IpBytes> ip = ParseIp(WithoutBrackets(text));
  if (!ip) return std::nullopt;
  char out[INET6_ADDRSTRLEN] = {};
  if (IsV4Mapped(*ip)) {
    ::inet_ntop(AF_INET, ip->data() + 12, out, sizeof(out));
  } else {
    ::inet_ntop(AF_INET6, ip->data(), out, sizeof(out));
  }
  return std::string(out);
}

}  // namespace gridhub
