#pragma once

// Numeric IP addresses as text: parsed by value, compared by value, written in one spelling.
// The one copy both the hub (node URIs, loopback-only routes) and the node agent (who may call
// it) use. Pure: no DNS, no sockets.
//
//   std::optional<IpBytes> ip = ParseIp("::ffff:127.0.0.1");
//   IsLoopback(*ip);                              // true
//   CanonicalAddress("[0:0::1]");                 // "::1"
//   IsLoopbackAddress(request.peer_address);      // a Pistache peer, e.g. "10.0.0.7"
//
// Thread-compatible: plain functions over values.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace gridhub {

// An IPv6 address; IPv4 as its mapped form ::ffff:a.b.c.d.
using IpBytes = std::array<unsigned char, 16>;

// Dotted-quad decimal only: inet_aton's "127.1", octal and hex forms are refused, because
// libcurl and the hub's own checks would not agree on what they mean.
std::optional<IpBytes> ParseIpv4(std::string_view text);
// An IPv6 literal without brackets and without a zone id ("%eth0").
std::optional<IpBytes> ParseIpv6(std::string_view text);
// An IPv4 dotted quad, or IPv6 with or without [brackets].
std::optional<IpBytes> ParseIp(std::string_view text);

bool IsV4Mapped(const IpBytes& ip);
// 127.0.0.0/8 and ::1 (and their IPv4-mapped forms).
bool IsLoopback(const IpBytes& ip);
// 0.0.0.0/8 and ::: a connection to them reaches this machine.
bool IsUnspecified(const IpBytes& ip);

// Whether `text` (ParseIp's forms) is a loopback address. False for anything unparsable.
bool IsLoopbackAddress(std::string_view text);

// The address in one spelling: "[::1]" -> "::1", "::ffff:10.0.0.1" -> "10.0.0.1",
// "0:0::1" -> "::1"; nullopt when `text` (optionally in [brackets]) is not a numeric IPv4 or
// IPv6 address.
std::optional<std::string> CanonicalAddress(std::string_view text);

}  // namespace gridhub
