#include "tunnel/tunnel.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "tunnel/handshake.h"

namespace gridhub::tunnel {

namespace {

// A socket that would not stop giving bytes is left after this many buffers per run, so one
// busy tunnel cannot starve the others on the pump's thread (it is run again at once).
constexpr int kRoundsPerRun = 16;
// After a failure answer our sending side is shut and the client's input is read and dropped
// this long, so it reads the answer rather than a reset; then the socket is closed.
constexpr auto kLinger = std::chrono::seconds(2);

size_t Index(Direction direction) { return direction == Direction::kToUpstream ? 0 : 1; }

bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK; }

void NoDelay(int fd) {
  // Small WebSocket messages go out at once (fails harmlessly on a socketpair).
  int on = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

}  // namespace

Tunnel::Tunnel(TunnelId id, int epoll_fd, TunnelRequest request,
               std::vector<SocketAddress> addresses, std::string resolve_error,
               std::chrono::milliseconds half_close_grace)
    : id_(id),
      epoll_fd_(epoll_fd),
      events_(std::move(request.events)),
      upstream_address_(std::move(request.upstream)),
      handshake_timeout_(request.handshake_timeout),
      half_close_grace_(half_close_grace),
      failure_status_(request.failure_status),
      addresses_(std::move(addresses)),
      connect_error_(std::move(resolve_error)) {
  client_.fd = request.client_fd;
  client_.writable = true;  // until a send says otherwise
  uncounted_[Index(Direction::kToUpstream)] = request.request_head.size();
  to_upstream_.Append(request.request_head);
  to_upstream_.Append(request.client_early_bytes);
}

Tunnel::~Tunnel() { Close(); }

std::string Tunnel::UpstreamName() const {
  const std::string& host = upstream_address_.host;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(upstream_address_.port);
}

bool Tunnel::Register(int fd, Side side) {
  epoll_event event{};
  // Edge-triggered: a socket is read (or written) until EAGAIN once it is ready, and simply
  // not read while its destination's buffer is full — the kernel's buffers fill and TCP's
  // window closes towards the sender. No interest is changed as buffers fill and drain.
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.u64 = Tag(id_, side);
  return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
}

void Tunnel::CloseFd(Endpoint& endpoint) {
  if (endpoint.fd < 0) return;
  (void)::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, endpoint.fd, nullptr);
  ::close(endpoint.fd);
  endpoint = Endpoint{};
}

void Tunnel::Close() {
  CloseFd(client_);
  CloseFd(upstream_);
  to_upstream_.Clear();
  to_client_.Clear();
  Report(false, 0, "closed before the upstream answered");
}

void Tunnel::Report(bool upgraded, int status, const std::string& reason) {
  if (reported_) return;
  reported_ = true;
  if (!events_.on_handshake) return;
  try {
    events_.on_handshake(upgraded, status, reason);
  } catch (...) {
    log::Error("tunnel.callback_failed", "tunnel on_handshake failed");
  }
}

Tunnel::Step Tunnel::Start(SteadyTime now) {
  now_ = now;
  deadline_ = now + handshake_timeout_;
  if (client_.fd < 0 || !Register(client_.fd, Side::kClient)) {
    Report(false, 0, "no client connection");
    return Step::kClosed;
  }
  NoDelay(client_.fd);
  if (addresses_.empty()) {
    return Fail(0, "cannot resolve upstream " + UpstreamName() + ": " + connect_error_);
  }
  return Connect();
}

// Tries the upstream's addresses in order until one connects (or is connecting).
Tunnel::Step Tunnel::Connect() {
  while (next_address_ < addresses_.size()) {
    const SocketAddress& address = addresses_[next_address_++];
    const int fd =
        ::socket(address.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      connect_error_ = std::strerror(errno);
      continue;
    }
    NoDelay(fd);
    const int result =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&address.address), address.length);
    if ((result == 0 || errno == EINPROGRESS) && Register(fd, Side::kUpstream)) {
      upstream_.fd = fd;
      phase_ = Phase::kConnecting;
      return Step::kIdle;  // writable once connected (or failed: then SO_ERROR says why)
    }
    connect_error_ = std::strerror(errno);
    ::close(fd);
  }
  return Fail(0, "cannot connect to upstream " + UpstreamName() + ": " + connect_error_);
}

