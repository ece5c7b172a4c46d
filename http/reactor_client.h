#pragma once

// Outbound HTTP/1.1 driven by the server's own reactor thread: the proxy path's client. A
// request a handler makes while it runs (a WebDriver command relayed to its node) goes out on
// a non-blocking socket polled by the same Pistache epoll that owns the client's connection,
// its answer is framed there (response_framer.h) and its callback runs there, so the answer
// is written to the client without leaving the thread: no hand-off to HttpClient's curl thread
// and back. Each server reactor thread has one (HttpServer makes it); `Current()` finds it.
//
//   if (ReactorClient* client = ReactorClient::Current(); client && client->Takes(request)) {
//     client->Send(std::move(request), std::move(done), responder.connection_id());
//   } else {
//     http_client.Send(std::move(request), std::move(done));  // any thread, any URL
//   }
//
// What it takes: `http://` to a numeric IPv4 or IPv6 address (what nodes register with); a
// host name to resolve, https and anything else stay with HttpClient (Takes() says false).
// Per node (address and port) a pool of kept-alive connections, newest used first; idle ones
// are closed after kIdleKeep or when the node closes them. A request on a pooled connection
// that fails before any byte of its answer arrived (EOF or reset: the node had closed it) is
// sent once more on a new connection when its method is idempotent (GET, HEAD, PUT, DELETE,
// OPTIONS; RFC 9110 §9.2.2) — never a POST, which the node may have acted on. The timeout,
// `max_response_body` and `cancel` mean what they mean for HttpClient (timeouts and cancel
// flags are looked at on the server's 250 ms tick). Failures are status 0 with `error` set.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/http_client.h"

namespace gridhub::http {

class ReactorClient {
 public:
  using Callback = std::function<void(ClientResponse)>;
  using Clock = std::chrono::steady_clock;

  // Idle pooled connections are closed after this long (nodes keep theirs for minutes).
  static constexpr auto kIdleKeep = std::chrono::seconds(60);
  // Idle connections kept per node; one more is closed instead of pooled.
  static constexpr size_t kMaxIdlePerNode = 64;

  // What the client needs of the event loop it runs in: a descriptor polled edge-triggered for
  // reading, writing and the peer's close, its events passed to OnEvent; and forgotten again.
  class Loop {
   public:
    virtual ~Loop() = default;
    virtual void Watch(int fd) = 0;
    virtual void Forget(int fd) = 0;
  };

  explicit ReactorClient(Loop* loop);
  // Completes every request in flight with status 0 and error "client stopped" and closes
  // every descriptor.
  ~ReactorClient();
  ReactorClient(const ReactorClient&) = delete;
  ReactorClient& operator=(const ReactorClient&) = delete;

  // The client of the reactor thread this runs on, while it runs a server event (a handler,
  // a completion); null on every other thread.
  static ReactorClient* Current();
  // Makes `client` Current() on this thread for the scope's life.
  class Scope {
   public:
    explicit Scope(ReactorClient* client);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ReactorClient* previous_;
  };

  // Whether Send carries `request` (see above).
  static bool Takes(const ClientRequest& request);

  // REQUIRES: Takes(request); on the loop's thread. `done` runs on this thread, from a later
  // RunCompletions(), never inside Send. `connection_id`, when given: the server connection
  // the request is made for (Responder::connection_id(); 0 is a valid id);
  // OnConnectionClosed(connection_id) abandons it (status 0, error "cancelled") and closes
  // its socket.
  void Send(ClientRequest request, Callback done,
            std::optional<uint64_t> connection_id = std::nullopt);

  // The loop's side, all on its thread.
  bool Owns(int fd) const { return sockets_.count(fd) != 0; }
  void OnEvent(int fd);
  // Timeouts, cancel flags, idle connections' age.
  void OnTick(Clock::time_point now);
  void OnConnectionClosed(uint64_t connection_id);
  // Runs the callbacks of the requests that ended since the last call (and of any they send
  // that end at once).
  void RunCompletions();

  size_t in_flight() const { return in_flight_; }
  size_t idle() const;

 private:
  struct Exchange;
  struct Socket;

  Socket* Open(const std::string& key, const void* address, unsigned address_length,
               std::string* error);
  void Start(Socket* socket);
  void Write(Socket* socket);
  void Read(Socket* socket);
  void Finish(Socket* socket, ClientResponse response, bool reusable);
  void Fail(Socket* socket, std::string error, bool too_large = false);
  // The connection died before any byte of the answer: retries when allowed, else fails.
  void Died(Socket* socket, std::string error);
  void Unbind(const Exchange& exchange);
  void Close(Socket* socket);
  void Complete(Callback done, ClientResponse response);

  Loop* loop_;
  std::unordered_map<int, std::unique_ptr<Socket>> sockets_;
  std::unordered_map<std::string, std::vector<int>> idle_;  // by "address:port", newest last
  std::unordered_multimap<uint64_t, int> by_connection_;    // bound requests' sockets
  size_t in_flight_ = 0;
  std::vector<std::pair<Callback, ClientResponse>> completions_;
  std::vector<char> buffer_;  // reads
};

}  // namespace gridhub::http
