#pragma once

// The headers one hub of a grid adds when it forwards a dispatcher call to the leader
// (DESIGN §8): who forwards, the grid's peer secret, and what the forwarding hub already
// decided about the original caller. The leader believes them only when the secret matches;
// a client's own X-Gridhub-* headers are stripped by the forwarding hub before it forwards.
//
//   http::Headers out = StripPeerHeaders(request.headers);   // never trust a client's
//   AddPeerHeaders(out, {.hub_id = self.id, .access = ..., ...}, secret);
//   ... on the leader:
//   if (std::optional<PeerCaller> peer = ReadPeerHeaders(request, secret)) { ... }
//
// Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_server.h"
#include "http/http_types.h"
#include "hub/auth.h"
#include "hub/grid_snapshot.h"

namespace gridhub::hub {

inline constexpr std::string_view kPeerHeader = "X-Gridhub-Peer";
inline constexpr std::string_view kPeerSecretHeader = "X-Gridhub-Peer-Secret";
inline constexpr std::string_view kPeerAccessHeader = "X-Gridhub-Access";
inline constexpr std::string_view kPeerExposureHeader = "X-Gridhub-Exposure";
inline constexpr std::string_view kPeerPublicBaseHeader = "X-Gridhub-Public-Base";
inline constexpr std::string_view kPeerOrderHeader = "X-Gridhub-Order";
// On a 503 from a hub that is not (or no longer) the leader: the forwarding hub re-submits.
inline constexpr std::string_view kNotLeaderHeader = "X-Gridhub-Not-Leader";

// What the forwarding hub vouches for about the original caller.
struct PeerCaller {
  std::string hub_id;
  // The access the forwarding hub checked the caller for: kOpen, kClient, kAdmin or kNode
  // (kNodeDrain and kClientOrNode go out as "node" and "client").
  Access access = Access::kOpen;
  Exposure exposure = Exposure::kCounts;
  std::string public_base;        // "" when the first hub computed none
  std::optional<uint64_t> order;  // the holding hub's admission sequence, when sent
};

// "client", "admin", "node", "open".
std::string_view AccessWireName(Access access);
std::optional<Access> AccessFromWire(std::string_view text);

// Whether `name` is an X-Gridhub-* header (case-insensitive).
bool IsPeerHeader(std::string_view name);

// `headers` without any X-Gridhub-* header: what a non-peer caller sent, made safe to forward.
http::Headers StripPeerHeaders(const http::Headers& headers);

// Appends the peer headers for `caller` and `secret` to `headers`.
void AddPeerHeaders(http::Headers& headers, const PeerCaller& caller, std::string_view secret);

// What a peer vouched for, or nullopt: no X-Gridhub-Peer, an empty `secret` (none in force),
// a missing or wrong X-Gridhub-Peer-Secret (compared in constant time), or an unreadable
// access. A nullopt means the X-Gridhub-* headers must be ignored, never half-believed.
std::optional<PeerCaller> ReadPeerHeaders(const http::ServerRequest& request,
                                          std::string_view secret);

}  // namespace gridhub::hub
