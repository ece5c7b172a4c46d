#pragma once

// One tunnel of a TunnelPump: the client's socket, the upstream's, a RelayBuffer per
// direction and the handshake in between. Driven by the pump's thread only: it is told which
// of its sockets became ready (edge-triggered epoll) and does the I/O that this allows, and it
// says whether it wants to be run again without a new event (kMore: it stopped to let other
// tunnels run) or is finished (kClosed: the pump closes it and reports on_closed).
//
//   Tunnel tunnel(id, epoll_fd, std::move(request), std::move(addresses), "", grace);
//   Tunnel::Step step = tunnel.Start(now);      // registers its sockets, starts connecting
//   step = tunnel.OnEvent(Tunnel::Side::kUpstream, EPOLLOUT, now);
//   if (tunnel.deadline() <= now) step = tunnel.OnDeadline(now);
//   tunnel.Close();                             // both descriptors; idempotent

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tunnel/relay_buffer.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::tunnel {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

struct SocketAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
};

class Tunnel {
 public:
  enum class Side : uint64_t { kClient = 0, kUpstream = 1 };
  enum class Step { kIdle, kMore, kClosed };

  // The epoll tag of one of a tunnel's sockets (never 0: ids start at 1).
  static uint64_t Tag(TunnelId id, Side side) { return id << 1 | static_cast<uint64_t>(side); }

  // `addresses`: the upstream's, tried in order; `resolve_error` non-empty: there is none.
  // `half_close_grace`: once open and one half is shut, the time the other side has to end.
  Tunnel(TunnelId id, int epoll_fd, TunnelRequest request, std::vector<SocketAddress> addresses,
         std::string resolve_error, std::chrono::milliseconds half_close_grace);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  Step Start(SteadyTime now);
  Step OnEvent(Side side, uint32_t events, SteadyTime now);
  Step Continue(SteadyTime now);  // after kMore
  Step OnDeadline(SteadyTime now);
  // Closes both descriptors (reports a handshake that never finished as failed).
  void Close();

  TunnelId id() const { return id_; }
  std::optional<SteadyTime> deadline() const { return deadline_; }
  // Bytes read and not yet written, both directions.
  size_t buffered() const { return to_upstream_.size() + to_client_.size(); }
  const TunnelEvents& events() const { return events_; }

 private:
  enum class Phase { kConnecting, kHandshake, kOpen, kFailing };
  struct Endpoint {
    int fd = -1;
    bool readable = false;  // edge seen, not yet read to EAGAIN
    bool writable = false;  // edge seen, not yet written to EAGAIN
    bool hangup = false;    // the peer's FIN (or an error) was signalled: read to EOF
    bool eof = false;       // its peer ended its stream
    bool shut = false;      // our sending half is shut
  };
  enum class Flushed { kOk, kError };

  Step Run();
  Step Connect();
  Step Connected();
  Step Handshake();
  Step Relay();
  Step Failing();
  Step Fail(int upstream_status, std::string reason);
  // Writes `buffer` to `to` while it takes bytes; counts relayed bytes for on_bytes.
  Flushed Flush(RelayBuffer& buffer, Endpoint& to, Direction direction);
  // One read from `from` into `buffer`, within kBufferSize; false on a socket error.
  bool ReadInto(Endpoint& from, RelayBuffer& buffer, bool& progress);
  bool Register(int fd, Side side);
  void CloseFd(Endpoint& endpoint);
  void Report(bool upgraded, int status, const std::string& reason);
  std::string UpstreamName() const;

  TunnelId id_;
  int epoll_fd_;
  TunnelEvents events_;
  Upstream upstream_address_;
  std::chrono::milliseconds handshake_timeout_;
  std::chrono::milliseconds half_close_grace_;
  int failure_status_;
  std::vector<SocketAddress> addresses_;
  size_t next_address_ = 0;
  std::string connect_error_;  // why the last address failed, or why there is none

  Phase phase_ = Phase::kConnecting;
  Endpoint client_;
  Endpoint upstream_;
  RelayBuffer to_upstream_;
  RelayBuffer to_client_;
  // Bytes at the front of each buffer that are not relayed traffic (the request head, the
  // upstream's answer head, our error answer): not counted by on_bytes.
  size_t uncounted_[2] = {0, 0};
  std::string answer_;  // the upstream's answer, while its head is incomplete
  // The handshake's, the failure linger's, or (open) the end of the half-close grace.
  std::optional<SteadyTime> deadline_;
  SteadyTime now_{};
  bool reported_ = false;
};

}  // namespace gridhub::tunnel
