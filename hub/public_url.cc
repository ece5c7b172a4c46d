#include "hub/public_url.h"

#include <cctype>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/text.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

constexpr std::string_view kLegacyPrefix = "/wd/hub";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) { return TrimBlanks(text); }

// The first item of a comma-separated header (the one the outermost proxy added).
std::string_view FirstItem(std::string_view value) {
  return Trim(value.substr(0, value.find(',')));
}

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ValidPort(std::string_view text) {
  if (!IsDigits(text) || text.size() > 5) return false;
  const int port = std::stoi(std::string(text));
  return port >= 1 && port <= 65535;
}

// A DNS name or IPv4 literal as hosts are written in Host headers and URLs. Underscores are
// allowed: container names (docker compose services) use them.
bool ValidName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') {
    return false;
  }
  if (host.find("..") != std::string_view::npos) return false;
  for (char c : host) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

// "host", "host:port", "[v6]" or "[v6]:port", lower-cased; nullopt for anything else.
std::optional<std::string> ParseAuthority(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (!ValidPort(port)) return std::nullopt;
    }
    if (!ParseIpv6(host).has_value()) return std::nullopt;
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (!ValidPort(port)) return std::nullopt;
    }
    if (!ValidName(host)) return std::nullopt;
  }
  return Lower(text);
}

bool HasPort(std::string_view authority) {
  const size_t close = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  return colon != std::string_view::npos && (close == std::string_view::npos || colon > close);
}

bool PathChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  return std::string_view("-._~!$&'()*+,;=:@/%").find(c) != std::string_view::npos;
}

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// A path used as a prefix: "" or "/a/b" without trailing slashes; nullopt when it holds a
// character outside RFC 3986's path set, a bad %-escape, or a `.`/`..` segment.
std::optional<std::string> ParsePrefix(std::string_view path) {
  if (path.empty()) return std::string();
  if (path.front() != '/') return std::nullopt;
  for (size_t i = 0; i < path.size(); ++i) {
    if (!PathChar(path[i])) return std::nullopt;
    if (path[i] == '%' && (i + 2 >= path.size() || !IsHex(path[i + 1]) || !IsHex(path[i + 2]))) {
      return std::nullopt;
    }
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return std::nullopt;
    start = end + 1;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return std::string(path);
}

// "ws" for http, "wss" for https (any case); nullopt otherwise.
std::optional<std::string> SocketScheme(std::string_view http_scheme) {
  const std::string scheme = Lower(http_scheme);
  if (scheme == "http") return std::string("ws");
  if (scheme == "https") return std::string("wss");
  return std::nullopt;
}

std::optional<PublicBase> Make(std::string_view http_scheme, std::string_view authority,
                               std::string_view path, std::string_view source) {
  std::optional<std::string> scheme = SocketScheme(http_scheme);
  std::optional<std::string> host = ParseAuthority(authority);
  std::optional<std::string> prefix = ParsePrefix(path);
  if (!scheme || !host || !prefix) return std::nullopt;
  return PublicBase{*scheme, *host, *prefix, std::string(source)};
}

// The proto and host of a Forwarded header's first element (RFC 7239); nullopt when malformed.
struct ForwardedPair {
  std::string proto;
  std::string host;
};
std::optional<ForwardedPair> ParseForwarded(std::string_view value) {
  ForwardedPair out;
  // Only the first element, up to a comma outside quotes.
  bool quoted = false;
  size_t end = 0;
  while (end < value.size() && (quoted || value[end] != ',')) {
    if (value[end] == '"') quoted = !quoted;
    ++end;
  }
  if (quoted) return std::nullopt;
  for (std::string_view pair : SplitTrimmed(value.substr(0, end), ';')) {
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string key = Lower(Trim(pair.substr(0, eq)));
    std::string_view v = Trim(pair.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.find_first_of("\"\\") != std::string_view::npos) return std::nullopt;
    if (key == "proto") out.proto = std::string(v);
    if (key == "host") out.host = std::string(v);
  }
  return out;
}

// Rule 3: the proxy's view of the request. nullopt when nothing forwarded applies or it is
// malformed (then the Host header decides).
std::optional<PublicBase> FromForwarded(const PublicUrlSources& in) {
  if (!in.trust_forwarded) return std::nullopt;
  if (in.forwarded.empty() && in.x_forwarded_proto.empty() && in.x_forwarded_host.empty() &&
      in.x_forwarded_prefix.empty() && in.x_forwarded_port.empty()) {
    return std::nullopt;
  }
  ForwardedPair pair;
  if (!in.forwarded.empty()) {
    std::optional<ForwardedPair> parsed = ParseForwarded(in.forwarded);
    if (!parsed) return std::nullopt;
    pair = *parsed;
  }
  if (pair.proto.empty()) pair.proto = std::string(FirstItem(in.x_forwarded_proto));
  if (pair.host.empty()) pair.host = std::string(FirstItem(in.x_forwarded_host));
  if (pair.host.empty()) pair.host = std::string(Trim(in.host));
  if (pair.proto.empty()) pair.proto = "http";
  std::string authority = pair.host;
  std::string_view port = FirstItem(in.x_forwarded_port);
  if (!port.empty() && !HasPort(authority)) {
    if (!ValidPort(port)) return std::nullopt;
    authority += ":" + std::string(port);
  }
  std::string path(FirstItem(in.x_forwarded_prefix));
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (in.legacy) path += kLegacyPrefix;
  return Make(pair.proto, authority, path, "forwarded");
}

}  // namespace

std::string PublicBase::str() const { return scheme + "://" + authority + prefix; }

std::string PublicBase::SocketUrl(std::string_view session_id, std::string_view kind) const {
  return hub::SocketUrl(str(), session_id, kind);
}

std::string SocketUrl(std::string_view base, std::string_view session_id, std::string_view kind) {
  return std::string(base) + "/session/" + std::string(session_id) + "/se/" + std::string(kind);
}

std::optional<PublicBase> ParsePublicUrl(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string_view scheme = url.substr(0, sep);
  std::string_view rest = url.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? "" : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  if (path.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  return Make(scheme, authority, path, "public-url");
}

std::optional<PublicBase> ChoosePublicBase(const PublicUrlSources& in) {
  if (!in.configured.empty()) {
    if (std::optional<PublicBase> base = ParsePublicUrl(in.configured)) return base;
  }
  if (!in.remote_url.empty()) {
    if (std::optional<PublicBase> base = ParsePublicUrl(in.remote_url)) {
      base->source = "se:remoteUrl";
      return base;
    }
  }
  if (std::optional<PublicBase> base = FromForwarded(in)) return base;
  return Make("http", Trim(in.host), in.legacy ? kLegacyPrefix : "", "host");
}

std::string TakeRemoteUrl(json& body) {
  std::string found;
  auto take = [&found](json& caps) {
    if (!caps.is_object()) return;
    auto it = caps.find("se:remoteUrl");
    if (it == caps.end()) return;
    if (found.empty() && it->is_string()) found = it->get<std::string>();
    caps.erase(it);
  };
  if (!body.is_object() || !body.contains("capabilities")) return found;
  json& capabilities = body["capabilities"];
  if (!capabilities.is_object()) return found;
  if (capabilities.contains("alwaysMatch")) take(capabilities["alwaysMatch"]);
  if (capabilities.contains("firstMatch") && capabilities["firstMatch"].is_array()) {
    for (json& entry : capabilities["firstMatch"]) take(entry);
  }
  return found;
}

}  // namespace gridhub::hub
