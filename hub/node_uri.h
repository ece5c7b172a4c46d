#pragma once

// The address a node registers (`"uri"` of POST /nodes) and the addresses the hub answers on.
// Pure: no DNS, no sockets — names are compared as written, IP literals by value.
//
//   Result<NodeUri> uri = ParseNodeUri("http://10.0.0.5:5555/wd/hub/");
//   uri->str();                        // "http://10.0.0.5:5555/wd/hub"
//   if (IsOwnAddress(*uri, self)) ...  // the hub itself: refused
//
// A node URI is `http(s)://host:port[/path]`: an explicit port 1-65535; a host that is a DNS
// name, a dotted-quad IPv4 address or a bracketed IPv6 address; no user-info, query or
// fragment; no whitespace, control or non-ASCII characters; no `.`/`..` path segments. The hub
// sends every W3C call to `str() + "/session..."`, so anything looser would let a node make the
// hub fetch other URLs (SSRF) or show a password in /status.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"  // IsLoopbackAddress, for the hub's loopback-only routes
#include "common/result.h"

namespace gridhub::hub {

struct NodeUri {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-cased; IPv6 without the brackets
  bool ipv6 = false;
  uint16_t port = 0;
  std::string path;  // "" or "/..." without trailing slashes

  // The normalised URI: scheme://host:port/path, IPv6 bracketed.
  std::string str() const;
};

// kInvalidArgument with a message naming the field `uri` and what is wrong.
Result<NodeUri> ParseNodeUri(std::string_view text);

// Where the hub listens: its port and every address that reaches it.
struct SelfAddress {
  uint16_t port = 0;
  std::vector<std::string> ips;    // textual IP addresses of this machine's interfaces
  std::vector<std::string> names;  // host names of this machine (lower-cased), e.g. hostname
};

// Whether `uri` designates the hub itself: its port on a loopback or unspecified address,
// `localhost` (or a `*.localhost` name), one of `self.ips` or one of `self.names`. A DNS name
// that merely resolves to the hub is not detected (that would need a lookup).
bool IsOwnAddress(const NodeUri& uri, const SelfAddress& self);

}  // namespace gridhub::hub