Tunnel::Step Tunnel::OnEvent(Side side, uint32_t events, SteadyTime now) {
  now_ = now;
  Endpoint& endpoint = side == Side::kClient ? client_ : upstream_;
  // Errors and hang-ups show as readable and writable: the next recv or send says what.
  const uint32_t broken = EPOLLERR | EPOLLHUP;
  if (events & (EPOLLIN | EPOLLRDHUP | broken)) endpoint.readable = true;
  if (events & (EPOLLRDHUP | broken)) endpoint.hangup = true;
  if (events & (EPOLLOUT | broken)) endpoint.writable = true;
  return Run();
}

Tunnel::Step Tunnel::Continue(SteadyTime now) {
  now_ = now;
  return Run();
}

Tunnel::Step Tunnel::OnDeadline(SteadyTime now) {
  now_ = now;
  if (!deadline_ || now < *deadline_) return Step::kIdle;
  deadline_.reset();
  // Lingered after a failure answer, or left half open past the grace: close both.
  if (phase_ == Phase::kFailing || phase_ == Phase::kOpen) return Step::kClosed;
  return Fail(0, "upstream " + UpstreamName() + " did not answer the upgrade within " +
                     std::to_string(handshake_timeout_.count()) + " ms");
}

Tunnel::Step Tunnel::Run() {
  switch (phase_) {
    case Phase::kConnecting:
      if (!upstream_.writable) return Step::kIdle;
      return Connected();
    case Phase::kHandshake:
      return Handshake();
    case Phase::kOpen:
      return Relay();
    case Phase::kFailing:
      return Failing();
  }
  return Step::kIdle;
}

Tunnel::Step Tunnel::Connected() {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(upstream_.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    connect_error_ = std::strerror(error);
    CloseFd(upstream_);
    return Connect();  // the next address, if any
  }
  phase_ = Phase::kHandshake;
  return Handshake();
}

// Sends the request head (and early bytes), reads the answer head; 101 opens the tunnel.
Tunnel::Step Tunnel::Handshake() {
  // A send that fails (the upstream closed early) still lets its answer, if any, be read.
  bool eof = Flush(to_upstream_, upstream_, Direction::kToUpstream) == Flushed::kError;
  if (eof) upstream_.readable = true;
  while (upstream_.readable && answer_.size() < kMaxAnswerHead) {
    char buffer[kMaxAnswerHead];
    const ssize_t n = ::recv(upstream_.fd, buffer, kMaxAnswerHead - answer_.size(), 0);
    if (n > 0) {
      answer_.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      eof = true;
      break;
    } else if (WouldBlock()) {
      upstream_.readable = false;
    } else {
      eof = true;  // reset: nothing more will come
      break;
    }
  }
  const AnswerHead head = ParseAnswerHead(answer_);
  if (!head.complete) {
    if (eof) {
      return Fail(head.status,
                  "upstream " + UpstreamName() + " closed the connection before " +
                      (answer_.empty() ? "answering the upgrade"
                                       : "completing its answer: " + head.status_line));
    }
    if (answer_.size() >= kMaxAnswerHead) {
      return Fail(head.status, "upstream " + UpstreamName() + " answered with a head over 16 KiB");
    }
    return Step::kIdle;
  }
  if (!head.valid || head.status != 101) {
    return Fail(head.status,
                "upstream " + UpstreamName() + " refused the upgrade: " + head.status_line);
  }
  uncounted_[Index(Direction::kToClient)] = head.head_size;
  to_client_.Append(answer_);  // the 101 head and whatever followed it
  std::string().swap(answer_);
  upstream_.eof = eof;
  phase_ = Phase::kOpen;
  deadline_.reset();
  Report(true, 101, "");
  return Relay();
}

