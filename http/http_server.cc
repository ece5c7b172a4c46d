#include "http/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <shared_mutex>

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

}  // namespace

struct Responder::Impl {
  std::mutex mu;
  std::optional<Pistache::Http::ResponseWriter> writer;  // guarded by mu; reset once sent
  std::shared_ptr<Gate> gate;
  uint64_t connection_id = 0;

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
    std::shared_lock<std::shared_mutex> gate_lock(gate->mu);
    if (!gate->open) return false;
    if (taken->getPeer() == nullptr) return false;
    try {
      auto& out = taken->headers();
      for (const auto& [name, value] : headers) {
        out.add(std::make_shared<GenericHeader>(name, value));
      }
      if (!content_type.empty()) {
        out.add(std::make_shared<GenericHeader>("Content-Type", std::string(content_type)));
      }
      gate->WriteStarted();
      std::shared_ptr<Gate> g = gate;
      taken->send(static_cast<Pistache::Http::Code>(status), body)
          .then([g](ssize_t) { g->WriteFinished(); },
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

// Pistache clones one handler per reactor thread; the clones share the callbacks.
class PistacheHandler : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(PistacheHandler)

  explicit PistacheHandler(std::shared_ptr<Callbacks> callbacks)
      : callbacks_(std::move(callbacks)) {}

  void onRequest(const Pistache::Http::Request& request,
                 Pistache::Http::ResponseWriter writer) override {
    auto impl = std::make_shared<Responder::Impl>();
    impl->gate = callbacks_->gate;
    if (auto peer = writer.getPeer()) impl->connection_id = peer->getID();
    impl->writer.emplace(std::move(writer));
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
      callbacks_->on_request(std::move(converted), responder);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "gridhub: handler failed: %s\n", e.what());
      responder.Send(500, W3CErrorBody({ErrorCode::kInternal, e.what()}));
    } catch (...) {
      responder.Send(500, W3CErrorBody({ErrorCode::kInternal, "unknown failure"}));
    }
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
