#include "http/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "http/request_head.h"
#include "http/w3c_error.h"

namespace gridhub::http {

namespace {

// Lets Stop() wait for queued responses to reach the socket and keeps late Send() calls (from
// the hub's dispatcher or the curl thread) away from a transport that is being torn down.
struct Gate {
  std::shared_mutex mu;
  bool open = true;  // guarded by mu
  std::mutex flight_mu;
  std::condition_variable flight_cv;
  int in_flight = 0;  // guarded by flight_mu

  void WriteStarted() {
    std::lock_guard<std::mutex> lock(flight_mu);
    ++in_flight;
  }
  void WriteFinished() {
    std::lock_guard<std::mutex> lock(flight_mu);
    --in_flight;
    flight_cv.notify_all();
  }
};

// Pistache writes only typed headers on responses (raw ones are dropped), so every header we
// send is one of these.
class GenericHeader final : public Pistache::Http::Header::Header {
 public:
  GenericHeader(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& stream) const override { stream << value_; }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override { return std::hash<std::string>{}(name_); }
#endif

 private:
  std::string name_;
  std::string value_;
};

// What the responses of one connection share with its input side: how many requests await
// their response, and whether the connection closes after them (a request pipelined behind an
// unanswered one is not served: its connection closes after the pending answer, as RFC 9112
// §9.3.2 lets a client expect, so answers can never go out of order).
struct ConnectionShared {
  std::mutex mu;
  int outstanding = 0;       // guarded by mu
  bool close_after = false;  // guarded by mu
};

// Hop-by-hop headers describe one connection; they are never copied onto a response.
bool HopByHop(std::string_view name) {
  for (std::string_view h :
       {"Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade",
        "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Content-Length"}) {
    if (EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

// Ends the connection once its last response is written. Called on the reactor thread that
// owns the peer (the write completion), so its descriptor cannot have been closed and reused.
// Only our sending side is shut (FIN): closing outright with unread input (a body still on its
// way after a 413) would reset the connection and could destroy the answer before the client
// reads it. The client reads the answer and EOF, closes, and Pistache then drops the peer.
void CloseAfterWrite(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  if (peer != nullptr) ::shutdown(peer->fd(), SHUT_WR);
}

}  // namespace

struct Responder::Impl {
  std::mutex mu;
  std::optional<Pistache::Http::ResponseWriter> writer;  // guarded by mu; reset once sent
  std::shared_ptr<Gate> gate;
  uint64_t connection_id = 0;
  std::shared_ptr<ConnectionShared> connection;
  bool close = false;       // the client asked for Connection: close (or spoke HTTP/1.0)
  bool keep_alive = false;  // an HTTP/1.0 client asked for keep-alive

  ~Impl() {
    // A request nobody answered would leave its client hanging forever.
    if (writer.has_value()) {
      SendNow(500, W3CErrorBody({ErrorCode::kInternal, "request dropped without an answer"}), {},
              "application/json; charset=utf-8");
    }
  }

  bool SendNow(int status, std::string body, const Headers& headers,
               std::string_view content_type) {
    std::optional<Pistache::Http::ResponseWriter> taken;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!writer.has_value()) return false;
      taken.emplace(std::move(*writer));
      writer.reset();
    }
    bool close_connection = close;
    if (connection != nullptr) {
      std::lock_guard<std::mutex> lock(connection->mu);
      connection->outstanding--;
      close_connection = close_connection || connection->close_after;
    }
    std::shared_lock<std::shared_mutex> gate_lock(gate->mu);
    if (!gate->open) return false;
    std::shared_ptr<Pistache::Tcp::Peer> peer = taken->getPeer();
    if (peer == nullptr) return false;
    try {
      auto& out = taken->headers();
      out.remove("Connection");
      for (const auto& [name, value] : headers) {
        if (!HopByHop(name)) out.add(std::make_shared<GenericHeader>(name, value));
      }
      if (!content_type.empty()) {
        out.add(std::make_shared<GenericHeader>("Content-Type", std::string(content_type)));
      }
      // Say only what is true: HTTP/1.1 keeps the connection by default; close is announced
      // only when it really closes.
      if (close_connection) {
        out.add(std::make_shared<GenericHeader>("Connection", "close"));
      } else if (keep_alive) {
        out.add(std::make_shared<GenericHeader>("Connection", "keep-alive"));
      }
      gate->WriteStarted();
      std::shared_ptr<Gate> g = gate;
      taken->send(static_cast<Pistache::Http::Code>(status), body)
          .then(
              [g, peer, close_connection](ssize_t) {
                if (close_connection) CloseAfterWrite(peer);
                g->WriteFinished();
              },
              [g](std::exception_ptr) { g->WriteFinished(); });
      return true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gridhub: response write failed: %s\n", e.what());
      return false;
    }
  }
};

bool Responder::Send(int status, std::string body, const Headers& headers,
                     std::string_view content_type) {
  if (impl_ == nullptr) return false;
  return impl_->SendNow(status, std::move(body), headers, content_type);
}

bool Responder::PeerConnected() const {
  if (impl_ == nullptr) return false;
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->writer.has_value() && impl_->writer->getPeer() != nullptr;
}

bool Responder::sent() const {
  if (impl_ == nullptr) return true;
  std::lock_guard<std::mutex> lock(impl_->mu);
  return !impl_->writer.has_value();
}

uint64_t Responder::connection_id() const { return impl_ == nullptr ? 0 : impl_->connection_id; }

namespace {

struct Callbacks {
  RequestHandler on_request;
  DisconnectHandler on_disconnect;
  std::shared_ptr<Gate> gate;
  size_t max_body = 0;
};

// The input side of one connection; touched only on its reactor thread.
struct ConnectionInput {
  std::string pending;           // bytes not yet handed to Pistache's parser
  bool closing = false;          // answered with Connection: close; later input is ignored
  bool in_chunked_body = false;  // Pistache's parser is reading a chunked body
  HeadCheck head;                // of the request being read
  std::shared_ptr<ConnectionShared> shared = std::make_shared<ConnectionShared>();
};

constexpr const char* kInputKey = "gridhub.input";

// Pistache clones one handler per reactor thread; the clones share the callbacks. Input is
// framed here, not by Pistache: each request head is checked (InspectRequestHead) before
// Pistache's parser sees it, and the parser is fed exactly one request at a time, so a bad
// head gets a clean 4xx and the connection closes, and pipelined requests are not lost.
class PistacheHandler : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(PistacheHandler)

