#include "tunnel/tunnel_pump.h"

#include <unistd.h>

// SKELETON (issue 11, being written): every Open() fails at once. Replaced by the epoll pump.

namespace gridhub::tunnel {

struct TunnelPump::State {};

std::string UpgradeRequestHead(const http::Headers&, std::string_view, std::string_view,
                               const http::Headers&) {
  return {};
}

bool IsWebSocketUpgrade(const http::Headers&) { return false; }

TunnelPump::TunnelPump() : state_(std::make_unique<State>()) {}
TunnelPump::~TunnelPump() = default;

TunnelId TunnelPump::Open(TunnelRequest request) {
  if (request.client_fd >= 0) ::close(request.client_fd);
  if (request.events.on_handshake) request.events.on_handshake(false, 0, "not implemented");
  if (request.events.on_closed) request.events.on_closed();
  return 1;
}

void TunnelPump::Close(TunnelId) {}
size_t TunnelPump::open_count() const { return 0; }

}  // namespace gridhub::tunnel
