// HubService: WebSockets through the hub (DESIGN 4a) and session events (4b) — the PUBLIC of a
// new-session request, the rewriting of its answer's socket URLs, the upgrade endpoints that
// hand a client's connection to the tunnel pump, the per-session socket book, and
// POST /session/{id}/se/event. The byte relay itself is tunnel/'s (docs/websockets.md).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/log.h"
#include "http/json_body.h"
#include "http/w3c_error.h"
#include "hub/hub_service.h"
#include "hub/public_url.h"
#include "hub/request_path.h"
#include "hub/session_event.h"
#include "hub/socket_answer.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

// A bare node's DevTools endpoint answers /json/version at once or not at all; a creation
// waits for it, so it is kept short.
constexpr auto kDevToolsProbeTimeout = std::chrono::seconds(2);
constexpr size_t kDevToolsProbeMaxBody = size_t{64} << 10;

std::string_view KindName(SocketKind kind) { return kind == SocketKind::kBidi ? "bidi" : "cdp"; }

metrics::WebSocketKind MetricKind(SocketKind kind) {
  return kind == SocketKind::kBidi ? metrics::WebSocketKind::kBidi : metrics::WebSocketKind::kCdp;
}

void SendError(http::Responder& responder, const Error& error, int status = 0) {
  responder.Send(status != 0 ? status : http::HttpStatus(error.code), http::W3CErrorBody(error));
}

// Which socket an upgrade path asks for: /session/{id}/se/bidi|cdp or /devtools/{id}.
std::optional<SocketKind> SocketKindOfPath(const std::vector<std::string_view>& segments) {
  if (segments.size() == 2 && segments[0] == "devtools") return SocketKind::kCdp;
  if (segments.size() != 4 || segments[0] != "session" || segments[2] != "se") return std::nullopt;
  if (segments[3] == "bidi") return SocketKind::kBidi;
  if (segments[3] == "cdp") return SocketKind::kCdp;
  return std::nullopt;
}

// Where the hub dials a session's socket: a node agent at {node uri}/session/{id}/se/{kind}
// (its own upgrade endpoints), a bare node at the URL its answer named (SocketOffer).
struct UpstreamPlan {
  tunnel::Upstream upstream;
  std::string target;     // the request target sent upstream
  std::string host_port;  // its Host header
};

std::optional<UpstreamPlan> PlanUpstream(const SessionRoute& route, const std::string& session,
                                         SocketKind kind) {
  if (route.bare_node) {
    const std::string& url =
        kind == SocketKind::kBidi ? route.sockets.bidi_upstream : route.sockets.cdp_upstream;
    std::optional<SocketTarget> target = ParseSocketTarget(url);
    if (!target) return std::nullopt;
    return UpstreamPlan{{target->host, target->port}, target->path, target->host_port()};
  }
  Result<NodeUri> node = ParseNodeUri(route.node_uri);
  // The tunnel speaks plain TCP: an https node's sockets cannot be relayed.
  if (!node.ok() || node->scheme != "http") return std::nullopt;
  SocketTarget at{node->host, node->port, ""};
  return UpstreamPlan{{node->host, node->port},
                      node->path + "/session/" + session + "/se/" + std::string(KindName(kind)),
                      at.host_port()};
}

// A client-supplied value as it may appear in a log line: printable ASCII only.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// New-session answers

std::string HubService::PublicBaseFor(const http::ServerRequest& request, bool legacy,
                                      std::string_view remote_url) const {
  const config::HubSettings& hub = initial_settings_.hub;
  // Forwarded by another hub of the grid: the URLs point at the hub the client talks to.
  if (std::optional<PeerCaller> peer = PeerOf(request); peer && !peer->public_base.empty()) {
    return peer->public_base;
  }
  std::optional<PublicBase> base =
      ChoosePublicBase({.configured = hub.public_url,
                        .remote_url = remote_url,
                        .trust_forwarded = hub.trust_forwarded,
                        .forwarded = request.Header("Forwarded"),
                        .x_forwarded_proto = request.Header("X-Forwarded-Proto"),
                        .x_forwarded_host = request.Header("X-Forwarded-Host"),
                        .x_forwarded_port = request.Header("X-Forwarded-Port"),
                        .x_forwarded_prefix = request.Header("X-Forwarded-Prefix"),
                        .host = request.Header("Host"),
                        .legacy = legacy});
  return base.has_value() ? base->str() : "";
}

