#include "node-agent/socket_targets.h"

#include "common/ip_address.h"
#include "config/values.h"
#include "http/json_body.h"
#include "node-agent/answer_fields.h"

namespace gridhub::node {

using nlohmann::json;

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The path part of a URL's `rest` (config::HttpUrl): fragment dropped, "/" at least.
std::string PathOf(std::string rest) {
  if (size_t hash = rest.find('#'); hash != std::string::npos) rest.erase(hash);
  if (rest.empty() || rest.front() != '/') rest.insert(0, "/");
  return rest;
}

// Chromium listens on 127.0.0.1 for "localhost": dialling the name could pick ::1 first.
SocketEndpoint OnIpv4Loopback(SocketEndpoint endpoint) {
  if (endpoint.host == "localhost") endpoint.host = "127.0.0.1";
  return endpoint;
}

const json* Member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// goog:chromeOptions.debuggerAddress or ms:edgeOptions.debuggerAddress; "" when neither.
std::string DebuggerAddress(const json& capabilities) {
  for (const char* key : {"goog:chromeOptions", "ms:edgeOptions"}) {
    if (const json* options = Member(capabilities, key)) {
      std::string address = StringMember(*options, "debuggerAddress");
      if (!address.empty()) return address;
    }
  }
  return "";
}

// Reads webSocketUrl: absent or false asks for nothing; a usable ws:// URL is the target;
// anything else (wss://, a bad URL, `true` echoed back) cannot be offered.
void ReadBidi(const json& capabilities, SocketTargets& targets, bool local_driver) {
  const json* url = Member(capabilities, "webSocketUrl");
  if (url == nullptr || url->is_null() || (url->is_boolean() && !url->get<bool>())) return;
  Result<SocketEndpoint> endpoint =
      url->is_string() ? ParseWebSocketUrl(url->get<std::string>()) : InvalidArgument("");
  if (!endpoint.ok()) {
    targets.bidi_unusable = true;
    return;
  }
  targets.bidi = local_driver ? OnIpv4Loopback(*endpoint) : *endpoint;
  targets.offer_bidi = true;
}

}  // namespace

std::string_view SocketKindName(SocketKind kind) {
  return kind == SocketKind::kBidi ? "bidi" : "cdp";
}

std::string SocketEndpoint::HostPort() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<SocketEndpoint> ParseWebSocketUrl(std::string_view url) {
  if (!StartsWith(url, "ws://")) {
    return InvalidArgument("not a ws:// URL: " + std::string(url.substr(0, 200)));
  }
  Result<config::HttpUrl> parsed = config::ParseHttpUrl("http://" + std::string(url.substr(5)));
  if (!parsed.ok()) return parsed.error();
  if (!parsed->user_info.empty()) return InvalidArgument("WebSocket URL with user info");
  return SocketEndpoint{parsed->host, parsed->port, PathOf(parsed->rest)};
}

Result<SocketEndpoint> ParseDevToolsAddress(std::string_view address) {
  Result<config::HttpUrl> parsed = config::ParseHttpUrl("http://" + std::string(address));
  if (!parsed.ok()) return parsed.error();
  if (!parsed->explicit_port || !parsed->rest.empty() || !parsed->user_info.empty()) {
    return InvalidArgument("DevTools address is not host:port: " +
                           std::string(address.substr(0, 200)));
  }
  return OnIpv4Loopback(SocketEndpoint{parsed->host, parsed->port, ""});
}

Result<std::string> BrowserEndpointPath(std::string_view json_version_body) {
  Result<json> body = http::ParseJsonBody(json_version_body);
  if (!body.ok()) return InvalidArgument("/json/version answer is not JSON");
  std::string url = StringMember(*body, "webSocketDebuggerUrl");
  if (url.empty()) return InvalidArgument("/json/version answer has no webSocketDebuggerUrl");
  Result<SocketEndpoint> endpoint = ParseWebSocketUrl(url);
  if (!endpoint.ok()) return endpoint.error();
  return endpoint->path;
}

