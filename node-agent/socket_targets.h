#pragma once

// Where a session's WebSockets go behind the node, read from its backend's new-session answer,
// and the node's own socket URLs written into the answer the node passes on (DESIGN 4a). Pure
// functions over JSON and strings.
//
//   SocketTargets targets = DriverSocketTargets(created.capabilities);
//   // webSocketUrl ws://127.0.0.1:9515/session/S → bidi {127.0.0.1, 9515, /session/S};
//   // goog:chromeOptions.debuggerAddress localhost:41234 → devtools_address
//   OfferNodeSockets(caps, "http://10.0.0.5:5555", id, targets);
//   // caps.webSocketUrl = ws://10.0.0.5:5555/session/S/se/bidi, se:cdp = .../se/cdp
//
// A local driver's sockets are its own `webSocketUrl` (BiDi) and the browser endpoint named by
// `http://{debuggerAddress}/json/version` (CDP, looked up when the first /se/cdp is opened: most
// sessions never open one). A relay's are the URLs it returned, else the same /se/bidi and
// /se/cdp paths on the relay (another grid node serves them).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/strong_id.h"

namespace gridhub::node {

enum class SocketKind { kBidi, kCdp };
std::string_view SocketKindName(SocketKind kind);  // "bidi", "cdp"

// A plain ws:// endpoint the node dials (the tunnel speaks no TLS).
struct SocketEndpoint {
  std::string host;  // a name or an address, IPv6 without brackets
  uint16_t port = 0;
  std::string path;  // from the first '/' on, query included; "/" at least

  std::string HostPort() const;  // "127.0.0.1:9515", "[::1]:9515": the Host header and the dial
  bool operator==(const SocketEndpoint&) const = default;
};

// `ws://host[:port][/path]` (port 80 when absent). kInvalidArgument for anything else, wss://
// included: the reason names what is wrong.
Result<SocketEndpoint> ParseWebSocketUrl(std::string_view url);

// The DevTools `host:port` (`localhost:41234`, `127.0.0.1:9222`, `[::1]:9222`) as an endpoint
// with an empty path; `localhost` becomes 127.0.0.1, where Chromium listens for it.
Result<SocketEndpoint> ParseDevToolsAddress(std::string_view address);

// The path of `webSocketDebuggerUrl` in a `GET /json/version` answer
// (`ws://localhost:41234/devtools/browser/UUID` → `/devtools/browser/UUID`).
Result<std::string> BrowserEndpointPath(std::string_view json_version_body);

struct SocketTargets {
  std::optional<SocketEndpoint> bidi;
  // CDP, either found through this DevTools address's /json/version (a local browser)...
  std::optional<SocketEndpoint> devtools;
  // ...or known already (a relay's).
  std::optional<SocketEndpoint> cdp;
  // Whether the node's answer names the socket. A relay's /se paths are dialled on request
  // without being offered: the relay did not say it has them.
  bool offer_bidi = false;
  bool offer_cdp = false;
  // The backend's webSocketUrl was there but not something the node can dial (wss://, not a
  // URL, `true` echoed back): the answer says `se:bidiEnabled: false` instead.
  bool bidi_unusable = false;

  bool has(SocketKind kind) const {
    return kind == SocketKind::kBidi ? bidi.has_value() : devtools.has_value() || cdp.has_value();
  }
};

// A driver the node started (on loopback, as the browser).
SocketTargets DriverSocketTargets(const nlohmann::json& capabilities);

// A relay at `relay_url` (http://host:port[/prefix]) that created session `id`: its
// `webSocketUrl` and `se:cdp` when it returned them (both offered), else its
// `{relay}/session/{id}/se/bidi|cdp` (not offered). A DevTools address it names is used only
// when the relay is on loopback (the address is the relay machine's).
SocketTargets RelaySocketTargets(const nlohmann::json& capabilities, std::string_view relay_url,
                                 const SessionId& id);

// `ws://host:port[/prefix]/session/{id}/se/{bidi|cdp}` for the node at `node_uri`
// (http://host:port[/prefix]; https gives wss).
std::string NodeSocketUrl(std::string_view node_uri, const SessionId& id, SocketKind kind);

// Rewrites `capabilities` for the node's callers: `webSocketUrl` becomes the node's /se/bidi
// URL when offered (removed, with `se:bidiEnabled: false`, when unusable), and `se:cdp` (the
// node's /se/cdp URL) with `se:cdpVersion` (browserVersion) are set when CDP is offered. True
// when anything changed.
bool OfferNodeSockets(nlohmann::json& capabilities, std::string_view node_uri, const SessionId& id,
                      const SocketTargets& targets);

// `body` (a W3C new-session answer) with value.capabilities replaced; `body` itself when it
// does not parse as one.
std::string WithCapabilities(const std::string& body, const nlohmann::json& capabilities);

}  // namespace gridhub::node
