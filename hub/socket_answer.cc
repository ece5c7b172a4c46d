#include "hub/socket_answer.h"

#include "common/ip_address.h"
#include "http/json_body.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

bool IsLocalHost(std::string_view host) { return host == "localhost" || IsLoopbackAddress(host); }

std::string Bracketed(const std::string& host, bool ipv6) { return ipv6 ? "[" + host + "]" : host; }

json* CapabilitiesOf(json& body) {
  if (!body.is_object()) return nullptr;
  auto value = body.find("value");
  if (value == body.end() || !value->is_object()) return nullptr;
  auto caps = value->find("capabilities");
  if (caps == value->end() || !caps->is_object()) return nullptr;
  return &*caps;
}

// Where the hub dials a socket a bare node named itself: its own host, or loopback, which on a
// remote node means the node's host (a driver bound to 127.0.0.1 there reports that address;
// when it is bound to loopback only, the dial fails and the client hears 502). Any other host is
// not dialled (a node cannot make the hub connect elsewhere): "".
std::string BareUpstream(std::string_view url, const NodeUri* node) {
  if (node == nullptr) return "";
  std::optional<SocketTarget> target = ParseSocketTarget(url);
  if (!target) return "";
  if (IsLocalHost(target->host) && !IsLocalHost(node->host)) {
    target->host = node->host;
  } else if (target->host != node->host &&
             !(IsLocalHost(target->host) && IsLocalHost(node->host))) {
    return "";
  }
  const bool v6 = ParseIpv6(target->host).has_value();
  return "ws://" + Bracketed(target->host, v6) + ":" + std::to_string(target->port) + target->path;
}

void RewriteBidi(json& caps, const SessionId& session, const SocketRewriteInput& in,
                 SocketOffer* offer) {
  auto it = caps.find("webSocketUrl");
  if (it == caps.end()) return;
  bool can = !in.public_base.empty() && it->is_string();
  std::string upstream;
  if (can && in.bare_node) {
    upstream = BareUpstream(it->get_ref<const std::string&>(), in.node_uri);
    can = !upstream.empty();
  }
  if (!can) {
    caps.erase(it);
    caps["se:bidiEnabled"] = false;
    return;
  }
  *it = SocketUrl(in.public_base, session.str(), "bidi");
  offer->bidi = true;
  offer->bidi_upstream = std::move(upstream);
}

void RewriteCdp(json& caps, const SessionId& session, const SocketRewriteInput& in,
                SocketOffer* offer) {
  auto node_cdp = caps.find("se:cdp");
  const bool has_node_cdp = node_cdp != caps.end();
  if (!has_node_cdp && DebuggerAddressOf(caps).empty()) return;
  bool can = !in.public_base.empty();
  std::string upstream;
  if (can && in.bare_node) {
    upstream = in.cdp_upstream;
    if (upstream.empty() && has_node_cdp && node_cdp->is_string()) {
      upstream = BareUpstream(node_cdp->get_ref<const std::string&>(), in.node_uri);
    }
    can = !upstream.empty();
  }
  if (!can) {
    caps.erase("se:cdp");
    caps.erase("se:cdpVersion");
    caps["se:cdpEnabled"] = false;
    return;
  }
  caps["se:cdp"] = SocketUrl(in.public_base, session.str(), "cdp");
  auto version = caps.find("browserVersion");
  if (version != caps.end() && version->is_string() &&
      !version->get_ref<const std::string&>().empty()) {
    caps["se:cdpVersion"] = *version;
  } else if (caps.contains("se:cdpVersion") && !caps["se:cdpVersion"].is_string()) {
    caps.erase("se:cdpVersion");
  }
  offer->cdp = true;
  offer->cdp_upstream = std::move(upstream);
}

}  // namespace

const json* AnswerCapabilities(const json& body) { return CapabilitiesOf(const_cast<json&>(body)); }

std::string SocketTarget::host_port() const {
  return Bracketed(host, ParseIpv6(host).has_value()) + ":" + std::to_string(port);
}

std::optional<SocketTarget> ParseSocketTarget(std::string_view ws_url) {
  constexpr std::string_view kWs = "ws://";
  if (!ws_url.starts_with(kWs)) return std::nullopt;
  // The node-URI rules (explicit port, no user-info, query or dot segments) fit a socket's too.
  Result<NodeUri> uri = ParseNodeUri("http://" + std::string(ws_url.substr(kWs.size())));
  if (!uri.ok()) return std::nullopt;
  return SocketTarget{uri->host, uri->port, uri->path.empty() ? "/" : uri->path};
}

SocketOffer RewriteSocketUrls(json& body, const SessionId& session, const SocketRewriteInput& in) {
  SocketOffer offer;
  json* caps = CapabilitiesOf(body);
  if (caps == nullptr) return offer;
  RewriteBidi(*caps, session, in, &offer);
  RewriteCdp(*caps, session, in, &offer);
  return offer;
}

std::string DebuggerAddressOf(const json& capabilities) {
  if (!capabilities.is_object()) return "";
  for (const char* key : {"goog:chromeOptions", "ms:edgeOptions"}) {
    auto options = capabilities.find(key);
    if (options == capabilities.end() || !options->is_object()) continue;
    auto address = options->find("debuggerAddress");
    if (address != options->end() && address->is_string() &&
        !address->get_ref<const std::string&>().empty()) {
      return address->get<std::string>();
    }
  }
  return "";
}

bool DebuggerAddressReachable(std::string_view address, const NodeUri& node) {
  Result<NodeUri> parsed = ParseNodeUri("http://" + std::string(address));
  if (!parsed.ok() || !parsed->path.empty()) return false;
  if (parsed->host == node.host) return true;
  return IsLocalHost(parsed->host) && IsLocalHost(node.host);
}

std::string CdpUpstreamFromVersion(std::string_view address, std::string_view version_body) {
  Result<json> parsed = http::ParseJsonBody(version_body);
  if (!parsed.ok() || !parsed->is_object()) return "";
  auto url = parsed->find("webSocketDebuggerUrl");
  if (url == parsed->end() || !url->is_string()) return "";
  std::optional<SocketTarget> named = ParseSocketTarget(url->get_ref<const std::string&>());
  if (!named) return "";
  const std::string upstream = "ws://" + std::string(address) + named->path;
  return ParseSocketTarget(upstream).has_value() ? upstream : "";
}

}  // namespace gridhub::hub
