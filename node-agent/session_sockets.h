#pragma once

// The node's WebSocket side (DESIGN 4a): for each live session, where its BiDi and CDP sockets
// go (SocketTargets) and the tunnels open for it on the node's one TunnelPump. It answers the
// upgrade routes `/session/{id}/se/bidi` and `/se/cdp` once the NodeAgent has let the caller
// in, reports socket traffic as session activity, and closes a session's tunnels when the
// session ends.
//
//   SessionSockets sockets(clock, client, [&](const SessionId& id) { book.Touch(id); });
//   sockets.Add(id, DriverSocketTargets(created.capabilities));  // before the answer goes out
//   sockets.Upgrade(id, SocketKind::kBidi, request, responder);   // GET .../se/bidi, Upgrade
//   sockets.End(id);                                              // the session ended
//
// An upgrade detaches the client's connection from the HTTP server and hands it to the pump,
// which dials the target (`127.0.0.1:{port}` of the driver, the DevTools address of the
// browser, a relay) with tunnel::UpgradeRequestHead: Host set to the target, no Origin (Chromium's
// DevTools endpoint refuses foreign ones). The CDP browser endpoint is looked up once per
// session, at its first /se/cdp, with `GET http://{debuggerAddress}/json/version` (on the
// HttpClient's thread: Upgrade never blocks).
//
// Thread-safety: thread-safe; one mutex, a leaf. No call into the pump or the HttpClient and
// no activity callback happens under it. `on_activity` runs on the pump's thread at most once
// a second per session (by the injected clock) and must be quick; LastTraffic() has the exact
// time of the last bytes.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/strong_id.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "node-agent/socket_targets.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::node {

class SessionSockets {
 public:
  using ActivityCallback = std::function<void(const SessionId&)>;
  // Open sockets per session on the node. The hub enforces hub.websockets-per-session (default
  // 10); this only bounds the node's descriptors against a direct caller that never closes.
  static constexpr size_t kMaxPerSession = 64;
  // Socket traffic touches the idle clock at most this often per session.
  static constexpr std::chrono::seconds kActivityPeriod{1};

  // `node_id` names the node in this class's log lines.
  SessionSockets(const Clock& clock, http::HttpClient& client, ActivityCallback on_activity,
                 std::string node_id = "");
  ~SessionSockets();  // closes every tunnel
  SessionSockets(const SessionSockets&) = delete;
  SessionSockets& operator=(const SessionSockets&) = delete;

  // Makes session `id`'s sockets reachable; false (nothing changed) when `id` is known already.
  bool Add(const SessionId& id, SocketTargets targets) EXCLUDES(mu_);
  // Forgets the session and closes its tunnels (the clients see their connections end).
  // Idempotent.
  void End(const SessionId& id) EXCLUDES(mu_);
  void EndAll() EXCLUDES(mu_);

  // Answers an upgrade request for session `id`'s `kind` socket, the caller already admitted:
  // 404 `invalid session id` for a session it does not know, 404 `unknown command` when the
  // session has no such socket, 400 without `Upgrade: websocket`, 429 over kMaxPerSession,
  // 502 when the DevTools address does not answer /json/version; otherwise the connection goes
  // to the pump (whose own failures are 502 with a W3C body).
  void Upgrade(const SessionId& id, SocketKind kind, const http::ServerRequest& request,
               http::Responder responder) EXCLUDES(mu_);

  // When bytes last passed on one of session `id`'s sockets (on_activity may not have been
  // told yet: it is told at most once per kActivityPeriod); nullopt when none ever did.
  std::optional<SteadyTime> LastTraffic(const SessionId& id) const EXCLUDES(mu_);

  // Tunnels of session `id` not closed yet (handshaking or open), and of every session.
  size_t tunnel_count(const SessionId& id) const EXCLUDES(mu_);
  size_t tunnel_count() const EXCLUDES(mu_);

 private:
  struct Entry {
    SocketTargets targets;
    // Keyed by our own number, taken before the pump is asked; the pump's id once Open returned
    // (0 until then).
    std::map<uint64_t, tunnel::TunnelId> tunnels;
    std::optional<std::string> browser_path;  // CDP: found via /json/version
    std::optional<SteadyTime> last_reported;  // to on_activity
    std::optional<SteadyTime> last_traffic;
  };
  // A tunnel's place in its session's entry while the connection is being handed over.
  struct Place {
    Place(SessionSockets* owner, SessionId id, uint64_t key)
        : owner(owner), id(std::move(id)), key(key) {}
    ~Place() {
      if (!handed_over) owner->Release(id, key);
    }
    Place(const Place&) = delete;
    Place& operator=(const Place&) = delete;
    SessionSockets* owner;
    SessionId id;
    uint64_t key;
    bool handed_over = false;
  };
  // What a resolved upgrade dials.
  struct Dial {
    SocketEndpoint upstream;
    std::string host_header;
  };

  void ResolveBrowserEndpoint(const SessionId& id, SocketEndpoint devtools, uint64_t key,
                              const http::Headers& headers, http::Responder responder)
      EXCLUDES(mu_);
  void Connect(const SessionId& id, uint64_t key, const Dial& dial, SocketKind kind,
               const http::Headers& headers, http::Responder& responder) EXCLUDES(mu_);
  void OpenTunnel(const SessionId& id, uint64_t key, SocketKind kind, std::string head,
                  SocketEndpoint upstream, http::DetachedConnection connection) EXCLUDES(mu_);
  void Release(const SessionId& id, uint64_t key) EXCLUDES(mu_);
  void OnBytes(const SessionId& id) EXCLUDES(mu_);

  const Clock& clock_;
  http::HttpClient& client_;
  const std::string node_id_;
  const ActivityCallback on_activity_;

  mutable Mutex mu_;
  std::map<SessionId, Entry> entries_ GUARDED_BY(mu_);
  uint64_t next_key_ GUARDED_BY(mu_) = 0;
  // Last: destroyed first, while the callbacks it runs on the way out still find mu_ and
  // entries_.
  tunnel::TunnelPump pump_;
};

}  // namespace gridhub::node