Tunnel::Flushed Tunnel::Flush(RelayBuffer& buffer, Endpoint& to, Direction direction) {
  size_t relayed = 0;
  while (to.writable && !buffer.empty()) {
    std::string_view pending = buffer.pending();
    const ssize_t n = ::send(to.fd, pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (WouldBlock()) {
        to.writable = false;
        break;
      }
      return Flushed::kError;
    }
    buffer.Consume(static_cast<size_t>(n));
    size_t& skip = uncounted_[Index(direction)];
    const size_t skipped = std::min(skip, static_cast<size_t>(n));
    skip -= skipped;
    relayed += static_cast<size_t>(n) - skipped;
  }
  if (relayed > 0 && events_.on_bytes) {
    try {
      events_.on_bytes(direction, relayed);
    } catch (...) {
      log::Error("tunnel.callback_failed", "tunnel on_bytes failed");
    }
  }
  return Flushed::kOk;
}

bool Tunnel::ReadInto(Endpoint& from, RelayBuffer& buffer, bool& progress) {
  const size_t room = buffer.room(TunnelPump::kBufferSize);
  if (!from.readable || from.eof || room == 0) return true;
  const ssize_t n = ::recv(from.fd, buffer.PrepareRead(room), room, 0);
  buffer.CommitRead(n > 0 ? static_cast<size_t>(n) : 0);
  if (n > 0) {
    progress = true;
    // A short read of a stream socket means its buffer is empty now (epoll(7)): the next
    // bytes bring a new edge, so the EAGAIN read is saved. Not once a FIN was signalled: that
    // edge is gone, the EOF must be read.
    if (static_cast<size_t>(n) < room && !from.hangup) from.readable = false;
  } else if (n == 0) {
    from.eof = true;
    progress = true;
  } else if (WouldBlock()) {
    from.readable = false;
  } else {
    return false;
  }
  return true;
}

// Both directions: write what is held, shut the destination's sending half once its source
// has ended and all is written, read while there is room. Closed when both halves are shut
// (or, by OnDeadline, when the half-close grace passes with only one shut).
Tunnel::Step Tunnel::Relay() {
  for (int round = 0; round < kRoundsPerRun; ++round) {
    bool progress = false;
    for (Direction direction : {Direction::kToUpstream, Direction::kToClient}) {
      const bool up = direction == Direction::kToUpstream;
      Endpoint& from = up ? client_ : upstream_;
      Endpoint& to = up ? upstream_ : client_;
      RelayBuffer& buffer = up ? to_upstream_ : to_client_;
      const size_t before = buffer.size();
      if (Flush(buffer, to, direction) == Flushed::kError)
        return Step::kClosed;  // reset: the other side sees its connection close
      progress = progress || buffer.size() != before;
      if (buffer.empty() && from.eof && !to.shut) {
        ::shutdown(to.fd, SHUT_WR);
        to.shut = true;
        // The other side has the grace to end its stream too (a peer that never does would
        // hold both descriptors until its session ends); the first half shut starts it.
        if (!deadline_) deadline_ = now_ + half_close_grace_;
      }
      if (!ReadInto(from, buffer, progress)) return Step::kClosed;
    }
    if (client_.shut && upstream_.shut) return Step::kClosed;
    if (!progress) return Step::kIdle;
  }
  return Step::kMore;
}

Tunnel::Step Tunnel::Fail(int upstream_status, std::string reason) {
  Report(false, upstream_status, reason);
  CloseFd(upstream_);
  std::string().swap(answer_);
  to_upstream_.Clear();
  to_client_.Clear();
  const std::string answer = FailureAnswer(failure_status_, reason);
  to_client_.Append(answer);
  uncounted_[Index(Direction::kToClient)] = answer.size();
  phase_ = Phase::kFailing;
  deadline_ = now_ + kLinger;
  return Failing();
}

// Writes the failure answer, shuts our side, drops what the client still sends until it
// closes or the linger deadline passes.
Tunnel::Step Tunnel::Failing() {
  if (Flush(to_client_, client_, Direction::kToClient) == Flushed::kError) return Step::kClosed;
  if (!to_client_.empty()) return Step::kIdle;
  if (!client_.shut) {
    ::shutdown(client_.fd, SHUT_WR);
    client_.shut = true;
  }
  for (int round = 0; client_.readable && round < kRoundsPerRun; ++round) {
    char buffer[4096];
    const ssize_t n = ::recv(client_.fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && !WouldBlock())) return Step::kClosed;
    if (n < 0) client_.readable = false;
  }
  return client_.readable ? Step::kMore : Step::kIdle;
}

}  // namespace gridhub::tunnel
