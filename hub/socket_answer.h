#pragma once

// The WebSocket URLs of a new-session answer, rewritten for the client (DESIGN 4a): whatever
// the node put there (a node agent its own URL, a bare driver a 127.0.0.1 one), the client gets
// `webSocketUrl = PUBLIC/session/{id}/se/bidi` and, for a session with a DevTools address,
// `se:cdp = PUBLIC/session/{id}/se/cdp` plus `se:cdpVersion` — or, where the hub cannot offer
// the socket, neither key and `se:bidiEnabled: false` / `se:cdpEnabled: false`.
//
//   SocketOffer offer = RewriteSocketUrls(answer.body, session_id,
//                                         {.public_base = base.str(), .bare_node = false});
//   // offer.bidi: the answer now names the hub's BiDi endpoint
//
// Done on the create-answer path before the Grid's lock is taken (the body is untrusted).
// Pure: no I/O; thread-compatible.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/strong_id.h"
#include "hub/node_uri.h"
#include "hub/public_url.h"

namespace gridhub::hub {

// What a session's answer offered, kept with the session for its upgrade requests.
struct SocketOffer {
  bool bidi = false;
  bool cdp = false;
  // Bare W3C nodes only: the ws:// URL the hub dials for each kind ("" = not offered). A node
  // agent is always dialled at {node uri}/session/{id}/se/{kind} instead.
  std::string bidi_upstream;
  std::string cdp_upstream;
};

struct SocketRewriteInput {
  // PublicBase::str() of the request ("ws://grid:4444/wd/hub"); "" = no PUBLIC, so nothing can
  // be offered.
  std::string_view public_base;
  // A node registered with "healthCheck": "status" (a bare WebDriver server), not an agent.
  bool bare_node = false;
  // Bare nodes: where the node is, to tell which driver addresses the hub can reach.
  const NodeUri* node_uri = nullptr;
  // Bare nodes: the DevTools browser endpoint the hub found reachable ("" = none); see
  // CdpUpstreamFromVersion.
  std::string cdp_upstream;
};

// Rewrites `body` ({"value": {"sessionId", "capabilities"}}) in place and says what it offers.
// A body without a capabilities object is left alone (and offers nothing).
SocketOffer RewriteSocketUrls(nlohmann::json& body, const SessionId& session,
                              const SocketRewriteInput& in);

// The capabilities object of a new-session answer body; null when it has none.
const nlohmann::json* AnswerCapabilities(const nlohmann::json& body);

// The DevTools address a Chromium-family answer reports (`goog:chromeOptions.debuggerAddress`,
// else `ms:edgeOptions.debuggerAddress`), "host:port"; "" when none.
std::string DebuggerAddressOf(const nlohmann::json& capabilities);

// Whether the hub may ask a bare node's DevTools address for /json/version: a valid host:port
// on the node's own host, or on loopback when the node itself is on loopback (a driver's
// 127.0.0.1 on another machine is that machine's, which the hub cannot reach).
bool DebuggerAddressReachable(std::string_view address, const NodeUri& node);

// The ws:// URL the hub dials for a bare node's CDP socket, from the node's DevTools address
// and its answer to GET /json/version (`webSocketDebuggerUrl`'s path on `address`); "" when the
// answer does not name one.
std::string CdpUpstreamFromVersion(std::string_view address, std::string_view version_body);

// A ws:// URL as the hub dials it: host, port and the path with its query. nullopt for
// anything but ws://host:port[/path] (wss is not dialled: the tunnel speaks plain TCP).
struct SocketTarget {
  std::string host;
  uint16_t port = 0;
  std::string path;  // "/..." (at least "/")
  std::string host_port() const;
};
std::optional<SocketTarget> ParseSocketTarget(std::string_view ws_url);

}  // namespace gridhub::hub