void HubService::OnCreateAnswer(PendingCreate pending, CreateAnswer answer) {
  if (answer.session_id.has_value() && pending.bare_node && !pending.public_base.empty()) {
    const json* caps = AnswerCapabilities(answer.body);
    const std::string address = caps != nullptr ? DebuggerAddressOf(*caps) : "";
    Result<NodeUri> node = ParseNodeUri(pending.node_uri);
    if (!address.empty() && node.ok() && DebuggerAddressReachable(address, *node)) {
      // se:cdp is offered for a bare node only when the hub itself reaches its DevTools.
      client_.Send({.url = "http://" + address + "/json/version",
                    .timeout = kDevToolsProbeTimeout,
                    .max_response_body = kDevToolsProbeMaxBody},
                   [this, pending, answer, address](http::ClientResponse response) mutable {
                     std::string cdp = response.transport_ok() && response.status == 200
                                           ? CdpUpstreamFromVersion(address, response.body)
                                           : "";
                     FinishCreate(std::move(pending), std::move(answer), std::move(cdp));
                   });
      return;
    }
  }
  FinishCreate(std::move(pending), std::move(answer), "");
}

void HubService::FinishCreate(PendingCreate pending, CreateAnswer answer,
                              std::string cdp_upstream) {
  if (answer.session_id.has_value()) {
    Result<NodeUri> node = ParseNodeUri(pending.node_uri);
    answer.sockets = RewriteSocketUrls(answer.body, *answer.session_id,
                                       {.public_base = pending.public_base,
                                        .bare_node = pending.bare_node,
                                        .node_uri = node.ok() ? &*node : nullptr,
                                        .cdp_upstream = std::move(cdp_upstream)});
  }
  Execute(grid_.OnCreateResult(pending.request, pending.node_id, pending.node_uri, pending.slot_id,
                               std::move(answer)));
}

// ---------------------------------------------------------------------------------------------
// Upgrade endpoints

void HubService::AddSocketRoutes() {
  // One row each, before the generic /session/{session}/** row (which would proxy them).
  routes_.Add({"GET"}, "/session/{session}/se/bidi", Access::kClient,
              [this](const Call& call) { Upgrade(call, SocketKind::kBidi); });
  routes_.Add({"GET"}, "/session/{session}/se/cdp", Access::kClient,
              [this](const Call& call) { Upgrade(call, SocketKind::kCdp); });
  // Selenoid's CDP endpoint (WebdriverIO's getPuppeteer() dials it).
  routes_.Add({"GET"}, "/devtools/{session}", Access::kClient,
              [this](const Call& call) { Upgrade(call, SocketKind::kCdp); });
  routes_.Add({"POST"}, "/session/{session}/se/event", Access::kClient,
              AtDispatcher([this](const Call& call) { SessionEventCall(call); }));
}

void HubService::CountRefusedUpgrade(const http::ServerRequest& request, const RouteMatch& match) {
  std::optional<SocketKind> kind = SocketKindOfPath(match.segments);
  if (kind.has_value() && tunnel::IsWebSocketUpgrade(request.headers)) {
    grid_.metrics().RecordWebSocketUpgrade(MetricKind(*kind),
                                           metrics::UpgradeOutcome::kUnauthorized);
  }
}

void HubService::Upgrade(const Call& call, SocketKind kind) {
  const std::string session(call.match.Param("session"));
  auto refuse = [&](metrics::UpgradeOutcome outcome, const Error& error, int status) {
    grid_.metrics().RecordWebSocketUpgrade(MetricKind(kind), outcome);
    SendError(call.responder, error, status);
  };
  const Error unknown{ErrorCode::kInvalidSessionId, "no session " + Printable(session)};
  if (!IsValidSessionId(session))
    return refuse(metrics::UpgradeOutcome::kUnknownSession, unknown, 0);
  // Only an upgrade is served here: a plain GET would reach the node as an unknown command.
  if (!tunnel::IsWebSocketUpgrade(call.request.headers)) {
    return SendError(call.responder, InvalidArgument("GET " + call.request.path +
                                                     " is a WebSocket endpoint: it needs "
                                                     "Upgrade: websocket and Connection: Upgrade"));
  }
  const SessionId id(session);
  const size_t limit = static_cast<size_t>(initial_settings_.hub.websockets_per_session);
  std::optional<SessionSockets::Key> key = sockets_.Reserve(id, kind, limit);
  if (!key.has_value()) {
    return refuse(metrics::UpgradeOutcome::kLimit,
                  {ErrorCode::kUnavailable, "session " + session + " has " + std::to_string(limit) +
                                                " open WebSockets (hub.websockets-per-session)"},
                  429);
  }
  // Looked up once the socket is booked: a session that ended before is refused here, one that
  // ends after has its booked sockets closed (CloseEndedSessionSockets).
  std::optional<SessionRoute> route = FindRoute(id);
  std::optional<UpstreamPlan> plan;
  if (route.has_value()) plan = PlanUpstream(*route, session, kind);
  if (!plan.has_value()) {
    sockets_.Release(*key);
    if (!route.has_value()) return refuse(metrics::UpgradeOutcome::kUnknownSession, unknown, 0);
    return SendError(call.responder,
                     {ErrorCode::kUnknownCommand, "session " + session + " offers no " +
                                                      std::string(KindName(kind)) + " socket"});
  }
  std::string head = tunnel::UpgradeRequestHead(call.request.headers, plan->target, plan->host_port,
                                                NodeHeaders());
  StartTunnel(call, kind, *key, std::move(plan->upstream), std::move(head));
}

