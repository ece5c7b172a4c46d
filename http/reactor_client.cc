#include "http/reactor_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "http/response_framer.h"

namespace gridhub::http {

namespace {

thread_local ReactorClient* current_client = nullptr;

constexpr size_t kReadBuffer = size_t{64} << 10;

// A plain http:// URL to a numeric address, split.
struct Target {
  std::string key;   // "127.0.0.1:5555", "[::1]:5555": the pool's and the Host header's
  std::string path;  // "/session/1/url?x" (at least "/")
  sockaddr_storage address{};
  socklen_t address_length = 0;
};

bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

bool ParseTarget(std::string_view url, Target* out) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  url.remove_prefix(kScheme.size());
  const size_t end = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (rest.find_first_of(std::string_view("# \t\r\n\0", 6)) != std::string_view::npos) {
    return false;
  }
  if (authority.find('@') != std::string_view::npos) return false;  // credentials: curl's
  std::string host;
  uint16_t port = 80;
  bool v6 = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || !ParsePort(after.substr(1), &port))) {
      return false;
    }
    v6 = true;
  } else {
    const size_t colon = authority.find(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos && !ParsePort(authority.substr(colon + 1), &port)) {
      return false;
    }
  }
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out->address);
    if (::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return false;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    out->address_length = sizeof(sockaddr_in6);
    out->key = "[" + host + "]:" + std::to_string(port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&out->address);
    // inet_pton takes only dotted quads (not "127.1" or a host name): those go to curl.
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return false;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    out->address_length = sizeof(sockaddr_in);
    out->key = host + ":" + std::to_string(port);
  }
  out->path = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return true;
}

bool Idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}) {
    if (method == m) return true;
  }
  return false;
}

