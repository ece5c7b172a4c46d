#pragma once

// Inbound HTTP, reduced to what gridhub's services need: a request value, a Responder that may
// be completed later from any thread, and a disconnect callback so a long-held request (POST
// /session waiting in the queue) learns that its client has gone. Pistache 0.0.5 accepts
// connections and moves bytes; framing (request_head.h), time limits (connection_clock.h),
// the connection cap and the answers on the wire are ours (README.md says why).
//
//   HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 2},
//                     [](ServerRequest request, Responder responder) {
//                       responder.Send(200, R"({"value": {"ready": true}})");
//                     });
//   Status started = server.Start();
//   uint16_t port = server.port();  // the bound port, also when 0 was asked for
//   server.Stop();

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/http_types.h"

namespace gridhub::http {

struct ServerRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query, byte for byte as sent (not percent-decoded)
  std::string query;   // "" or "?" + the raw query as sent ("?b=2&a=1&a=3")
  // A HEAD request: `method` reads "GET" so it is handled as one, and the answer goes out with
  // the GET's headers (Content-Length included) but without its body (RFC 9110 §9.3.2).
  bool head = false;
  Headers headers;
  std::string body;
  // Identifies the TCP connection the request arrived on; the disconnect callback reports it.
  uint64_t connection_id = 0;
  // The client's IP address as text ("127.0.0.1", "::1", "10.0.0.2"); "" when unknown.
  std::string peer_address;

  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
};

// A client connection taken out of the server by Responder::Detach (a WebSocket upgrade): the
// descriptor is no longer polled, timed or closed by the server; it belongs to whoever took it.
struct DetachedConnection {
  int fd = -1;
  std::string early_bytes;  // bytes the client sent after the request head, not yet framed
};

// Completes one request. A cheap copyable handle: copies refer to the same pending response,
// and only the first Send() goes out. Thread-safe; Send() never blocks on the network.
class Responder {
 public:
  struct Impl;
  Responder() = default;
  explicit Responder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

  // Queues the response. False when it could not be handed to the connection: the client is
  // gone, or a response was already sent.
  bool Send(int status, std::string body, const Headers& headers = {},
            std::string_view content_type = "application/json; charset=utf-8");
  // Instead of answering, takes the connection out of the server: on the connection's reactor
  // thread, once every earlier answer on it has been written, `take` receives its descriptor
  // (which the callee now owns and must close; non-blocking, close-on-exec) and the bytes read
  // past this request's head. The server then forgets the connection (its disconnect callback
  // runs; it no longer counts against max_connections). False, and `take` is never called,
  // when the client is gone or an answer was already sent. `take` may also never be called
  // after true: the client left before the hand-off, or sent more than 64 KiB after the head
  // (the connection is dropped); it is then destroyed unrun. `take` must not throw.
  //
  // For a request that asks for an upgrade (`Upgrade` + `Connection: upgrade`) the server
  // reads nothing after its head as HTTP: those bytes wait for the Detach, and an answer sent
  // instead (404, 401, 429) closes the connection. Other requests may be detached too, but
  // bytes after their head are read as the next request.
  bool Detach(std::function<void(DetachedConnection)> take);
  // False once the client's connection has closed.
  bool PeerConnected() const;
  bool sent() const;
  uint64_t connection_id() const;

 private:
  std::shared_ptr<Impl> impl_;
};

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 0;  // 0 = ephemeral; see HttpServer::port()
  int threads = 2;
  // Largest request body accepted (413 beyond it).
  size_t max_body = size_t{64} << 20;
  // Open client connections; a connection over it is answered 503 and closed. Start() lowers
  // it below the open-files limit (with a reserve) so accept() never runs out of descriptors.
  size_t max_connections = 4096;
  // A request head must be complete this long after its first byte (a new connection: after
  // it was accepted); otherwise 408 and close.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(30);
  // A body slower than this many bytes per second (measured over windows of header_timeout
  // from the end of its head) is cut off with 408. 0 = no minimum. A request whose answer is
  // pending (a long-polled POST /session) has no time limit at all.
  size_t min_body_rate = 4096;
  // A kept-alive connection with no request in progress is closed after this long (clients
  // reconnect; nothing is said, as a 408 could cross the client's next request).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(300);
};

// Raises this process's open-files soft limit to its hard limit (done once at start by
// `gridhub`); returns the limit now in force, and the one before in *before when not null.
uint64_t RaiseOpenFilesLimit(uint64_t* before = nullptr);

// Called on a server thread for every complete request. Must not block for long: anything
// slow moves the Responder elsewhere and returns.
using RequestHandler = std::function<void(ServerRequest request, Responder responder)>;
// Called on a server thread when a client connection closes.
using DisconnectHandler = std::function<void(uint64_t connection_id)>;

// Thread-safe. Stop() is idempotent and also run by the destructor.
class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler on_request,
             DisconnectHandler on_disconnect = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on background threads. kUnavailable when the address cannot be
  // bound (the message names it).
  Status Start();
  uint16_t port() const { return port_.load(); }
  // The connection cap in force after Start(): ServerOptions::max_connections, or less when
  // the open-files limit is lower.
  size_t max_connections() const;
  void Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::atomic<uint16_t> port_{0};
};

}  // namespace gridhub::http
