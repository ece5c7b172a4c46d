#pragma once

// Who may call a node agent (docs/security.md). With hub.registration-secret set, every route
// but GET /status needs it in X-Registration-Secret. Without one, only loopback and the
// addresses of the hub the node registers with may call: a node's W3C routes drive browsers,
// so an open node would hand them to anyone who can reach its port.
//
//   std::vector<std::string> hub = ResolveHostAddresses("hub.lan");
//   if (std::optional<std::string> why = AccessRefusal(
//           secret, hub, request.peer_address, request.Header("X-Registration-Secret")))
//     return Send401(*why);
//
// Addresses are compared in common/ip_address.h's one spelling (CanonicalAddress). Pure apart
// from ResolveHostAddresses (a DNS lookup).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

namespace gridhub::node {

// The canonical addresses `host` (a name or a literal, with or without [brackets]) resolves
// to; empty when it does not resolve.
std::vector<std::string> ResolveHostAddresses(const std::string& host);

// Why a call from `peer` (its IP address as text) presenting `presented_secret` is refused,
// naming the setting that decides it (it goes to the caller, so the hub's addresses are left
// out); nullopt when it is allowed. `secret` is hub.registration-secret ("" = none);
// `hub_addresses` (canonical) count only without one.
std::optional<std::string> AccessRefusal(std::string_view secret,
                                         const std::vector<std::string>& hub_addresses,
                                         std::string_view peer, std::string_view presented_secret);

// "10.0.0.1, ::1"; "none" when empty.
std::string JoinAddresses(const std::vector<std::string>& addresses);

}  // namespace gridhub::node
