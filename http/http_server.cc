#include "http/http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <pistache/listener.h>
#include <pistache/mailbox.h>
#include <pistache/os.h>
#include <pistache/peer.h>
#include <pistache/string_logger.h>
#include <pistache/tcp.h>
#include <pistache/transport.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <thread>

#include "common/log.h"
#include "common/mutex.h"
#include "http/connection_clock.h"
#include "http/reactor_client.h"
#include "http/request_head.h"
#include "http/w3c_error.h"

namespace gridhub::http {

namespace {

using Pistache::Tcp::Peer;
using SteadyClock = std::chrono::steady_clock;

// How often each reactor thread looks for connections over their time limits.
constexpr auto kTick = std::chrono::milliseconds(250);
// After a final answer our side is shut (FIN) and input is still read and dropped for this
// long, so the client reads the answer instead of a reset; then the connection is closed.
constexpr auto kLinger = std::chrono::seconds(2);
// Bytes a client may send after a request that asks for an upgrade, before the handler has
// detached the connection (or answered instead); beyond this the connection is dropped.
constexpr size_t kMaxEarlyBytes = size_t{64} << 10;
// Answers written to a connection but not yet taken by its socket. A client that pipelines
// requests and never reads would otherwise make us queue answers without end: past this, no
// further request of that connection is served and it closes after what is queued.
constexpr size_t kMaxUnwritten = size_t{4} << 20;

// Lets Stop() wait for queued responses to reach the socket and keeps late Send() calls (from
// the hub's dispatcher or the curl thread) away from a transport that is being torn down.
// Senders hold `mu` shared (they run at once); Stop() takes it exclusively, once.
struct Gate {
  SharedMutex mu;
  bool open GUARDED_BY(mu) = true;
  Mutex flight_mu;
  std::condition_variable_any flight_cv;
  int in_flight GUARDED_BY(flight_mu) = 0;

  void WriteStarted() {
    MutexLock lock(flight_mu);
    ++in_flight;
  }
  void WriteFinished() {
    MutexLock lock(flight_mu);
    --in_flight;
    flight_cv.notify_all();
  }
};

class ServerTransport;

// An answer on its way to the socket: the head, and the body apart from it, so that a large
// body is written from the string the handler gave (one writev per batch), never copied into
// a head-and-body buffer or into Pistache's write queue.
struct PendingWrite {
  std::string head;
  std::string body;
  size_t written = 0;  // of head + body
  bool close = false;  // the connection's final answer: shut our side once it is written
  size_t size() const { return head.size() + body.size(); }
};

// One client connection. Created when it is accepted, on the reactor thread that owns it;
// everything but `mu`'s fields and `gone` is touched only there.
struct Connection {
  Connection(HeadLimits limits, SteadyTime accepted) : framer(limits), clock(accepted) {}

  RequestFramer framer;
  ConnectionClock clock;
  std::weak_ptr<Peer> peer;
  ServerTransport* transport = nullptr;
  uint64_t id = 0;
  std::string peer_address;
  bool closing = false;  // a final answer is on its way: later input is read and dropped
  std::optional<SteadyTime> linger_until;  // our side is shut; closed outright then
  // Over server.max-connections: answered 503, not counted, closed as soon as that is written.
  bool refused = false;
  // Bytes of answers given (Post) and not yet taken by the socket; any thread adds.
  std::atomic<size_t> unwritten{0};
  // Items posted to the outbox for this connection and not yet delivered: an answer given on
  // the reactor thread is written at once only when none waits ahead of it (a 100 Continue).
  std::atomic<int> queued{0};
  // A request asking for an upgrade was dispatched: what follows its head is not HTTP and is
  // kept, unframed, in `early` for Responder::Detach (or dropped with the connection when the
  // handler answers instead). `dropped`: more than kMaxEarlyBytes came; a Detach is refused.
  bool upgrade_pending = false;
  bool dropped = false;
  std::string early;
  // A Detach waiting for earlier answers on this connection to be written.
  std::function<void(DetachedConnection)> parked_detach;
  // Answers taken from the outbox and not yet wholly written, oldest first (ServerTransport's
  // own write path: Flush). `want_write`: the descriptor is polled for writability too.
  std::deque<PendingWrite> writes;
  bool want_write = false;