  explicit PistacheHandler(std::shared_ptr<Callbacks> callbacks)
      : callbacks_(std::move(callbacks)) {}

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    std::shared_ptr<ConnectionInput> input = InputOf(peer);
    if (input->closing) return;
    if (input->in_chunked_body) return Feed(peer, *input, std::string_view(buffer, len));
    input->pending.append(buffer, len);
    const HeadLimits limits{.max_body = callbacks_->max_body};
    while (!input->closing && !input->pending.empty()) {
      // RFC 9112 §2.2: blank lines before a request line are ignored.
      size_t blank = 0;
      while (input->pending.compare(blank, 2, "\r\n") == 0) blank += 2;
      input->pending.erase(0, blank);
      if (input->pending.empty()) return;
      HeadCheck check = InspectRequestHead(input->pending, limits);
      if (check.verdict == HeadVerdict::kIncomplete) return;
      if (check.verdict == HeadVerdict::kBad) return Reject(peer, *input, check);
      {
        std::lock_guard<std::mutex> lock(input->shared->mu);
        if (input->shared->outstanding > 0) {
          // Pipelined behind an unanswered request: close after that answer instead.
          input->shared->close_after = true;
          input->closing = true;
          input->pending.clear();
          return;
        }
      }
      input->head = check;
      if (check.chunked) {
        std::string all = std::move(input->pending);
        input->pending.clear();
        return Feed(peer, *input, all);
      }
      const size_t whole = check.head_size + check.content_length;
      if (input->pending.size() < whole) return;  // the body is still arriving
      std::string one = input->pending.substr(0, whole);
      input->pending.erase(0, whole);
      Feed(peer, *input, one);
    }
  }

  void onRequest(const Pistache::Http::Request& request,
                 Pistache::Http::ResponseWriter writer) override {
    Handle(request, std::move(writer), nullptr);
  }

