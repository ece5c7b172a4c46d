#include "hub/auth.h"

#include <cstdint>
#include <optional>

#include "common/ids.h"
#include "http/http_types.h"
#include "hub/node_uri.h"

namespace gridhub::hub {

namespace {

// The password of `Authorization: Basic base64(user:password)`, whatever the user; "" when the
// header is not Basic or does not decode.
std::string BasicPassword(std::string_view authorization) {
  constexpr std::string_view kBasic = "Basic ";
  if (authorization.size() <= kBasic.size() ||
      !http::EqualsIgnoreCase(authorization.substr(0, kBasic.size()), kBasic)) {
    return "";
  }
  std::string_view encoded = authorization.substr(kBasic.size());
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string decoded;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : encoded) {
    if (c == '=') break;
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return "";
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  size_t colon = decoded.find(':');
  return colon == std::string::npos ? "" : decoded.substr(colon + 1);
}

// The token of `Authorization: Bearer TOKEN`; empty when the header is not Bearer.
std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !http::EqualsIgnoreCase(authorization.substr(0, kBearer.size()), kBearer)) {
    return {};
  }
  return authorization.substr(kBearer.size());
}

// Whether the caller presents `token`, as a bearer token or, failing that, a basic password.
bool Presents(const Caller& caller, const std::string& token) {
  std::string_view bearer = BearerToken(caller.authorization);
  if (!bearer.empty()) return ConstantTimeEquals(bearer, token);
  return ConstantTimeEquals(BasicPassword(caller.authorization), token);
}

bool ClientAllowed(const Credentials& credentials, const Caller& caller) {
  if (credentials.client_token.empty()) return true;
  // The admin token is a client credential too.
  return Presents(caller, credentials.client_token) ||
         (!credentials.admin_token.empty() && Presents(caller, credentials.admin_token));
}

bool AdminAllowed(const Credentials& credentials, const Caller& caller) {
  // Without an admin token, admin calls are queue-level calls: a configured client token
  // guards them like every other queue call (else anyone could clear the queue). With no token
  // at all they stay on this machine, as node calls do without a secret, so a default hub
  // cannot be reconfigured, drained or emptied from the network.
  if (credentials.admin_token.empty()) {
    if (credentials.client_token.empty()) return IsLoopbackAddress(caller.peer_address);
    return ClientAllowed(credentials, caller);
  }
  return Presents(caller, credentials.admin_token);
}

std::string AdminRefusal(const Credentials& credentials, const Caller& caller) {
  if (credentials.admin_token.empty() && credentials.client_token.empty()) {
    return "admin calls from " + std::string(caller.peer_address) +
           " are refused: without hub.admin-token the hub accepts them only from loopback; set "
           "hub.admin-token to administer it from other machines";
  }
  return "missing or wrong admin token";
}

enum class NodeCall { kDrain, kOther };

// Why a node call (register, heartbeat, deregister, drain, GET /nodes) is refused, or nullopt:
// DESIGN 7a, see docs/api.md "Authentication".
std::optional<std::string> NodeCallRefusal(const Credentials& credentials, const Caller& caller,
                                           NodeCall call) {
  const std::string& admin = credentials.admin_token;
  const std::string& secret = credentials.registration_secret;
  // The admin token, when one is set, is good for every node call, from anywhere.
  if (!admin.empty() && AdminAllowed(credentials, caller)) return std::nullopt;
  if (!secret.empty()) {
    if (ConstantTimeEquals(caller.registration_secret, secret)) return std::nullopt;
    return call == NodeCall::kDrain
               ? "missing or wrong X-Registration-Secret (hub.registration-secret) or admin token"
               : "missing or wrong X-Registration-Secret (hub.registration-secret)";
  }
  // No secret: only a node on this machine may register, heartbeat, drain or deregister, so a
  // default hub cannot be taken over from the network (DESIGN 7a).
  if (!IsLoopbackAddress(caller.peer_address)) {
    return "node calls from " + std::string(caller.peer_address) +
           " are refused: without hub.registration-secret the hub accepts them only from "
           "loopback; set hub.registration-secret on the hub and on its nodes to register "
           "nodes from other machines";
  }
  // Drain is also an admin call: an admin token, when set, guards it on loopback too.
  if (call == NodeCall::kDrain && !admin.empty()) return "missing or wrong admin token";
  return std::nullopt;
}

Status RefuseSite(std::string why) {
  return Error{
      ErrorCode::kForbidden,
      "refused: " + why + "; admin and node calls are not taken from another site's web page"};
}

// The host:port of an Origin ("http://h:1" -> "h:1"); "" when it has no scheme.
std::string_view OriginHost(std::string_view origin) {
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = origin.substr(scheme + 3);
  return rest.substr(0, rest.find('/'));
}

Status Refuse(std::string why) { return Error{ErrorCode::kUnauthorized, std::move(why)}; }

Status FromRefusal(std::optional<std::string> why) {
  return why.has_value() ? Refuse(std::move(*why)) : Status::Ok();
}

}  // namespace

bool SiteMatters(Access access) {
  return access == Access::kAdmin || access == Access::kNodeDrain || access == Access::kNode;
}

Status CheckSite(Access access, const RequestSite& site) {
  if (!SiteMatters(access)) return Status::Ok();
  if (http::EqualsIgnoreCase(site.sec_fetch_site, "cross-site")) {
    return RefuseSite("the browser marked this request cross-site (Sec-Fetch-Site)");
  }
  if (site.origin.empty()) return Status::Ok();
  const std::string_view host = OriginHost(site.origin);
  if (host.empty() || site.host.empty() || !http::EqualsIgnoreCase(host, site.host)) {
    return RefuseSite("its Origin is not this hub's address (Host)");
  }
  return Status::Ok();
}

Status CheckAccess(Access access, const Credentials& credentials, const Caller& caller) {
  constexpr const char* kClientRefusal = "missing or wrong client token";
  switch (access) {
    case Access::kOpen:
      return Status::Ok();
    case Access::kClient:
      return ClientAllowed(credentials, caller) ? Status::Ok() : Refuse(kClientRefusal);
    case Access::kAdmin:
      return AdminAllowed(credentials, caller) ? Status::Ok()
                                               : Refuse(AdminRefusal(credentials, caller));
    case Access::kNode:
      return FromRefusal(NodeCallRefusal(credentials, caller, NodeCall::kOther));
    case Access::kNodeDrain:
      return FromRefusal(NodeCallRefusal(credentials, caller, NodeCall::kDrain));
    case Access::kClientOrNode:
      // The registry names URIs and session ids: guarded like the queue when a client token
      // is set (a node's own credentials also show it).
      if (ClientAllowed(credentials, caller)) return Status::Ok();
      if (!NodeCallRefusal(credentials, caller, NodeCall::kOther).has_value()) {
        return Status::Ok();
      }
      return Refuse(kClientRefusal);
  }
  return Refuse(kClientRefusal);  // not reached: the switch names every Access
}

}  // namespace gridhub::hub