  Mutex mu;
  int outstanding GUARDED_BY(mu) = 0;       // requests awaiting their answer
  bool close_after GUARDED_BY(mu) = false;  // the pending answer closes the connection
  std::atomic<bool> gone{false};            // the client's connection has closed
};

constexpr const char* kConnectionKey = "gridhub.connection";

std::shared_ptr<Connection> ConnectionOf(const std::shared_ptr<Peer>& peer) {
  return std::static_pointer_cast<Connection>(peer->tryGetData(kConnectionKey));
}

// Hop-by-hop headers describe one connection; they are never copied onto a response, and
// framing headers are ours to write.
bool HopByHop(std::string_view name) {
  for (std::string_view h :
       {"Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Content-Length"}) {
    if (EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

struct WireOptions {
  bool close = false;       // announce and do close
  bool keep_alive = false;  // an HTTP/1.0 client asked to keep the connection
  bool head = false;        // answer to HEAD: headers only
};

// An answer as it goes on the wire: the head, and the body kept apart from it (see PendingWrite).
struct WireAnswer {
  std::string head;
  std::string body;
};

WireAnswer Serialize(int status, std::string body, const Headers& headers,
                     std::string_view content_type, const WireOptions& wire) {
  if (status < 100 || status > 999) status = 500;
  const bool no_body = status < 200 || status == 204 || status == 304;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out += ReasonPhrase(status);
  out += "\r\n";
  for (const auto& [name, value] : headers) {
    if (HopByHop(name) || !SafeForWire(name) || !SafeForWire(value)) continue;
    if (EqualsIgnoreCase(name, "Content-Type")) continue;
    out += name + ": " + value + "\r\n";
  }
  if (!content_type.empty() && SafeForWire(content_type)) {
    out += "Content-Type: " + std::string(content_type) + "\r\n";
  }
  if (status != 204 && status >= 200) {
    out += "Content-Length: " + std::to_string(no_body ? 0 : body.size()) + "\r\n";
  }
  // Say only what is true: HTTP/1.1 keeps the connection by default; close is announced only
  // when it really closes.
  if (wire.close) {
    out += "Connection: close\r\n";
  } else if (wire.keep_alive) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (no_body || wire.head) body.clear();
  return {std::move(out), std::move(body)};
}

WireAnswer ErrorAnswer(int status, ErrorCode code, std::string message) {
  return Serialize(status, W3CErrorBody({code, std::move(message)}), {},
                   "application/json; charset=utf-8", {.close = true});
}

ErrorCode CodeFor(int status) {
  switch (status) {
    case 413:
      return ErrorCode::kPayloadTooLarge;
    case 408:
      return ErrorCode::kTimeout;
    case 503:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInvalidArgument;
  }
}

struct Callbacks {
  RequestHandler on_request;
  DisconnectHandler on_disconnect;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  HeadLimits head_limits;
  TimeLimits time_limits;
  size_t max_connections = 4096;  // in force; set by Start()
  std::atomic<size_t> open_connections{0};
};

// Bytes for one connection, handed to its reactor thread: every answer goes out through this
// one queue, so answers leave in the order they were given and the descriptor is used only on
// the thread that may close it.
struct Outgoing {
  Outgoing(std::shared_ptr<Connection> c, std::string h, bool cl,
           std::function<void(DetachedConnection)> d = nullptr)
      : connection(std::move(c)), head(std::move(h)), close(cl), detach(std::move(d)) {}
  Outgoing(std::shared_ptr<Connection> c, WireAnswer answer, bool cl)
      : connection(std::move(c)),
        head(std::move(answer.head)),
        body(std::move(answer.body)),
        close(cl) {}

  size_t size() const { return head.size() + body.size(); }

  std::shared_ptr<Connection> connection;
  std::string head;
  std::string body;
  bool close = false;
  // Set: not an answer but Responder::Detach's hand-off, ordered behind the answers before it.
  std::function<void(DetachedConnection)> detach;
};

class ServerHandler;

// Pistache's TCP transport (accepting, reading) plus what its HTTP endpoint would have added,
// done our way: a tick that enforces our time limits on this thread's connections (Pistache's
// own timers answer 408 to requests we hold on purpose), the outbox above, and the writes.
// Answers are written here, not through Pistache's asyncWrite, which copies every buffer it is
// given (BufferHolder keeps a copy of the RawBuffer) and copies what is left again each time a
// write would block, and which allocates a promise per write: a 5 MB screenshot went through
// three or more copies. Flush writes the head and the handler's body string as they are.
class ServerTransport final : public Pistache::Tcp::Transport {
 public:
  explicit ServerTransport(const std::shared_ptr<ServerHandler>& handler);
  ~ServerTransport() override;

  void registerPoller(Pistache::Polling::Epoll& poller) override;
  void onReady(const Pistache::Aio::FdSet& fds) override;
  std::shared_ptr<Pistache::Aio::Handler> clone() const override;

  // Any thread.
  void Post(Outgoing item);
  // Whether this runs on the reactor thread, inside one of this transport's events.
  bool OnOwnThread() const;
  // Reactor thread (OnOwnThread()): what Post would queue, delivered at the end of this
  // onReady without the outbox's hand-off. Not at once: the requests read in this batch are
  // all dispatched before their answers are written, so a client pipelining without reading
  // meets the unwritten-bytes bound (kMaxUnwritten) as it did through the outbox, instead of
  // the kernel's buffers first absorbing a race-dependent share of it.
  void PostHere(Outgoing item);
  // The reactor thread's outbound client (reactor_client.h); null once the transport is going.
  ReactorClient* client() { return client_.get(); }
  // Reactor thread: closes at once (the client is told nothing more).
  void Remove(const std::shared_ptr<Peer>& peer);
  // Reactor thread: forgets answers that will never be written (the connection is going).
  void DropWrites(const std::shared_ptr<Connection>& connection);

 private:
  void Drain();
  // Delivers what PostHere kept, in the order given (reactor thread).
  void DeliverHere();
  void Deliver(Outgoing item);
  void HandOff(const std::shared_ptr<Connection>& connection, const std::shared_ptr<Peer>& peer,
               std::function<void(DetachedConnection)> take);
  void Tick();
  // Writes what the socket takes of `connection`'s pending answers; polls for writability
  // while some remain. A write that fails drops them and closes the connection at the next
  // tick (its reading side reports the client's end too).
  void Flush(const std::shared_ptr<Connection>& connection, const std::shared_ptr<Peer>& peer);
  void WantWrite(const std::shared_ptr<Connection>& connection, Pistache::Fd fd, bool want);
  // An answer wholly written: its accounting, the linger after a final one, a parked Detach.
  void Written(const std::shared_ptr<Connection>& connection, const std::shared_ptr<Peer>& peer,
               const PendingWrite& write);

  // ReactorClient's descriptors, in this reactor's epoll beside the client connections.
  class ClientLoop final : public ReactorClient::Loop {
   public:
    explicit ClientLoop(ServerTransport* transport) : transport_(transport) {}
    void Watch(int fd) override;
    void Forget(int fd) override;

   private:
    ServerTransport* transport_;
  };

  std::shared_ptr<ServerHandler> handler_;
  std::shared_ptr<Callbacks> callbacks_;
  ClientLoop client_loop_{this};
  std::unique_ptr<ReactorClient> client_ = std::make_unique<ReactorClient>(&client_loop_);
  Pistache::PollableQueue<Outgoing> outbox_;
  // PostHere's answers of the running onReady (reactor thread).
  std::vector<Outgoing> here_;
  int timer_fd_ = -1;
  // onReady's events for the base transport, reused from batch to batch (reactor thread).
  std::vector<Pistache::Polling::Event> for_base_;
};

// Sees every connection open, every read and every close, on the reactor thread.
class ServerHandler final : public Pistache::Tcp::Handler {
 public:
  explicit ServerHandler(std::shared_ptr<Callbacks> callbacks) : callbacks_(std::move(callbacks)) {}

  std::shared_ptr<Pistache::Tcp::Handler> clone() const override {
    return std::make_shared<ServerHandler>(callbacks_);
  }
  const std::shared_ptr<Callbacks>& callbacks() const { return callbacks_; }

  void onConnection(const std::shared_ptr<Peer>& peer) override;
  void onInput(const char* buffer, size_t len, const std::shared_ptr<Peer>& peer) override;
  void onDisconnection(const std::shared_ptr<Peer>& peer) override;

 private:
  ServerTransport* own() { return static_cast<ServerTransport*>(transport()); }
  void Dispatch(const std::shared_ptr<Connection>& connection, FramedRequest request);
  void KeepEarly(const std::shared_ptr<Connection>& connection, std::string_view input);
  void Reject(const std::shared_ptr<Connection>& connection, int status, std::string message);

  std::shared_ptr<Callbacks> callbacks_;
};

}  // namespace

struct Responder::Impl {
  std::shared_ptr<Connection> connection;
  std::shared_ptr<Gate> gate;
  WireOptions wire;  // close: the client asked for it (or spoke HTTP/1.0)
  Mutex mu;
  bool sent GUARDED_BY(mu) = false;

  ~Impl() {
    // A request nobody answered would leave its client hanging forever. (No lock: the last
    // reference is going, nobody else can look.)
    if (!sent) {
      SendNow(500, W3CErrorBody({ErrorCode::kInternal, "request dropped without an answer"}), {},
              "application/json; charset=utf-8");
    }
  }

  bool SendNow(int status, std::string body, const Headers& headers,
               std::string_view content_type) {
    {
      MutexLock lock(mu);
      if (sent) return false;
      sent = true;
    }
    WireOptions options = wire;
    {
      MutexLock lock(connection->mu);
      connection->outstanding--;
      options.close = options.close || connection->close_after;
    }
    ReaderMutexLock gate_lock(gate->mu);
    if (!gate->open || connection->gone.load()) return false;
    Outgoing item{connection, Serialize(status, std::move(body), headers, content_type, options),
                  options.close};
    ServerTransport* transport = connection->transport;
    // On the thread that owns the connection, with nothing queued ahead: written now, not
    // handed through the outbox to this same thread.
    if (transport->OnOwnThread() && connection->queued.load() == 0) {
      transport->PostHere(std::move(item));
    } else {
      transport->Post(std::move(item));
    }
    return true;
  }

  bool DetachNow(std::function<void(DetachedConnection)> take) {
    {
      MutexLock lock(mu);
      if (sent) return false;
      sent = true;
    }
    {
      MutexLock lock(connection->mu);
      connection->outstanding--;
    }
    ReaderMutexLock gate_lock(gate->mu);
    if (!gate->open || connection->gone.load()) return false;
    connection->transport->Post({connection, "", false, std::move(take)});
    return true;
  }
};

bool Responder::Send(int status, std::string body, const Headers& headers,
                     std::string_view content_type) {
  if (impl_ == nullptr) return false;
  return impl_->SendNow(status, std::move(body), headers, content_type);
}

bool Responder::Detach(std::function<void(DetachedConnection)> take) {
  if (impl_ == nullptr || !take) return false;
  return impl_->DetachNow(std::move(take));
}

bool Responder::PeerConnected() const {
  if (impl_ == nullptr) return false;
  MutexLock lock(impl_->mu);
  return !impl_->sent && !impl_->connection->gone.load();
}

bool Responder::sent() const {
  if (impl_ == nullptr) return true;
  MutexLock lock(impl_->mu);
  return impl_->sent;
}

uint64_t Responder::connection_id() const { return impl_ == nullptr ? 0 : impl_->connection->id; }

namespace {

ServerTransport::ServerTransport(const std::shared_ptr<ServerHandler>& handler)
    : Pistache::Tcp::Transport(handler), handler_(handler), callbacks_(handler->callbacks()) {}

ServerTransport::~ServerTransport() {
  // Its requests in flight end ("client stopped") and its sockets close, before the peers go.
  client_.reset();
  // Pistache's transport forgets its connections without closing them.
  for (const auto& [fd, peer] : peers) ::close(fd);
  if (timer_fd_ >= 0) ::close(timer_fd_);
}

void ServerTransport::registerPoller(Pistache::Polling::Epoll& poller) {
  Pistache::Tcp::Transport::registerPoller(poller);
  outbox_.bind(poller);
  timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) throw std::runtime_error("timerfd_create failed");
  itimerspec spec{};
  spec.it_interval.tv_nsec = std::chrono::nanoseconds(kTick).count();
  spec.it_value = spec.it_interval;
  ::timerfd_settime(timer_fd_, 0, &spec, nullptr);
  poller.addFd(timer_fd_,
               Pistache::Flags<Pistache::Polling::NotifyOn>(Pistache::Polling::NotifyOn::Read),
               Pistache::Polling::Tag(static_cast<uint64_t>(timer_fd_)));
}

// The transport whose event this thread is running (Responder's fast path asks).
thread_local const ServerTransport* running_transport = nullptr;

bool ServerTransport::OnOwnThread() const { return running_transport == this; }

void ServerTransport::ClientLoop::Watch(int fd) {
  using Pistache::Polling::NotifyOn;
  transport_->reactor()->registerFd(transport_->key(), fd,
                                    NotifyOn::Read | NotifyOn::Write | NotifyOn::Shutdown,
                                    Pistache::Polling::Mode::Edge);
}

void ServerTransport::ClientLoop::Forget(int fd) {
  transport_->reactor()->removeFd(transport_->key(), fd);
}

void ServerTransport::onReady(const Pistache::Aio::FdSet& fds) {
  using Pistache::Polling::NotifyOn;
  // Handlers and completions that run below find this reactor's client and write answers
  // for this transport's connections directly.
  ReactorClient::Scope scope(client_.get());
  struct Running {
    explicit Running(const ServerTransport* t) : outer(running_transport) { running_transport = t; }
    ~Running() { running_transport = outer; }
    const ServerTransport* outer;
  } running(this);
  // The base sees every event but writability, which only our writes ask for: it would take a
  // writable descriptor for one of its own queued writes and throw when it finds none.
  std::vector<Pistache::Polling::Event>& for_base = for_base_;
  for_base.clear();
  for (const auto& entry : fds) {
    if (entry.getTag() == outbox_.tag()) {
      Drain();
    } else if (entry.getTag() == Pistache::Polling::Tag(static_cast<uint64_t>(timer_fd_))) {
      uint64_t expirations = 0;
      (void)!::read(timer_fd_, &expirations, sizeof expirations);
      Tick();
    } else if (client_->Owns(static_cast<int>(entry.getTag().value()))) {
      // An outbound socket of ReactorClient: never the base's.
      client_->OnEvent(static_cast<int>(entry.getTag().value()));
      continue;
    } else if (entry.isWritable()) {
      auto it = peers.find(static_cast<Pistache::Fd>(entry.getTag().value()));
      std::shared_ptr<Connection> connection =
          it == peers.end() ? nullptr : ConnectionOf(it->second);
      if (connection != nullptr) Flush(connection, it->second);
    }
    if (!entry.isReadable() && !entry.isHangup()) continue;
    Pistache::Polling::Event event(entry.getTag());
    if (entry.isReadable()) event.flags.setFlag(NotifyOn::Read);
    if (entry.isHangup()) event.flags.setFlag(NotifyOn::Hangup);
    for_base.push_back(std::move(event));
  }
  // The base ignores the outbox and the timer: they are neither peers nor its timers.
  Pistache::Tcp::Transport::onReady(Pistache::Aio::FdSet(std::move(for_base)));
  for_base.clear();  // moved-from events; the buffer is kept for the next batch
  client_->RunCompletions();
  DeliverHere();
}

std::shared_ptr<Pistache::Aio::Handler> ServerTransport::clone() const {
  return std::make_shared<ServerTransport>(
      std::static_pointer_cast<ServerHandler>(handler_->clone()));
}

void ServerTransport::Post(Outgoing item) {
  callbacks_->gate->WriteStarted();
  item.connection->unwritten += item.size();
  ++item.connection->queued;
  outbox_.push(std::move(item));
}

void ServerTransport::PostHere(Outgoing item) {
  callbacks_->gate->WriteStarted();
  item.connection->unwritten += item.size();
  ++item.connection->queued;
  here_.push_back(std::move(item));
}

void ServerTransport::DeliverHere() {
  // Delivering may answer again on this thread (and so add to here_): taken in rounds.
  while (!here_.empty()) {
    std::vector<Outgoing> batch;
    batch.swap(here_);
    for (Outgoing& item : batch) Deliver(std::move(item));
  }
}

void ServerTransport::Drain() {
  // What was given on this thread before anything now in the outbox goes first: a Send that
  // found this connection's item still in here_ took the outbox (its `queued` was not 0).
  DeliverHere();
  while (std::unique_ptr<Outgoing> item = outbox_.popSafe()) Deliver(std::move(*item));
}

void BeginLinger(const std::shared_ptr<Connection>& connection, const std::weak_ptr<Peer>& weak) {
  std::shared_ptr<Peer> peer = weak.lock();
  if (peer == nullptr || connection->gone.load()) return;
  // Only our sending side is shut: closing outright with unread input (a body still on its
  // way after a 413) would reset the connection and could destroy the answer.
  ::shutdown(peer->fd(), SHUT_WR);
  // A refused connection is not kept around: a flood of them must not hold descriptors.
  connection->linger_until =
      SteadyClock::now() +
      (connection->refused ? SteadyClock::duration::zero() : SteadyClock::duration(kLinger));
}

void ServerTransport::Deliver(Outgoing item) {
  std::shared_ptr<Gate> gate = callbacks_->gate;
  std::shared_ptr<Connection> connection = item.connection;
  --connection->queued;
  std::shared_ptr<Peer> peer = connection->peer.lock();
  auto it = peer == nullptr ? peers.end() : peers.find(peer->fd());
  // The descriptor is checked against the peer on this thread, which alone closes it: an
  // answer for a closed connection can never reach a newer one that reuses its number.
  if (it == peers.end() || it->second != peer || connection->gone.load()) {
    connection->unwritten -= item.size();
    gate->WriteFinished();
    return;
  }
  if (item.detach) {
    HandOff(connection, peer, std::move(item.detach));
    gate->WriteFinished();
    return;
  }
  if (item.close) connection->closing = true;
  connection->writes.push_back(
      {.head = std::move(item.head), .body = std::move(item.body), .close = item.close});
  // Written now, on the thread that owns the descriptor, once the answers before it are.
  if (connection->writes.size() == 1) Flush(connection, peer);
}

// Adds what is left of `part` to `parts` after skipping `*skip` of its bytes.
void AddPart(const std::string& part, size_t* skip, std::vector<iovec>* parts) {
  if (*skip >= part.size()) {
    *skip -= part.size();
    return;
  }
  parts->push_back({const_cast<char*>(part.data()) + *skip, part.size() - *skip});
  *skip = 0;
}

// Answers sent in one sendmsg at most: pipelined answers leave together.
constexpr size_t kWriteBatch = 16;

void ServerTransport::Flush(const std::shared_ptr<Connection>& connection,
                            const std::shared_ptr<Peer>& peer) {
  std::deque<PendingWrite>& writes = connection->writes;
  std::vector<iovec> parts;
  while (!writes.empty()) {
    if (writes.front().size() == 0) {  // a final answer with nothing more to say
      PendingWrite done = std::move(writes.front());
      writes.pop_front();
      Written(connection, peer, done);
      continue;
    }
    parts.clear();
    size_t skip = writes.front().written;
    for (size_t i = 0; i < writes.size() && i < kWriteBatch; ++i) {
      AddPart(writes[i].head, &skip, &parts);
      AddPart(writes[i].body, &skip, &parts);
      if (writes[i].close) break;  // nothing goes after a final answer
    }
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = parts.size();
    // MSG_NOSIGNAL: a client that went away is an error here, not a SIGPIPE.
    const ssize_t sent = ::sendmsg(peer->fd(), &message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return WantWrite(connection, peer->fd(), true);
    }
    if (sent < 0) {
      DropWrites(connection);
      connection->closing = true;
      connection->linger_until = SteadyClock::now();  // Tick closes it
      return WantWrite(connection, peer->fd(), false);
    }
    size_t left = static_cast<size_t>(sent);
    while (!writes.empty() && left >= writes.front().size() - writes.front().written) {
      left -= writes.front().size() - writes.front().written;
      PendingWrite done = std::move(writes.front());
      writes.pop_front();
      Written(connection, peer, done);
    }
    if (!writes.empty()) writes.front().written += left;
  }
  WantWrite(connection, peer->fd(), false);
}

void ServerTransport::WantWrite(const std::shared_ptr<Connection>& connection, Pistache::Fd fd,
                                bool want) {
  using Pistache::Polling::NotifyOn;
  if (connection->want_write == want) return;
  connection->want_write = want;
  // As Pistache registered the descriptor (edge-triggered, reads and the peer's shutdown),
  // plus writability while answers wait for room in the socket.
  reactor()->modifyFd(key(), fd,
                      want ? NotifyOn::Read | NotifyOn::Shutdown | NotifyOn::Write
                           : NotifyOn::Read | NotifyOn::Shutdown,
                      Pistache::Polling::Mode::Edge);
}

void ServerTransport::Written(const std::shared_ptr<Connection>& connection,
                              const std::shared_ptr<Peer>& peer, const PendingWrite& write) {
  connection->unwritten -= write.size();
  callbacks_->gate->WriteFinished();
  if (write.close) {
    DropWrites(connection);  // answers given after the final one are never sent
    BeginLinger(connection, peer);
  }
  if (connection->unwritten == 0 && connection->parked_detach) {
    // Everything before the Detach is written: hand off now, through the outbox again, after
    // this write loop is done with the descriptor.
    Post({connection, "", false, std::move(connection->parked_detach)});
    connection->parked_detach = nullptr;
  }
}

void ServerTransport::DropWrites(const std::shared_ptr<Connection>& connection) {
  for (const PendingWrite& write : connection->writes) {
    connection->unwritten -= write.size();
    callbacks_->gate->WriteFinished();
  }
  connection->writes.clear();
}

// Pistache 0.0.5 has no way to give a connection away: removePeer unregisters the descriptor
// from epoll and closes it, and ~Peer closes nothing. So the descriptor is duplicated first and
// the duplicate handed to `take`; Remove then runs onDisconnection (the connection stops
// counting against server.max-connections, the disconnect callback runs) and closes the
// original. The duplicate keeps O_NONBLOCK (it shares the open file description).
void ServerTransport::HandOff(const std::shared_ptr<Connection>& connection,
                              const std::shared_ptr<Peer>& peer,
                              std::function<void(DetachedConnection)> take) {
  if (connection->dropped) return;  // closing already; `take` is never called
  if (connection->unwritten > 0) {
    connection->parked_detach = std::move(take);  // resumed by the last write's completion
    return;
  }
  const int fd = ::fcntl(peer->fd(), F_DUPFD_CLOEXEC, 0);
  DetachedConnection out{fd, std::move(connection->early)};
  connection->upgrade_pending = false;
  connection->closing = true;
  Remove(peer);
  if (fd < 0) {
    log::Error("http.detach_failed",
               std::string("cannot detach a connection: ") + std::strerror(errno));
    return;
  }
  try {
    take(std::move(out));
  } catch (...) {
    log::Error("http.detach_failed", "detach callback failed");
  }
}

void ServerTransport::Remove(const std::shared_ptr<Peer>& peer) {
  std::shared_ptr<Peer> held = peer;  // `peer` may refer into the map removePeer erases
  handler_->onDisconnection(held);
  removePeer(held);
}

void ServerTransport::Tick() {
  const SteadyTime now = SteadyClock::now();
  const TimeLimits& limits = callbacks_->time_limits;
  std::vector<std::shared_ptr<Peer>> expired;
  for (const auto& [fd, peer] : peers) {
    std::shared_ptr<Connection> connection = ConnectionOf(peer);
    if (connection == nullptr) continue;
    if (connection->linger_until.has_value()) {
      if (now >= *connection->linger_until) expired.push_back(peer);
      continue;
    }
    if (connection->closing) continue;
    bool held = false;
    {
      MutexLock lock(connection->mu);
      held = connection->outstanding > 0;
    }
    const RequestFramer& framer = connection->framer;
    switch (connection->clock.Check(framer.phase(), framer.body_wire_bytes(), held, now, limits)) {
      case Expiry::kNone:
        break;
      case Expiry::kClose:
        expired.push_back(peer);
        break;
      case Expiry::kTimeout:
        connection->closing = true;
        Post({connection,
              ErrorAnswer(408, ErrorCode::kTimeout,
                          framer.phase() == FramePhase::kBody
                              ? "request body slower than server.min-body-rate"
                              : "request head not complete within server.header-timeout"),
              true});
        break;
    }
  }
  for (const auto& peer : expired) Remove(peer);
  client_->OnTick(now);
  Drain();
}

void ServerHandler::onConnection(const std::shared_ptr<Peer>& peer) {
  auto connection = std::make_shared<Connection>(callbacks_->head_limits, SteadyClock::now());
  connection->peer = peer;
  connection->transport = own();
  connection->id = peer->getID();
  try {
    connection->peer_address = peer->address().host();
  } catch (const std::exception&) {
    connection->peer_address.clear();
  }
  peer->putData(kConnectionKey, connection);
  const size_t open = ++callbacks_->open_connections;
  if (open > callbacks_->max_connections) {
    --callbacks_->open_connections;
    connection->refused = true;
    // Answered from the outbox: the descriptor is not yet polled while this runs.
    connection->closing = true;
    own()->Post({connection,
                 ErrorAnswer(503, ErrorCode::kUnavailable,
                             "more than " + std::to_string(callbacks_->max_connections) +
                                 " open connections (server.max-connections)"),
                 true});
  }
}

void ServerHandler::onDisconnection(const std::shared_ptr<Peer>& peer) {
  std::shared_ptr<Connection> connection = ConnectionOf(peer);
  if (connection == nullptr) return;
  own()->DropWrites(connection);
  if (connection->gone.exchange(true)) return;
  // Requests made for this connection are abandoned, their sockets closed (not pooled).
  if (ReactorClient* client = own()->client()) client->OnConnectionClosed(connection->id);
  if (!connection->refused) --callbacks_->open_connections;
  if (callbacks_->on_disconnect) {
    try {
      callbacks_->on_disconnect(connection->id);
    } catch (...) {
      log::Error("http.handler_failed", "disconnect handler failed");
    }
  }
}

void ServerHandler::onInput(const char* buffer, size_t len, const std::shared_ptr<Peer>& peer) {
  std::shared_ptr<Connection> connection = ConnectionOf(peer);
  if (connection == nullptr || connection->closing) return;  // read and dropped
  if (connection->upgrade_pending) {
    KeepEarly(connection, std::string_view(buffer, len));
    return;
  }
  RequestFramer& framer = connection->framer;
  const SteadyTime now = SteadyClock::now();
  std::string_view input(buffer, len);
  while (!connection->closing) {
    FrameEvent event = framer.Feed(input);
    if (event == FrameEvent::kNeedMore) break;
    if (event == FrameEvent::kBad) {
      Reject(connection, framer.error_status(), framer.error_message());
      break;
    }
    if (event == FrameEvent::kHeadComplete) {
      connection->clock.Observe(FramePhase::kBody, framer.body_wire_bytes(), now);
      // RFC 9110 §10.1.1: the client waits for this before sending the body (a body that is
      // already arriving needs none). A body too large was refused with 413 instead.
      if (framer.head().expect_continue && input.empty()) {
        own()->Post({connection, "HTTP/1.1 100 Continue\r\n\r\n", false});
      }
      continue;
    }
    connection->clock.OnRequest(now);
    if (connection->unwritten > kMaxUnwritten) {
      // The client is not reading its answers: serve nothing more, close after what is queued
      // (an empty final write, ordered behind them).
      connection->closing = true;
      own()->Post({connection, "", true});
      break;
    }
    Dispatch(connection, framer.TakeRequest());
    if (connection->upgrade_pending) {
      // What follows the head is the upgraded protocol's, not a next request (the framer
      // stops at the end of a request, so the rest of this read is all of it).
      KeepEarly(connection, input);
      return;
    }
  }
  connection->clock.Observe(framer.phase(), framer.body_wire_bytes(), now);
}

void ServerHandler::KeepEarly(const std::shared_ptr<Connection>& connection,
                              std::string_view input) {
  if (connection->early.size() + input.size() <= kMaxEarlyBytes) {
    connection->early.append(input);
    return;
  }
  // Not removed here: Pistache goes on reading the descriptor after onInput returns. The
  // connection closes once what is queued is written.
  connection->dropped = true;
  connection->upgrade_pending = false;
  connection->early.clear();
  connection->closing = true;
  own()->Post({connection, "", true});
}

// `Upgrade: x` with `Connection: ... upgrade ...` (RFC 9110 §7.8).
bool AsksForUpgrade(const FramedRequest& request) {
  if (FindHeader(request.headers, "Upgrade").empty()) return false;
  for (const auto& [name, value] : request.headers) {
    if (!EqualsIgnoreCase(name, "Connection")) continue;
    std::string_view tokens = value;
    while (!tokens.empty()) {
      size_t comma = tokens.find(',');
      std::string_view token = tokens.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
        token.remove_suffix(1);
      if (EqualsIgnoreCase(token, "upgrade")) return true;
      tokens = comma == std::string_view::npos ? std::string_view() : tokens.substr(comma + 1);
    }
  }
  return false;
}

void ServerHandler::Dispatch(const std::shared_ptr<Connection>& connection, FramedRequest request) {
  {
    MutexLock lock(connection->mu);
    if (connection->outstanding > 0) {
      // Pipelined behind an unanswered request: answers could otherwise go out of order, so
      // the connection closes after the pending answer (RFC 9112 §9.3.2 lets a client expect
      // that and retry).
      connection->close_after = true;
      connection->closing = true;
      return;
    }
    connection->outstanding++;
    if (AsksForUpgrade(request)) {
      // Bytes after this head are not HTTP: kept raw for a Detach; an answer instead (404,
      // 401, 429) closes the connection, which cannot be re-synchronised.
      connection->upgrade_pending = true;
      connection->close_after = true;
    }
  }
  if (request.close && !connection->upgrade_pending) connection->closing = true;
  auto impl = std::make_shared<Responder::Impl>();
  impl->connection = connection;
  impl->gate = callbacks_->gate;
  impl->wire.close = request.close;
  impl->wire.keep_alive = request.http10 && request.keep_alive;
  impl->wire.head = request.method == "HEAD";
  Responder responder(impl);
  ServerRequest converted;
  converted.head = impl->wire.head;
  converted.method = converted.head ? "GET" : std::move(request.method);
  converted.path = std::move(request.path);
  converted.query = std::move(request.query);
  converted.headers = std::move(request.headers);
  converted.body = std::move(request.body);
  converted.connection_id = connection->id;
  converted.peer_address = connection->peer_address;
  try {
    callbacks_->on_request(std::move(converted), responder);
  } catch (const std::exception& e) {
    log::Error("http.handler_failed", std::string("handler failed: ") + e.what());
    responder.Send(500, W3CErrorBody({ErrorCode::kInternal, e.what()}));
  } catch (...) {
    responder.Send(500, W3CErrorBody({ErrorCode::kInternal, "unknown failure"}));
  }
}

// Answers what cannot be served with a W3C error and closes: after a bad head the stream
// cannot be re-synchronised.
void ServerHandler::Reject(const std::shared_ptr<Connection>& connection, int status,
                           std::string message) {
  connection->closing = true;
  {
    MutexLock lock(connection->mu);
    if (connection->outstanding > 0) {
      connection->close_after = true;  // the pending answer closes it
      return;
    }
  }
  own()->Post({connection, ErrorAnswer(status, CodeFor(status), std::move(message)), true});
}

// Pistache's accept loop logs a failed accept() and polls again; with no descriptor left
// (EMFILE/ENFILE) the listening socket stays readable and the loop spins at 100% of a core.
// Its only hook is the logger, called on the accept thread right after the failure: there we
// give back a spare descriptor, accept the waiting connection, answer it 503, close it, and
// take the spare again, so the loop finds nothing pending and sleeps.
class AcceptGuard final : public Pistache::Log::StringLogger {
 public:
  AcceptGuard() { TakeSpare(); }
  ~AcceptGuard() override {
    if (spare_ >= 0) ::close(spare_);
  }

  bool isEnabledFor(Pistache::Log::Level level) const override {
    return level >= Pistache::Log::Level::WARN;
  }

  void log(Pistache::Log::Level level, const std::string& message) override {
    const bool out_of_files = message.find(std::strerror(EMFILE)) != std::string::npos ||
                              message.find(std::strerror(ENFILE)) != std::string::npos;
    if (!out_of_files) {
      // gridhub:: spelled out: this class's own log() would otherwise read as the name.
      gridhub::log::Write(level == Pistache::Log::Level::WARN ? gridhub::log::Level::kWarn
                                                              : gridhub::log::Level::kError,
                          "http.pistache", message);
      return;
    }
    Shed();
  }

  void set_listen_fd(int fd) { listen_fd_.store(fd); }

 private:
  void TakeSpare() { spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

  void Shed() {
    if (spare_ >= 0) {
      ::close(spare_);
      spare_ = -1;
    }
    const int listening = listen_fd_.load();
    int fd =
        listening < 0 ? -1 : ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      static const std::string kBusy = [] {
        WireAnswer answer = ErrorAnswer(503, ErrorCode::kUnavailable,
                                        "out of file descriptors; see server.max-connections");
        return answer.head + answer.body;
      }();
      (void)!::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
    }
    TakeSpare();
    if (fd < 0 || spare_ < 0) {
      // Still nothing to spare (the whole system is out): pause rather than spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const SteadyTime now = SteadyClock::now();
    if (now - last_report_ > std::chrono::seconds(10)) {
      last_report_ = now;
      log::Error("http.out_of_files",
                 "accept failed: out of file descriptors; refusing connections "
                 "(lower server.max-connections or raise the open-files limit)");
    }
  }

  std::atomic<int> listen_fd_{-1};
  int spare_ = -1;  // accept thread only
  SteadyTime last_report_{};
};

// Pistache keeps its listening descriptor to itself; it is the one listening socket of this
// process bound to `port`.
int FindListeningSocket(uint16_t port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* entry = ::readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == ::dirfd(dir)) continue;
    int listening = 0;
    socklen_t length = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || !listening) {
      continue;
    }
    sockaddr_storage address{};
    socklen_t address_length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length) != 0) continue;
    uint16_t bound = 0;
    if (address.ss_family == AF_INET) {
      bound = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    } else if (address.ss_family == AF_INET6) {
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    }
    if (bound == port) {
      found = fd;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

// Descriptors kept free of client connections: outbound connections to nodes, drivers'
// pipes, log files, the reactor's own descriptors.
uint64_t FdReserve(uint64_t limit) { return std::clamp<uint64_t>(limit / 4, 16, 256); }

uint64_t OpenFilesLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return uint64_t{1} << 20;
  }
  return limit.rlim_cur;
}

}  // namespace