  void Handle(const Pistache::Http::Request& request, Pistache::Http::ResponseWriter writer,
              const ConnectionInput* input) {
    auto impl = std::make_shared<Responder::Impl>();
    impl->gate = callbacks_->gate;
    if (auto peer = writer.getPeer()) impl->connection_id = peer->getID();
    impl->writer.emplace(std::move(writer));
    if (input != nullptr) {
      impl->connection = input->shared;
      impl->close = input->head.close;
      impl->keep_alive = input->head.http10 && input->head.keep_alive;
      std::lock_guard<std::mutex> lock(impl->connection->mu);
      impl->connection->outstanding++;
    }
    Responder responder(impl);
    try {
      if (request.body().size() > callbacks_->max_body) {
        responder.Send(413,
                       W3CErrorBody({ErrorCode::kPayloadTooLarge,
                                     "request body of " + std::to_string(request.body().size()) +
                                         " bytes exceeds server.max-body (" +
                                         std::to_string(callbacks_->max_body) + ")"}));
        return;
      }
      ServerRequest converted;
      converted.method = Pistache::Http::methodString(request.method());
      converted.path = request.resource();
      converted.query = request.query().as_str();
      for (const auto& [name, raw] : request.headers().rawList()) {
        converted.headers.emplace_back(raw.name(), raw.value());
      }
      converted.body = request.body();
      converted.connection_id = impl->connection_id;
      if (auto peer = impl->writer->getPeer()) converted.peer_address = peer->address().host();
      callbacks_->on_request(std::move(converted), responder);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gridhub: handler failed: %s\n", e.what());
      responder.Send(500, W3CErrorBody({ErrorCode::kInternal, e.what()}));
    } catch (...) {
      responder.Send(500, W3CErrorBody({ErrorCode::kInternal, "unknown failure"}));
    }
  }

  // Hands one complete request (or, for a chunked body, what has arrived of it) to Pistache's
  // parser and serves it once parsed.
  void Feed(const std::shared_ptr<Pistache::Tcp::Peer>& peer, ConnectionInput& input,
            std::string_view bytes) {
    std::shared_ptr<Pistache::Http::RequestParser> parser = getParser(peer);
    try {
      if (!parser->feed(bytes.data(), bytes.size())) {
        parser->reset();
        HeadCheck too_large;
        too_large.status = 413;
        too_large.message = "request larger than server.max-body";
        return Reject(peer, input, too_large);
      }
      if (parser->parse() != Pistache::Http::Private::State::Done) {
        if (input.head.chunked) {
          input.in_chunked_body = true;
          return;
        }
        parser->reset();
        HeadCheck bad;
        bad.status = 400;
        bad.message = "malformed request";
        return Reject(peer, input, bad);
      }
      input.in_chunked_body = false;
      Pistache::Http::Request request = parser->request;
      parser->reset();
      Pistache::Http::ResponseWriter writer(request.version(), transport(), this, peer);
      Handle(request, std::move(writer), &input);
      if (input.head.close) input.closing = true;
    } catch (const Pistache::Http::HttpError& e) {
      parser->reset();
      HeadCheck bad;
      bad.status = e.code() >= 400 && e.code() < 600 ? e.code() : 400;
      bad.message = e.reason();
      Reject(peer, input, bad);
    } catch (const std::exception& e) {
      parser->reset();
      HeadCheck bad;
      bad.status = 400;
      bad.message = std::string("malformed request: ") + e.what();
      Reject(peer, input, bad);
    }
  }

