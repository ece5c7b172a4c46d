#include "tunnel/handshake.h"

#include <algorithm>
#include <array>

#include "http/http_types.h"
#include "http/w3c_error.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::tunnel {

namespace {

bool AnyHeaderHasToken(const http::Headers& headers, std::string_view name,
                       std::string_view token) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& header) {
    return http::EqualsIgnoreCase(header.first, name) && http::ListHasToken(header.second, token);
  });
}

// Headers about this one connection, which the upstream connection has its own of; Host,
// Authorization and Origin belong to the client's hop (Origin would make a browser's DevTools
// endpoint refuse the connection, and the hub's credentials are not the node's).
bool Dropped(std::string_view name, const http::Headers& client, const http::Headers& extra) {
  static constexpr std::array<std::string_view, 13> kDropped = {"Host",
                                                                "Authorization",
                                                                "Origin",
                                                                "Connection",
                                                                "Upgrade",
                                                                "Keep-Alive",
                                                                "Proxy-Connection",
                                                                "Proxy-Authorization",
                                                                "TE",
                                                                "Trailer",
                                                                "Transfer-Encoding",
                                                                "Content-Length",
                                                                "Proxy-Authenticate"};
  for (std::string_view dropped : kDropped) {
    if (http::EqualsIgnoreCase(name, dropped)) return true;
  }
  // Named by the client's Connection header: hop-by-hop too (RFC 9110 §7.6.1). Named in
  // `extra`: ours to set, never the client's (X-Registration-Secret).
  if (AnyHeaderHasToken(client, "Connection", name)) return true;
  return std::any_of(extra.begin(), extra.end(),
                     [&](const auto& h) { return http::EqualsIgnoreCase(h.first, name); });
}

}  // namespace

std::string UpgradeRequestHead(const http::Headers& client_headers, std::string_view target,
                               std::string_view host_port, const http::Headers& extra) {
  std::string head = "GET ";
  for (char c : target) {
    // A target never holds these (the server's framer refuses them); never split the head.
    head += (c == ' ' || c == '\r' || c == '\n' || c == '\0') ? '_' : c;
  }
  head += " HTTP/1.1\r\nHost: ";
  if (http::SafeForWire(host_port)) head.append(host_port);
  head += "\r\n";
  std::string_view upgrade = http::FindHeader(client_headers, "Upgrade");
  head += "Upgrade: ";
  head += upgrade.empty() || !http::SafeForWire(upgrade) ? std::string_view("websocket") : upgrade;
  head += "\r\nConnection: Upgrade\r\n";
  auto add = [&head](const std::string& name, const std::string& value) {
    if (name.empty() || !http::SafeForWire(name) || !http::SafeForWire(value)) return;
    head += name + ": " + value + "\r\n";
  };
  for (const auto& [name, value] : client_headers) {
    if (!Dropped(name, client_headers, extra)) add(name, value);
  }
  for (const auto& [name, value] : extra) add(name, value);
  head += "\r\n";
  return head;
}

bool IsWebSocketUpgrade(const http::Headers& headers) {
  return AnyHeaderHasToken(headers, "Upgrade", "websocket") &&
         AnyHeaderHasToken(headers, "Connection", "upgrade");
}

AnswerHead ParseAnswerHead(std::string_view bytes) {
  AnswerHead head;
  const size_t end = bytes.find("\r\n\r\n");
  if (end != std::string_view::npos) {
    head.complete = true;
    head.head_size = end + 4;
  }
  const size_t line_end = bytes.find("\r\n");
  if (line_end == std::string_view::npos) return head;
  std::string_view line = bytes.substr(0, line_end);
  for (char c : line) head.status_line += (c < 0x20 || c == 0x7f) ? '?' : c;
  // "HTTP/1.1 101 Switching Protocols": a version, one space, three digits, then SP or end.
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return head;
  if (line.size() > 12 && line[12] != ' ') return head;
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return head;
    status = status * 10 + (line[i] - '0');
  }
  head.valid = true;
  head.status = status;
  return head;
}

std::string FailureAnswer(int status, std::string_view message) {
  if (status < 400 || status > 599) status = 502;
  const std::string body =
      http::W3CErrorBody({ErrorCode::kUnavailable, std::string(message)});  // "unknown error"
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += http::ReasonPhrase(status);
  out += "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace gridhub::tunnel