uint64_t RaiseOpenFilesLimit(uint64_t* before) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return OpenFilesLimit();
  if (before != nullptr) *before = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    // An unlimited hard limit cannot be the soft one; the kernel's nr_open default is 2^20.
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
  return OpenFilesLimit();
}

struct HttpServer::State {
  ServerOptions options;
  std::shared_ptr<Callbacks> callbacks;
  std::shared_ptr<AcceptGuard> accept_guard;
  std::unique_ptr<Pistache::Tcp::Listener> listener;
  Mutex mu;  // serialises Start() and Stop()
  bool started GUARDED_BY(mu) = false;
  bool stopped GUARDED_BY(mu) = false;
};

HttpServer::HttpServer(ServerOptions options, RequestHandler on_request,
                       DisconnectHandler on_disconnect)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  auto callbacks = std::make_shared<Callbacks>();
  callbacks->on_request = std::move(on_request);
  callbacks->on_disconnect = std::move(on_disconnect);
  const ServerOptions& o = state_->options;
  callbacks->head_limits.max_body = o.max_body;
  callbacks->time_limits = {.header_timeout = o.header_timeout,
                            .min_body_rate = o.min_body_rate,
                            .idle_timeout = o.idle_timeout};
  callbacks->max_connections = std::max<size_t>(1, o.max_connections);
  state_->callbacks = std::move(callbacks);
}