  // Answers a request that cannot be served with a W3C error and closes the connection: after
  // a bad head the stream cannot be re-synchronised.
  void Reject(const std::shared_ptr<Pistache::Tcp::Peer>& peer, ConnectionInput& input,
              const HeadCheck& check) {
    input.closing = true;
    input.in_chunked_body = false;
    input.pending.clear();
    {
      std::lock_guard<std::mutex> lock(input.shared->mu);
      if (input.shared->outstanding > 0) {
        input.shared->close_after = true;  // the pending answer closes it
        return;
      }
    }
    try {
      Pistache::Http::ResponseWriter writer(Pistache::Http::Version::Http11, transport(), this,
                                            peer);
      writer.headers().add(
          std::make_shared<GenericHeader>("Content-Type", "application/json; charset=utf-8"));
      writer.headers().add(std::make_shared<GenericHeader>("Connection", "close"));
      ErrorCode code =
          check.status == 413 ? ErrorCode::kPayloadTooLarge : ErrorCode::kInvalidArgument;
      std::shared_ptr<Pistache::Tcp::Peer> held = peer;
      writer
          .send(static_cast<Pistache::Http::Code>(check.status),
                W3CErrorBody({code, check.message}))
          .then([held](ssize_t) { CloseAfterWrite(held); }, [](std::exception_ptr) {});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gridhub: rejecting a request failed: %s\n", e.what());
      CloseAfterWrite(peer);
    }
  }

  static std::shared_ptr<ConnectionInput> InputOf(
      const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    auto data = std::static_pointer_cast<ConnectionInput>(peer->tryGetData(kInputKey));
    if (data == nullptr) {
      data = std::make_shared<ConnectionInput>();
      peer->putData(kInputKey, data);
    }
    return data;
  }

  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    if (callbacks_->on_disconnect && peer != nullptr) {
      try {
        callbacks_->on_disconnect(peer->getID());
      } catch (...) {
        std::fputs("gridhub: disconnect handler failed\n", stderr);
      }
    }
  }

 private:
  std::shared_ptr<Callbacks> callbacks_;
};

}  // namespace

struct HttpServer::State {
  ServerOptions options;
  std::shared_ptr<Callbacks> callbacks;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  std::mutex mu;
  bool started = false;
  bool stopped = false;
};

HttpServer::HttpServer(ServerOptions options, RequestHandler on_request,
                       DisconnectHandler on_disconnect)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->callbacks = std::make_shared<Callbacks>();
  state_->callbacks->on_request = std::move(on_request);
  state_->callbacks->on_disconnect = std::move(on_disconnect);
  state_->callbacks->gate = std::make_shared<Gate>();
  state_->callbacks->max_body = state_->options.max_body;
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  std::lock_guard<std::mutex> lock(state_->mu);
  const ServerOptions& options = state_->options;
  std::string where = options.host + ":" + std::to_string(options.port);
  try {
    Pistache::Address address(options.host, Pistache::Port(options.port));
    auto endpoint = std::make_unique<Pistache::Http::Endpoint>(address);
    // Headers and framing ride on top of the body limit.
    size_t limit = options.max_body + (size_t{64} << 10);
    auto pistache_options =
        Pistache::Http::Endpoint::options()
            .threads(std::max(1, options.threads))
            .flags(Pistache::Tcp::Options::ReuseAddr | Pistache::Tcp::Options::NoDelay)
            .maxRequestSize(limit)
            .maxResponseSize(limit)
            .headerTimeout(options.idle_timeout)
            .bodyTimeout(options.idle_timeout)
            .keepaliveTimeout(options.idle_timeout);
    endpoint->init(pistache_options);
    endpoint->setHandler(Pistache::Http::make_handler<PistacheHandler>(state_->callbacks));
    endpoint->serveThreaded();
    port_.store(static_cast<uint16_t>(endpoint->getPort()));
    state_->endpoint = std::move(endpoint);
    state_->started = true;
    return Status::Ok();
  } catch (const std::exception& e) {
    return Error{ErrorCode::kUnavailable, "cannot listen on " + where + ": " + e.what()};
  }
}

void HttpServer::Stop() {
  std::lock_guard<std::mutex> lock(state_->mu);
  if (!state_->started || state_->stopped) return;
  state_->stopped = true;
  Gate& gate = *state_->callbacks->gate;
  {
    // Responses already queued get a moment to reach their sockets; nothing new is queued.
    std::unique_lock<std::mutex> flight(gate.flight_mu);
    gate.flight_cv.wait_for(flight, std::chrono::seconds(2), [&] { return gate.in_flight == 0; });
  }
  {
    std::unique_lock<std::shared_mutex> closing(gate.mu);
    gate.open = false;
  }
  try {
    state_->endpoint->shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gridhub: server shutdown: %s\n", e.what());
  }
}

}  // namespace gridhub::http
