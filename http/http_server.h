#pragma once

// Inbound HTTP over Pistache 0.0.5, reduced to what gridhub's services need: a request value,
// a Responder that may be completed later from any thread, and a disconnect callback so a
// long-held request (POST /session waiting in the queue) learns that its client has gone.
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
  std::string path;    // without the query, as sent (not percent-decoded)
  std::string query;   // "" or "?a=b&c=d"
  Headers headers;
  std::string body;
  // Identifies the TCP connection the request arrived on; the disconnect callback reports it.
  uint64_t connection_id = 0;
  // The client's IP address as text ("127.0.0.1", "::1", "10.0.0.2"); "" when unknown.
  std::string peer_address;

  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
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
  // Largest request body accepted (413 beyond it) and largest response sent.
  size_t max_body = size_t{64} << 20;
  // How long a connection may stay idle or hold a request open. Long: POST /session waits
  // in the queue for up to queue.timeout.
  std::chrono::seconds idle_timeout = std::chrono::hours(2);
};

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
  void Stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::atomic<uint16_t> port_{0};
};

}  // namespace gridhub::http