HttpServer::~HttpServer() {
  Stop();
  // The listener (and its threads) go before the guard its accept loop may call.
  state_->listener.reset();
}

size_t HttpServer::max_connections() const { return state_->callbacks->max_connections; }

Status HttpServer::Start() {
  MutexLock lock(state_->mu);
  const ServerOptions& options = state_->options;
  std::string where = options.host + ":" + std::to_string(options.port);
  // Connections stay below the open-files limit with a reserve, so accept() does not fail.
  const uint64_t files = OpenFilesLimit();
  const uint64_t cap = files > 2 * FdReserve(files) ? files - FdReserve(files) : files / 2;
  if (state_->callbacks->max_connections > cap) {
    log::Warn("http.connections_capped",
              "serving at most " + std::to_string(cap) + " connections on " + where +
                  ": the open-files limit is " + std::to_string(files) +
                  " (server.max-connections is " + std::to_string(options.max_connections) + ")");
    state_->callbacks->max_connections = std::max<uint64_t>(1, cap);
  }
  try {
    Pistache::Address address(options.host, Pistache::Port(options.port));
    auto listener = std::make_unique<Pistache::Tcp::Listener>(address);
    auto handler = std::make_shared<ServerHandler>(state_->callbacks);
    namespace Tcp = Pistache::Tcp;
    state_->accept_guard = std::make_shared<AcceptGuard>();
    listener->init(static_cast<size_t>(std::max(1, options.threads)),
                   Pistache::Flags<Tcp::Options>(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay |
                                                 Tcp::Options::CloseOnExec),
                   "", Pistache::Const::MaxBacklog, state_->accept_guard);
    listener->setHandler(handler);
    listener->setTransportFactory([handler] { return std::make_shared<ServerTransport>(handler); });
    listener->bind();
    const auto port = static_cast<uint16_t>(listener->getPort());
    // Known only once bound, and needed only once the accept loop runs.
    state_->accept_guard->set_listen_fd(FindListeningSocket(port));
    listener->runThreaded();
    port_.store(port);
    state_->listener = std::move(listener);
    state_->started = true;
    return Status::Ok();
  } catch (const std::exception& e) {
    return Error{ErrorCode::kUnavailable, "cannot listen on " + where + ": " + e.what()};
  }
}

void HttpServer::Stop() {
  MutexLock lock(state_->mu);
  if (!state_->started || state_->stopped) return;
  state_->stopped = true;
  Gate& gate = *state_->callbacks->gate;
  {
    // Responses already queued get a moment to reach their sockets; nothing new is queued.
    MutexLock flight(gate.flight_mu);
    gate.flight_cv.wait_for(gate.flight_mu, std::chrono::seconds(2),
                            [&]() REQUIRES(gate.flight_mu) { return gate.in_flight == 0; });
  }
  {
    WriterMutexLock closing(gate.mu);
    gate.open = false;
  }
  try {
    state_->listener->shutdown();
  } catch (const std::exception& e) {
    log::Error("http.shutdown_failed", std::string("server shutdown: ") + e.what());
  }
  // Listener::shutdown() only asks the reactor threads to stop; they are joined when the
  // listener is destroyed. Until then one may still be closing a connection and calling
  // on_disconnect into a service that is being torn down, so wait for them here.
  state_->listener.reset();
}

}  // namespace gridhub::http