SocketTargets DriverSocketTargets(const json& capabilities) {
  SocketTargets targets;
  ReadBidi(capabilities, targets, /*local_driver=*/true);
  if (Result<SocketEndpoint> devtools = ParseDevToolsAddress(DebuggerAddress(capabilities));
      devtools.ok()) {
    targets.devtools = *devtools;
    targets.offer_cdp = true;
  }
  return targets;
}

SocketTargets RelaySocketTargets(const json& capabilities, std::string_view relay_url,
                                 const SessionId& id) {
  SocketTargets targets;
  ReadBidi(capabilities, targets, /*local_driver=*/false);
  Result<config::HttpUrl> relay = config::ParseHttpUrl(relay_url);
  // The tunnel speaks no TLS: an https relay's own paths cannot be dialled.
  bool plain = relay.ok() && relay->scheme == "http";
  auto relay_path = [&](SocketKind kind) {
    std::string prefix = PathOf(relay->rest);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    return SocketEndpoint{
        relay->host, relay->port,
        prefix + "/session/" + id.str() + "/se/" + std::string(SocketKindName(kind))};
  };
  if (!targets.bidi && !targets.bidi_unusable && plain)
    targets.bidi = relay_path(SocketKind::kBidi);

  std::string cdp = StringMember(capabilities, "se:cdp");
  std::string devtools = DebuggerAddress(capabilities);
  bool relay_on_loopback =
      relay.ok() && (relay->host == "localhost" || IsLoopbackAddress(relay->host));
  if (Result<SocketEndpoint> endpoint = ParseWebSocketUrl(cdp); endpoint.ok()) {
    targets.cdp = *endpoint;
    targets.offer_cdp = true;
  } else if (Result<SocketEndpoint> address = ParseDevToolsAddress(devtools);
             address.ok() && relay_on_loopback) {
    targets.devtools = *address;
    targets.offer_cdp = true;
  } else if (plain) {
    targets.cdp = relay_path(SocketKind::kCdp);
  }
  return targets;
}

std::string NodeSocketUrl(std::string_view node_uri, const SessionId& id, SocketKind kind) {
  std::string base(node_uri);
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (StartsWith(base, "https://")) {
    base.replace(0, 5, "wss");
  } else if (StartsWith(base, "http://")) {
    base.replace(0, 4, "ws");
  }
  return base + "/session/" + id.str() + "/se/" + std::string(SocketKindName(kind));
}

bool OfferNodeSockets(json& capabilities, std::string_view node_uri, const SessionId& id,
                      const SocketTargets& targets) {
  if (!capabilities.is_object()) return false;
  bool changed = false;
  if (targets.offer_bidi) {
    capabilities["webSocketUrl"] = NodeSocketUrl(node_uri, id, SocketKind::kBidi);
    changed = true;
  } else if (targets.bidi_unusable) {
    capabilities.erase("webSocketUrl");
    capabilities["se:bidiEnabled"] = false;
    changed = true;
  }
  if (targets.offer_cdp) {
    capabilities["se:cdp"] = NodeSocketUrl(node_uri, id, SocketKind::kCdp);
    if (std::string version = StringMember(capabilities, "browserVersion"); !version.empty()) {
      capabilities["se:cdpVersion"] = version;
    }
    changed = true;
  } else if (capabilities.contains("se:cdp")) {  // a relay's, which the node cannot dial
    capabilities.erase("se:cdp");
    capabilities["se:cdpEnabled"] = false;
    changed = true;
  }
  return changed;
}

std::string WithCapabilities(const std::string& body, const json& capabilities) {
  Result<json> parsed = http::ParseJsonBody(body);
  if (!parsed.ok() || !parsed->is_object()) return body;
  auto value = parsed->find("value");
  if (value == parsed->end() || !value->is_object()) return body;
  (*value)["capabilities"] = capabilities;
  return parsed->dump();
}

}  // namespace gridhub::node
