#pragma once

// PUBLIC (DESIGN 4a): the base of the WebSocket URLs a new-session answer hands out, as the
// client can reach the hub — `ws://host:port/prefix` or `wss://...`, without a trailing slash.
// The first source that applies and is well-formed wins:
//   1. hub.public-url (http → ws, https → wss; its path kept as a prefix);
//   2. the request's `se:remoteUrl` capability (the URL a Selenium ≥ 4.47 client used);
//   3. with hub.trust-forwarded: `Forwarded` (proto, host) or `X-Forwarded-Proto`,
//      `X-Forwarded-Host`, `X-Forwarded-Port`, `X-Forwarded-Prefix`;
//   4. the `Host` header, plus `/wd/hub` when the POST /session came in under it.
// A source that is present but malformed is skipped (a client or a proxy cannot make the hub
// hand out a URL with a space, CR/LF, user-info or a query); with no usable source at all there
// is no PUBLIC and the answer offers no socket.
//
//   PublicUrlSources in{.configured = settings.hub.public_url, .host = request.Header("Host"),
//                       .legacy = match.legacy};
//   std::optional<PublicBase> base = ChoosePublicBase(in);
//   base->SocketUrl("abc", "bidi");  // "ws://grid:4444/wd/hub/session/abc/se/bidi"
//
// Pure: no I/O; thread-compatible.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace gridhub::hub {

struct PublicBase {
  std::string scheme;     // "ws" or "wss"
  std::string authority;  // "host", "host:port" or "[v6]:port"; host lower-cased
  std::string prefix;     // "" or "/a/b" (no trailing slash)
  std::string source;     // which rule chose it: "public-url", "se:remoteUrl", "forwarded", "host"

  // "ws://host:port/prefix".
  std::string str() const;
  // str() + "/session/" + session_id + "/se/" + kind.
  std::string SocketUrl(std::string_view session_id, std::string_view kind) const;
};

// An http(s)://host[:port][/path] URL as a base: http → ws, https → wss. nullopt for anything
// else (another scheme, user-info, a query or fragment, a bad host or port, a path with a
// character outside RFC 3986's path set or a `.`/`..` segment).
std::optional<PublicBase> ParsePublicUrl(std::string_view url);

struct PublicUrlSources {
  std::string_view configured;  // hub.public-url ("" = unset)
  std::string_view remote_url;  // se:remoteUrl ("" = absent)
  bool trust_forwarded = false;
  std::string_view forwarded;           // Forwarded (RFC 7239)
  std::string_view x_forwarded_proto;   // X-Forwarded-Proto
  std::string_view x_forwarded_host;    // X-Forwarded-Host
  std::string_view x_forwarded_port;    // X-Forwarded-Port
  std::string_view x_forwarded_prefix;  // X-Forwarded-Prefix
  std::string_view host;                // Host
  bool legacy = false;                  // the request came in under /wd/hub
};

std::optional<PublicBase> ChoosePublicBase(const PublicUrlSources& in);

// `base` (PublicBase::str()) + "/session/" + session_id + "/se/" + kind.
std::string SocketUrl(std::string_view base, std::string_view session_id, std::string_view kind);

// Removes every `se:remoteUrl` from a new-session body (alwaysMatch and each firstMatch), so no
// node sees it, and returns the first string one found (alwaysMatch first); "" when none.
std::string TakeRemoteUrl(nlohmann::json& body);

}  // namespace gridhub::hub