bool HubService::StartTunnel(const Call& call, SocketKind kind, SessionSockets::Key key,
                             tunnel::Upstream upstream, std::string request_head) {
  const metrics::WebSocketKind metric_kind = MetricKind(kind);
  tunnel::TunnelEvents events;
  events.on_handshake = [this, key, metric_kind,
                         session = std::string(call.match.Param("session"))](
                            bool upgraded, int status, const std::string& reason) {
    if (upgraded) {
      sockets_.MarkOpen(key);
      grid_.metrics().RecordWebSocketUpgrade(metric_kind, metrics::UpgradeOutcome::kOk);
      return;
    }
    grid_.metrics().RecordWebSocketUpgrade(metric_kind, metrics::UpgradeOutcome::kNodeFailed);
    log::Warn("websocket.refused_by_node",
              "WebSocket upgrade refused by the node (status " + std::to_string(status) +
                  "): " + Printable(reason),
              {.session_id = session});
  };
  events.on_bytes = [this](tunnel::Direction direction, size_t bytes) {
    grid_.metrics().RecordWebSocketBytes(direction == tunnel::Direction::kToUpstream
                                             ? metrics::ByteDirection::kToNode
                                             : metrics::ByteDirection::kToClient,
                                         bytes);
  };
  events.on_closed = [this, key] { sockets_.Release(key); };
  tunnel::TunnelRequest request{.request_head = std::move(request_head),
                                .upstream = std::move(upstream),
                                .events = std::move(events)};
  const bool detached = call.responder.Detach(
      [this, key, request = std::move(request)](http::DetachedConnection connection) mutable {
        request.client_fd = connection.fd;
        request.client_early_bytes = std::move(connection.early_bytes);
        const tunnel::TunnelId tunnel = pump_->Open(std::move(request));
        // The session ended while the connection was being handed over.
        if (!sockets_.Attach(key, tunnel)) pump_->Close(tunnel);
      });
  if (!detached) {
    sockets_.Release(key);
    SendError(
        call.responder,
        {ErrorCode::kUnavailable, "the hub could not take over this connection for a WebSocket"},
        503);
  }
  return detached;
}

void HubService::CloseEndedSessionSockets() {
  for (const SessionId& id : grid_.TakeEndedSessions()) {
    for (uint64_t tunnel : sockets_.EndSession(id)) pump_->Close(tunnel);
  }
}

// ---------------------------------------------------------------------------------------------
// Session events

void HubService::SessionEventCall(const Call& call) {
  const std::string session(call.match.Param("session"));
  const Error unknown{ErrorCode::kInvalidSessionId, "no session " + Printable(session)};
  if (!IsValidSessionId(session)) return SendError(call.responder, unknown);
  Result<json> body = http::ParseJsonBody(call.request.body);
  if (!body.ok()) return SendError(call.responder, body.error());
  Result<SessionEvent> event = ParseSessionEvent(*body);
  if (!event.ok()) return SendError(call.responder, event.error());
  std::optional<SessionRoute> route = grid_.NoteSessionEvent(SessionId(session), event->event_type);
  if (!route.has_value()) return SendError(call.responder, unknown);
  grid_.metrics().RecordSessionEvent(grid_.metrics().MetricLabel(route->label), event->event_type);
  // The event type is the client's text: the logger escapes it, one line whatever it holds.
  log::Info("session.event", "event=" + event->event_type,
            {.label = route->label, .run_id = route->run_id, .session_id = session});
  call.responder.Send(200, R"({"value":null})");
}

}  // namespace gridhub::hub