// Framing and hop-by-hop headers are the client's own to write.
bool OwnHeader(std::string_view name) {
  for (std::string_view h : {"Host", "Content-Length", "Transfer-Encoding", "Connection",
                             "Keep-Alive", "TE", "Upgrade", "Expect", "Proxy-Connection"}) {
    if (EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

std::string RequestHead(const ClientRequest& request, const Target& target) {
  std::string head;
  head.reserve(128 + target.path.size() + request.headers.size() * 48);
  head += request.method;
  head += ' ';
  head += target.path;
  head += " HTTP/1.1\r\nHost: ";
  head += target.key;
  head += "\r\n";
  for (const auto& [name, value] : request.headers) {
    if (OwnHeader(name) || !SafeForWire(name) || !SafeForWire(value)) continue;
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    head += "Content-Length: ";
    head += std::to_string(request.body.size());
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

}  // namespace

struct ReactorClient::Exchange {
  Callback done;
  std::optional<uint64_t> connection_id;  // the client connection it is bound to
  std::string method;
  std::string head;
  std::string body;
  size_t written = 0;  // of head + body
  Clock::time_point deadline;
  std::chrono::milliseconds timeout{0};
  std::shared_ptr<const std::atomic<bool>> cancel;
  bool retried = false;
  sockaddr_storage address{};
  socklen_t address_length = 0;
  size_t size() const { return head.size() + body.size(); }
};

struct ReactorClient::Socket {
  int fd = -1;
  std::string key;
  bool connecting = false;
  bool reused = false;  // taken from the pool for its current exchange
  ResponseFramer framer;
  std::unique_ptr<Exchange> exchange;  // null while idle in the pool
  Clock::time_point idle_since;
};

ReactorClient::Scope::Scope(ReactorClient* client) : previous_(current_client) {
  current_client = client;
}
ReactorClient::Scope::~Scope() { current_client = previous_; }

ReactorClient* ReactorClient::Current() { return current_client; }

bool ReactorClient::Takes(const ClientRequest& request) {
  Target target;
  return !request.method.empty() && IsToken(request.method) && ParseTarget(request.url, &target);
}

ReactorClient::ReactorClient(Loop* loop) : loop_(loop), buffer_(kReadBuffer) {}

ReactorClient::~ReactorClient() {
  // The loop may be gone already (a reactor's epoll is closed before its handlers): closing a
  // descriptor takes it out of any epoll set anyway.
  loop_ = nullptr;
  std::vector<int> fds;
  fds.reserve(sockets_.size());
  for (const auto& [fd, socket] : sockets_) fds.push_back(fd);
  for (int fd : fds) {
    auto it = sockets_.find(fd);
    if (it == sockets_.end()) continue;
    Socket* socket = it->second.get();
    if (socket->exchange != nullptr) {
      Fail(socket, "client stopped");
    } else {
      Close(socket);
    }
  }
  RunCompletions();
}

size_t ReactorClient::idle() const {
  size_t count = 0;
  for (const auto& [key, fds] : idle_) count += fds.size();
  return count;
}

void ReactorClient::Send(ClientRequest request, Callback done,
                         std::optional<uint64_t> connection_id) {
  Target target;
  auto exchange = std::make_unique<Exchange>();
  exchange->done = std::move(done);
  if (!ParseTarget(request.url, &target)) {
    ClientResponse response;
    response.error = "not a URL this client takes: " + request.url;
    Complete(std::move(exchange->done), std::move(response));
    return;
  }
  exchange->connection_id = connection_id;
  exchange->head = RequestHead(request, target);
  exchange->body = std::move(request.body);
  exchange->method = std::move(request.method);
  exchange->timeout = request.timeout;
  exchange->deadline = Clock::now() + request.timeout;
  exchange->cancel = std::move(request.cancel);
  exchange->address = target.address;
  exchange->address_length = target.address_length;
  Socket* socket = nullptr;
  auto pool = idle_.find(target.key);
  if (pool != idle_.end() && !pool->second.empty()) {
    socket = sockets_.at(pool->second.back()).get();
    pool->second.pop_back();
    socket->reused = true;
  } else {
    std::string error;
    socket = Open(target.key, &target.address, target.address_length, &error);
    if (socket == nullptr) {
      ClientResponse response;
      response.error = std::move(error);
      Complete(std::move(exchange->done), std::move(response));
      return;
    }
  }
  // The framer's limit is the caller's; 0 = none, as for HttpClient.
  socket->framer = ResponseFramer({.max_body = request.max_response_body});
  socket->framer.Expect(exchange->method == "HEAD");
  ++in_flight_;
  if (connection_id.has_value()) by_connection_.emplace(*connection_id, socket->fd);
  socket->exchange = std::move(exchange);
  Start(socket);
}

ReactorClient::Socket* ReactorClient::Open(const std::string& key, const void* address,
                                           unsigned address_length, std::string* error) {
  const auto* sa = static_cast<const sockaddr*>(address);
  const int fd = ::socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("cannot open a socket: ") + std::strerror(errno);
    return nullptr;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int connected = ::connect(fd, sa, static_cast<socklen_t>(address_length));
  if (connected != 0 && errno != EINPROGRESS) {
    *error = "cannot connect to " + key + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  auto owned = std::make_unique<Socket>();
  Socket* socket = owned.get();
  socket->fd = fd;
  socket->key = key;
  socket->connecting = connected != 0;
  sockets_.emplace(fd, std::move(owned));
  loop_->Watch(fd);
  return socket;
}

void ReactorClient::Start(Socket* socket) {
  if (!socket->connecting) Write(socket);
}

void ReactorClient::OnEvent(int fd) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return;
  Socket* socket = it->second.get();
  if (socket->exchange == nullptr) {
    // Idle in the pool: the node closed it, or sent what nobody asked for. Either way it
    // cannot carry a request any more.
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    Close(socket);
    return;
  }
  if (socket->connecting) {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error == EINPROGRESS || error == EALREADY) return;
    if (error != 0) {
      return Fail(socket, "cannot connect to " + socket->key + ": " + std::strerror(error));
    }
    socket->connecting = false;
  }
  const int before = socket->fd;
  Write(socket);
  // Write may have ended the exchange (the socket is then gone or idle).
  auto again = sockets_.find(before);
  if (again == sockets_.end() || again->second.get() != socket || socket->exchange == nullptr) {
    return;
  }
  Read(socket);
}

void ReactorClient::Write(Socket* socket) {
  Exchange& exchange = *socket->exchange;
  while (exchange.written < exchange.size()) {
    iovec parts[2];
    int count = 0;
    if (exchange.written < exchange.head.size()) {
      parts[count++] = {exchange.head.data() + exchange.written,
                        exchange.head.size() - exchange.written};
      if (!exchange.body.empty()) parts[count++] = {exchange.body.data(), exchange.body.size()};
    } else {
      const size_t at = exchange.written - exchange.head.size();
      parts[count++] = {exchange.body.data() + at, exchange.body.size() - at};
    }
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = static_cast<size_t>(count);
    const ssize_t sent = ::sendmsg(socket->fd, &message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // the next event
    if (sent < 0) {
      const int error = errno;
      if (error == EPIPE || error == ECONNRESET) {
        return Died(socket, std::string("node closed the connection: ") + std::strerror(error));
      }
      return Fail(socket, std::string("cannot send to the node: ") + std::strerror(error));
    }
    exchange.written += static_cast<size_t>(sent);
  }
}

void ReactorClient::Read(Socket* socket) {
  for (;;) {
    const ssize_t n = ::recv(socket->fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno != ECONNRESET) {
      return Fail(socket, std::string("cannot read from the node: ") + std::strerror(errno));
    }
    if (n <= 0) {
      // The node closed (or reset) its side.
      if (!socket->framer.started()) {
        return Died(socket, n == 0 ? "node closed the connection before answering"
                                   : "node reset the connection before answering");
      }
      if (n < 0) return Fail(socket, "node reset the connection in the middle of its answer");
      switch (socket->framer.FeedEof()) {
        case ResponseEvent::kResponse:
          break;
        case ResponseEvent::kTooLarge:
          return Fail(socket, socket->framer.error(), /*too_large=*/true);
        default:
          return Fail(socket, "bad answer from the node: " + socket->framer.error());
      }
      FramedResponse framed = socket->framer.Take();
      ClientResponse response{.status = framed.status,
                              .headers = std::move(framed.headers),
                              .body = std::move(framed.body)};
      return Finish(socket, std::move(response), /*reusable=*/false);
    }
    std::string_view input(buffer_.data(), static_cast<size_t>(n));
    switch (socket->framer.Feed(input)) {
      case ResponseEvent::kNeedMore:
        continue;
      case ResponseEvent::kTooLarge:
        return Fail(socket, socket->framer.error(), /*too_large=*/true);
      case ResponseEvent::kBad:
        return Fail(socket, "bad answer from the node: " + socket->framer.error());
      case ResponseEvent::kResponse:
        break;
    }
    FramedResponse framed = socket->framer.Take();
    // Reused only when nothing else came and the whole request went out: bytes after an
    // answer (or an answer before the request was all sent) leave the stream unknowable.
    const bool reusable =
        !framed.close && input.empty() && socket->exchange->written == socket->exchange->size();
    ClientResponse response{.status = framed.status,
                            .headers = std::move(framed.headers),
                            .body = std::move(framed.body)};
    return Finish(socket, std::move(response), reusable);
  }
}

void ReactorClient::Unbind(const Exchange& exchange) {
  --in_flight_;
  if (!exchange.connection_id.has_value()) return;
  auto range = by_connection_.equal_range(*exchange.connection_id);
  for (auto it = range.first; it != range.second; ++it) {
    auto socket = sockets_.find(it->second);
    if (socket != sockets_.end() && socket->second->exchange.get() == &exchange) {
      by_connection_.erase(it);
      return;
    }
  }
}

void ReactorClient::Finish(Socket* socket, ClientResponse response, bool reusable) {
  Unbind(*socket->exchange);
  std::unique_ptr<Exchange> exchange = std::move(socket->exchange);
  std::vector<int>& pool = idle_[socket->key];
  if (reusable && pool.size() < kMaxIdlePerNode) {
    socket->reused = false;
    socket->idle_since = Clock::now();
    pool.push_back(socket->fd);
  } else {
    Close(socket);
  }
  Complete(std::move(exchange->done), std::move(response));
}

void ReactorClient::Fail(Socket* socket, std::string error, bool too_large) {
  Unbind(*socket->exchange);
  std::unique_ptr<Exchange> exchange = std::move(socket->exchange);
  Close(socket);
  ClientResponse response;
  response.error = std::move(error);
  response.body_too_large = too_large;
  Complete(std::move(exchange->done), std::move(response));
}

void ReactorClient::Died(Socket* socket, std::string error) {
  Exchange& exchange = *socket->exchange;
  if (!socket->reused || exchange.retried || !Idempotent(exchange.method)) {
    return Fail(socket, std::move(error));
  }
  // A kept-alive connection the node had closed: once more on a new one.
  std::string open_error;
  Socket* fresh = Open(socket->key, &exchange.address, exchange.address_length, &open_error);
  if (fresh == nullptr) return Fail(socket, std::move(open_error));
  std::unique_ptr<Exchange> moved = std::move(socket->exchange);
  moved->retried = true;
  moved->written = 0;
  const bool head = moved->method == "HEAD";
  fresh->framer = std::move(socket->framer);
  fresh->framer.Expect(head);
  if (moved->connection_id.has_value()) {
    auto range = by_connection_.equal_range(*moved->connection_id);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == socket->fd) {
        it->second = fresh->fd;
        break;
      }
    }
  }
  Close(socket);
  fresh->exchange = std::move(moved);
  Start(fresh);
}

void ReactorClient::Close(Socket* socket) {
  const int fd = socket->fd;
  auto pool = idle_.find(socket->key);
  if (pool != idle_.end()) {
    std::vector<int>& fds = pool->second;
    fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
    if (fds.empty()) idle_.erase(pool);
  }
  if (loop_ != nullptr) loop_->Forget(fd);
  ::close(fd);
  sockets_.erase(fd);  // destroys *socket
}

void ReactorClient::Complete(Callback done, ClientResponse response) {
  if (done) completions_.emplace_back(std::move(done), std::move(response));
}

void ReactorClient::RunCompletions() {
  while (!completions_.empty()) {
    std::vector<std::pair<Callback, ClientResponse>> batch;
    batch.swap(completions_);
    for (auto& [done, response] : batch) {
      try {
        done(std::move(response));
      } catch (...) {
        // A callback's failure is its own; the others still run.
      }
    }
  }
}

void ReactorClient::OnTick(Clock::time_point now) {
  std::vector<std::pair<int, std::string>> expired;
  for (const auto& [fd, socket] : sockets_) {
    if (socket->exchange == nullptr) {
      if (now - socket->idle_since >= kIdleKeep) expired.emplace_back(fd, "");
      continue;
    }
    const Exchange& exchange = *socket->exchange;
    if (exchange.cancel != nullptr && exchange.cancel->load()) {
      expired.emplace_back(fd, "cancelled");
    } else if (now >= exchange.deadline) {
      expired.emplace_back(fd, "timed out after " + std::to_string(exchange.timeout.count()) +
                                   " ms waiting for the node");
    }
  }
  for (auto& [fd, error] : expired) {
    auto it = sockets_.find(fd);
    if (it == sockets_.end()) continue;
    if (it->second->exchange == nullptr) {
      Close(it->second.get());
    } else {
      Fail(it->second.get(), std::move(error));
    }
  }
}

void ReactorClient::OnConnectionClosed(uint64_t connection_id) {
  auto range = by_connection_.equal_range(connection_id);
  if (range.first == range.second) return;
  std::vector<int> fds;
  for (auto it = range.first; it != range.second; ++it) fds.push_back(it->second);
  for (int fd : fds) {
    auto it = sockets_.find(fd);
    if (it != sockets_.end() && it->second->exchange != nullptr)
      Fail(it->second.get(), "cancelled");
  }
}

}  // namespace gridhub::http
