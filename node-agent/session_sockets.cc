#include "node-agent/session_sockets.h"

#include <unistd.h>

#include <utility>
#include <vector>

#include "http/w3c_error.h"
#include "node-agent/answer_fields.h"
#include "node-agent/node_log.h"

namespace gridhub::node {

namespace {

constexpr std::chrono::seconds kJsonVersionTimeout{5};
constexpr size_t kJsonVersionMaxBody = size_t{64} << 10;

void SendError(http::Responder& responder, ErrorCode code, const std::string& message,
               int status = 0) {
  responder.Send(status != 0 ? status : http::HttpStatus(code),
                 http::W3CErrorBody(Error{code, message}));
}

std::string Describe(const SessionId& id, SocketKind kind) {
  return std::string(SocketKindName(kind)) + " socket of session " + id.str();
}

std::string NoTargetMessage(const SessionId& id, SocketKind kind) {
  if (kind == SocketKind::kBidi) {
    return "session " + id.str() +
           " has no BiDi socket: its driver returned no webSocketUrl (create the session with "
           "\"webSocketUrl\": true, on a driver that supports WebDriver BiDi)";
  }
  return "session " + id.str() +
         " has no CDP socket: its driver reported no DevTools address (goog:chromeOptions or "
         "ms:edgeOptions debuggerAddress; Chromium-family browsers only)";
}

}  // namespace

SessionSockets::SessionSockets(const Clock& clock, http::HttpClient& client,
                               ActivityCallback on_activity, std::string node_id)
    : clock_(clock),
      client_(client),
      node_id_(std::move(node_id)),
      on_activity_(std::move(on_activity)) {}

SessionSockets::~SessionSockets() { EndAll(); }

bool SessionSockets::Add(const SessionId& id, SocketTargets targets) {
  MutexLock lock(mu_);
  return entries_.emplace(id, Entry{.targets = std::move(targets)}).second;
}

void SessionSockets::End(const SessionId& id) {
  std::vector<tunnel::TunnelId> open;
  {
    MutexLock lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    for (const auto& [key, tunnel] : it->second.tunnels) {
      // 0: not opened yet; OpenTunnel finds the entry gone and closes what it was given.
      if (tunnel != 0) open.push_back(tunnel);
    }
    entries_.erase(it);
  }
  for (tunnel::TunnelId tunnel : open) pump_.Close(tunnel);
}

void SessionSockets::EndAll() {
  std::vector<SessionId> ids;
  {
    MutexLock lock(mu_);
    for (const auto& [id, entry] : entries_) ids.push_back(id);
  }
  for (const SessionId& id : ids) End(id);
}

std::optional<SteadyTime> SessionSockets::LastTraffic(const SessionId& id) const {
  MutexLock lock(mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? std::nullopt : it->second.last_traffic;
}

size_t SessionSockets::tunnel_count(const SessionId& id) const {
  MutexLock lock(mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? 0 : it->second.tunnels.size();
}

size_t SessionSockets::tunnel_count() const {
  MutexLock lock(mu_);
  size_t count = 0;
  for (const auto& [id, entry] : entries_) count += entry.tunnels.size();
  return count;
}

void SessionSockets::Upgrade(const SessionId& id, SocketKind kind,
                             const http::ServerRequest& request, http::Responder responder) {
  std::optional<Dial> dial;
  std::optional<SocketEndpoint> devtools;
  uint64_t key = 0;
  {
    MutexLock lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
      return SendError(responder, ErrorCode::kInvalidSessionId, "no such session " + id.str());
    }
    Entry& entry = it->second;
    if (!entry.targets.has(kind)) {
      return SendError(responder, ErrorCode::kUnknownCommand, NoTargetMessage(id, kind));
    }
    if (!tunnel::IsWebSocketUpgrade(request.headers)) {
      return SendError(responder, ErrorCode::kInvalidArgument,
                       request.path +
                           " is a WebSocket endpoint: send GET with \"Upgrade: "
                           "websocket\" and \"Connection: Upgrade\"");
    }
    if (entry.tunnels.size() >= kMaxPerSession) {
      return SendError(responder, ErrorCode::kInternal,
                       "session " + id.str() + " has " + std::to_string(kMaxPerSession) +
                           " open sockets on this node, the most it allows",
                       429);
    }
    key = ++next_key_;
    entry.tunnels.emplace(key, 0);
    const SocketTargets& t = entry.targets;
    if (kind == SocketKind::kBidi) {
      dial = Dial{*t.bidi, t.bidi->HostPort()};
    } else if (t.cdp) {
      dial = Dial{*t.cdp, t.cdp->HostPort()};
    } else if (entry.browser_path) {
      SocketEndpoint browser = *t.devtools;
      browser.path = *entry.browser_path;
      dial = Dial{browser, browser.HostPort()};
    } else {
      devtools = *t.devtools;
    }
  }
  if (dial) return Connect(id, key, *dial, kind, request.headers, responder);
  ResolveBrowserEndpoint(id, std::move(*devtools), key, request.headers, std::move(responder));
}

void SessionSockets::ResolveBrowserEndpoint(const SessionId& id, SocketEndpoint devtools,
                                            uint64_t key, const http::Headers& headers,
                                            http::Responder responder) {
  std::string url = "http://" + devtools.HostPort() + "/json/version";
  client_.Send(
      // Asked once per session, on a port that goes with the browser: not worth keeping open.
      {.url = url,
       .headers = {{"Connection", "close"}},
       .timeout = kJsonVersionTimeout,
       .max_response_body = kJsonVersionMaxBody},
      [this, id, key, url, devtools = std::move(devtools), headers,
       responder](const http::ClientResponse& answer) mutable {
        Result<std::string> path = answer.status == 200
                                       ? BrowserEndpointPath(answer.body)
                                       : Result<std::string>(InvalidArgument(FailureText(answer)));
        if (!path.ok()) {
          Release(id, key);
          NodeLog(log::Level::kWarn, "node.devtools_unavailable", node_id_,
                  "cdp socket of session " + id.str() + ": " + url + ": " + path.error().message,
                  {.session_id = id.str()});
          return SendError(responder, ErrorCode::kUnavailable,
                           "the browser's DevTools endpoint did not answer " + url + ": " +
                               path.error().message);
        }
        bool known = false;
        {
          MutexLock lock(mu_);
          auto it = entries_.find(id);
          if (it != entries_.end()) {
            it->second.browser_path = *path;  // the browser's endpoint lives as long as it
            known = true;
          }
        }
        if (!known) {
          return SendError(responder, ErrorCode::kInvalidSessionId,
                           "session " + id.str() + " has ended");
        }
        devtools.path = *path;
        Connect(id, key, Dial{devtools, devtools.HostPort()}, SocketKind::kCdp, headers, responder);
      });
}

void SessionSockets::Connect(const SessionId& id, uint64_t key, const Dial& dial, SocketKind kind,
                             const http::Headers& headers, http::Responder& responder) {
  // The registration secret proves the caller to this node; a driver or browser has no use
  // for it.
  http::Headers forwarded;
  for (const auto& header : headers) {
    if (!http::EqualsIgnoreCase(header.first, "X-Registration-Secret")) forwarded.push_back(header);
  }
  std::string head = tunnel::UpgradeRequestHead(forwarded, dial.upstream.path, dial.host_header);
  // The server may also drop `take` unrun (the client left first, or Detach said no): the
  // place is given back when the last copy of it goes.
  auto place = std::make_shared<Place>(this, id, key);
  responder.Detach([this, place, kind, head = std::move(head),
                    upstream = dial.upstream](http::DetachedConnection connection) mutable {
    place->handed_over = true;
    OpenTunnel(place->id, place->key, kind, std::move(head), std::move(upstream),
               std::move(connection));
  });
}

void SessionSockets::OpenTunnel(const SessionId& id, uint64_t key, SocketKind kind,
                                std::string head, SocketEndpoint upstream,
                                http::DetachedConnection connection) {
  {
    MutexLock lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.tunnels.count(key) == 0) {
      ::close(connection.fd);  // the session ended while the connection was being detached
      return;
    }
  }
  std::string what = Describe(id, kind);
  tunnel::TunnelRequest request{
      .client_fd = connection.fd,
      .client_early_bytes = std::move(connection.early_bytes),
      .request_head = std::move(head),
      .upstream = {upstream.host, upstream.port},
      .events = {.on_handshake =
                     [what, target = upstream.HostPort() + upstream.path, node = node_id_,
                      session = id.str()](bool upgraded, int status, const std::string& reason) {
                       if (upgraded) return;
                       NodeLog(log::Level::kWarn, "node.websocket_refused", node,
                               what + ": " + target + " refused the upgrade (" +
                                   (status != 0 ? "HTTP " + std::to_string(status) + ", " : "") +
                                   reason + ")",
                               {.session_id = session});
                     },
                 .on_bytes = [this, id](tunnel::Direction, size_t) { OnBytes(id); },
                 .on_closed = [this, id, key] { Release(id, key); }}};
  tunnel::TunnelId tunnel = pump_.Open(std::move(request));
  bool orphan = true;
  {
    MutexLock lock(mu_);
    if (auto it = entries_.find(id); it != entries_.end()) {
      if (auto t = it->second.tunnels.find(key); t != it->second.tunnels.end()) {
        t->second = tunnel;
        orphan = false;
      }
    }
  }
  // Gone already: closed by the pump (Close is then a no-op) or its session ended meanwhile.
  if (orphan) pump_.Close(tunnel);
}

void SessionSockets::Release(const SessionId& id, uint64_t key) {
  MutexLock lock(mu_);
  if (auto it = entries_.find(id); it != entries_.end()) it->second.tunnels.erase(key);
}

void SessionSockets::OnBytes(const SessionId& id) {
  bool touch = false;
  {
    MutexLock lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    SteadyTime now = clock_.Now();
    it->second.last_traffic = now;
    std::optional<SteadyTime>& reported = it->second.last_reported;
    if (!reported || now - *reported >= kActivityPeriod) {
      reported = now;
      touch = true;
    }
  }
  if (touch && on_activity_) on_activity_(id);
}

}  // namespace gridhub::node
