#pragma once

// Upgraded connections (WebSocket: BiDi, CDP) relayed byte for byte between a client and an
// upstream (hub → node, node → driver or browser). One thread runs one epoll loop for every
// tunnel: an open socket costs no thread, two descriptors and at most kBufferSize bytes of
// user-space buffer per direction (a reader that does not keep up is back-pressured: its
// source is not read while its buffer is full). Frames are never parsed or rewritten; only the
// upstream's answer to the upgrade request is looked at (its status line).
//
//   TunnelPump pump;                       // starts its thread
//   TunnelId id = pump.Open({.client_fd = fd,            // taken over from the HTTP server
//                            .request_head = UpgradeRequestHead(...),
//                            .upstream = {"127.0.0.1", 9515},
//                            .events = {...}});
//   pump.Close(id);                        // e.g. the session ended; any thread, idempotent
//
// Life of a tunnel: connect to the upstream (non-blocking), send `request_head` (then any
// `client_early_bytes`), read the upstream's answer head (at most 16 KiB). A `101` answer is
// relayed to the client unchanged, with whatever followed it, and from then on bytes flow both
// ways. Anything else — refused, unreachable, timed out (`handshake_timeout`), an answer other
// than 101, a head too large — is answered to the client by the pump itself with a W3C error
// (`failure_status`, default 502, message naming the cause and the upstream's status line) and
// both sockets are closed. When one side ends its stream (EOF), the other side's sending half is
// shut once its buffer is flushed; when both have ended, or on any socket error, both are closed.
// A tunnel left half open (one half shut, the other side never ending its stream: e.g. a client
// that does not close after the node's close frame and FIN) is closed once the half-close grace
// (`half_close_grace`, default kHalfCloseGrace) has passed since the first half was shut.
// Every tunnel reports on_closed exactly once, whatever ends it (also ~TunnelPump).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/http_types.h"

namespace gridhub::tunnel {

using TunnelId = uint64_t;  // never 0

enum class Direction { kToUpstream, kToClient };

struct Upstream {
  std::string host;  // a numeric IPv4/IPv6 address or a name (getaddrinfo, on Open's thread)
  uint16_t port = 0;
};

// Callbacks run on the pump's thread; they must be quick and must not call back into the pump
// except Close() (allowed).
struct TunnelEvents {
  // Once, when the upstream's answer is known: true with 101 (bytes now flow), false otherwise
  // (`upstream_status` 0 when there was no answer; `reason` says why). Every tunnel reports
  // it exactly once, before on_closed: one closed (Close(), ~TunnelPump) before the upstream
  // answered reports false, 0, "closed before the upstream answered".
  std::function<void(bool upgraded, int upstream_status, const std::string& reason)> on_handshake;
  // Bytes relayed after the handshake (written to the destination socket), per direction.
  std::function<void(Direction direction, size_t bytes)> on_bytes;
  // Exactly once, after both descriptors are closed.
  std::function<void()> on_closed;
};

struct TunnelRequest {
  int client_fd = -1;              // owned by the pump from Open() on, even when Open fails
  std::string client_early_bytes;  // bytes the client sent after its request head
  std::string request_head;  // the complete head sent upstream ("GET ... HTTP/1.1\r\n...\r\n\r\n")
  Upstream upstream;
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  int failure_status = 502;
  TunnelEvents events;
};

// Builds the upgrade request sent upstream: `GET target HTTP/1.1`, `Host: host_port`, the
// client's `Upgrade`, `Connection: Upgrade`, every `Sec-WebSocket-*` header and the other
// end-to-end headers of the client's request, except `Authorization`, `Host`, `Origin` and the
// hop-by-hop ones, then `extra` (e.g. X-Registration-Secret). Header values with CR, LF or NUL
// are dropped.
std::string UpgradeRequestHead(const http::Headers& client_headers, std::string_view target,
                               std::string_view host_port, const http::Headers& extra = {});

// Whether a request asks for a WebSocket upgrade (`Upgrade: websocket`, case-insensitive, and
// `Connection` naming `upgrade` among its tokens).
bool IsWebSocketUpgrade(const http::Headers& headers);

// Thread-safe. Open, Close and the accessors may be called from any thread, also from the
// callbacks, but not once the destructor has begun.
class TunnelPump {
 public:
  static constexpr size_t kBufferSize = size_t{64} << 10;
  // A WebSocket close handshake (close frame each way, then FINs) takes milliseconds; 10 s
  // leaves room for a slow network or a client paused in garbage collection, and is short
  // next to a session, so a client that never closes holds two descriptors for seconds only.
  static constexpr std::chrono::milliseconds kHalfCloseGrace = std::chrono::seconds(10);

  // `half_close_grace`: how long a tunnel may stay half open (tests use a short one).
  explicit TunnelPump(std::chrono::milliseconds half_close_grace = kHalfCloseGrace);
  ~TunnelPump();  // closes every tunnel (each reports on_closed) and joins the thread
  TunnelPump(const TunnelPump&) = delete;
  TunnelPump& operator=(const TunnelPump&) = delete;

  TunnelId Open(TunnelRequest request);
  // Closes both sockets at once (the client sees the connection end). Unknown or closed: no-op.
  void Close(TunnelId id);
  // Tunnels not yet closed (handshaking or open).
  size_t open_count() const;
  // Bytes read from one side and not yet written to the other, all tunnels together (each
  // direction holds at most kBufferSize once open; tests and metrics).
  size_t buffered_bytes() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gridhub::tunnel
