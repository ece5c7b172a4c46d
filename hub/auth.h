#pragma once

// Who may make a call: the hub's credential checks as pure functions of values (the headers a
// caller sent, its peer address, the credentials in force). No I/O, no HTTP types: the route
// table (router.h) names an Access per route, HubService reads the caller off the request and
// turns a refusal into a 401 with `WWW-Authenticate`.
//
//   Credentials in_force{.admin_token = "adm", .client_token = "ct"};
//   Caller caller{.authorization = request.Header("Authorization"),
//                 .registration_secret = request.Header("X-Registration-Secret"),
//                 .peer_address = request.peer_address};
//   if (Status s = CheckAccess(Access::kAdmin, in_force, caller); !s.ok()) {
//     ... 401, s.error().message says why ...
//   }
//
// Thread-safe (pure). Secrets are compared with ConstantTimeEquals (common/ids.h).
// The rules are DESIGN 7a; docs/api.md "Authentication" describes them for users.

#include <string>
#include <string_view>

#include "common/result.h"

namespace gridhub::hub {

// The tokens and the secret in force; empty means not set.
struct Credentials {
  std::string admin_token;          // hub.admin-token
  std::string client_token;         // hub.client-token
  std::string registration_secret;  // hub.registration-secret
};

// What a caller presents. The views point into the request, which must outlive the check.
struct Caller {
  std::string_view authorization;        // the Authorization header: Bearer or Basic
  std::string_view registration_secret;  // the X-Registration-Secret header
  std::string_view peer_address;         // textual IPv4 or IPv6 address of the peer
};

// Who may call a route.
enum class Access {
  kOpen,    // anyone: probes and scrapers (/status, /metrics, /graphql)
  kClient,  // the client token (or the admin token) when one is set, else anyone
  // The admin token when one is set; without it the client token when that is set; with
  // neither, loopback callers only.
  kAdmin,
  // Node calls (register, heartbeat, deregister): the admin token when set, else the
  // registration secret when set, else loopback callers only.
  kNode,
  // Drain: as kNode, and on loopback without a secret the admin token, when set, is needed.
  kNodeDrain,
  // GET /nodes: a client's credentials or a node's.
  kClientOrNode,
};

// Ok when `caller` may make an `access` call under `credentials`; else kUnauthorized with the
// reason the 401 gives (never a secret's value).
Status CheckAccess(Access access, const Credentials& credentials, const Caller& caller);

// What a browser says about where a request comes from (Fetch metadata and Origin), from the
// request's headers; empty when not sent (WebDriver clients and node agents send neither).
struct RequestSite {
  std::string_view sec_fetch_site;  // "same-origin", "same-site", "cross-site", "none"
  std::string_view origin;          // "http://host:port", or "null"
  std::string_view host;            // the Host header
};

// Whether an `access` call may come from `site`. Admin, drain and node calls are refused
// (kForbidden) when a browser says they come from another site — `Sec-Fetch-Site: cross-site`,
// or an Origin whose host:port is not the request's Host — because the loopback rule (no
// token, a caller on this machine) would otherwise let any web page an operator opens on this
// machine drain nodes, clear the queue or register a node. Other calls are not checked.
Status CheckSite(Access access, const RequestSite& site);

// Whether CheckSite looks at the site at all for `access`: the caller reads the three headers
// only then, so a proxied command (kClient) pays nothing for the check.
bool SiteMatters(Access access);

}  // namespace gridhub::hub
