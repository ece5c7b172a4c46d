// HubService in a grid of several hubs on one store (DESIGN §8, docs/scale-out.md): joining
// the store, forwarding dispatcher calls, the store's callbacks. With hub.state: memory none
// of this runs: cluster_ stays null and every wrapper passes the call straight through.

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <random>

#include "cluster/redis_cluster_state.h"
#include "common/log.h"
#include "hub/hub_service.h"
#include "hub/outcome_http.h"
#include "hub/send_answer.h"
#include "hub/take_over.h"
#include "redis/redis_url.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;

// hostname-pid-random: unique per process, readable in logs and metrics.
std::string MakeHubId() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') std::snprintf(name, 8, "hub");
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%06x", random() & 0xffffffu);
  return std::string(name) + "-" + std::to_string(getpid()) + "-" + suffix;
}

std::string FirstNonLoopbackIPv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "127.0.0.1";
  std::string found = "127.0.0.1";
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    found = text;
    break;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

std::string HubService::PeerUrl() const {
  std::string host = initial_settings_.server.host;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = FirstNonLoopbackIPv4();
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port());
}

Status HubService::StartCluster() {
  const std::string& state = initial_settings_.hub.state;
  if (state == "memory") return Status::Ok();
  Result<redis::RedisUrl> url = redis::RedisUrl::Parse(state);
  if (!url.ok()) return url.error();  // config checked it; kept for a hand-made Settings
  hub_id_ = MakeHubId();
  const auto peer_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(initial_settings_.hub.peer_timeout);
  cluster_ = cluster::MakeRedisClusterState(
      {.url = *url, .self = {.id = hub_id_, .url = PeerUrl()}, .peer_timeout = peer_timeout});
  route_cache_ = std::make_unique<RouteCache>(*cluster_);
  store_writer_ = std::make_unique<StoreWriter>(*cluster_);
  forwarder_ =
      std::make_unique<PeerForwarder>(client_, hub_id_, [this] { return cluster_->PeerSecret(); });
  dispatcher_ = std::make_unique<DispatcherClient>(*forwarder_);
  // A front hub lost without closing its connections (its machine gone): its presence key
  // lapses, and the waiters it forwarded here leave the queue at the next look.
  peer_waiters_ = std::make_unique<PeerWaiters>(PeerWaiters::Options{
      .period = peer_timeout / 2,
      .alive = [this](const std::string& hub) { return cluster_->PeerAlive(hub); },
      .withdraw = [this](uint64_t connection) { Execute(grid_.OnDisconnect(connection)); }});
  if (Status s = cluster_->Start(ClusterCallbacks()); !s.ok()) return s;
  dispatcher_->SetLeader(cluster_->Leader());
  cluster_ready_.store(true, std::memory_order_release);
  if (Status health = cluster_->Health(); !health.ok()) {
    // Unreachable, not refused (that failed Start): serve as not ready until it answers.
    log::Warn("cluster.store_down", "hub " + hub_id_ + " started without its state store (" +
                                        health.error().message +
                                        "); not ready until the store answers");
    return Status::Ok();
  }
  log::Info("cluster.joined", "hub " + hub_id_ + " joined the grid on " + url->Redacted());
  return Status::Ok();
}

cluster::ClusterCallbacks HubService::ClusterCallbacks() {
  cluster::ClusterCallbacks callbacks;
  callbacks.on_elected = [this] {
    log::Info("cluster.elected", "hub " + hub_id_ + " is the dispatcher");
    Execute(TakeOver(*cluster_, grid_));
  };
  callbacks.on_deposed = [this](std::string_view why) {
    log::Warn("cluster.deposed",
              "hub " + hub_id_ + " is no longer the dispatcher: " + std::string(why));
    Execute(grid_.Abdicate(
        {ErrorCode::kUnavailable, "hub " + hub_id_ + " is no longer the dispatcher"}));
  };
  callbacks.on_leader_changed = [this](const std::optional<cluster::PeerHub>& leader) {
    dispatcher_->SetLeader(leader);
  };
  callbacks.on_route_stored = [this](const std::string& route) { route_cache_->Put(route); };
  callbacks.on_session_ended = [this](const std::string& session) {
    route_cache_->Forget(SessionId(session));
    // Ended through another hub (which asked the node itself): the dispatcher frees the slot.
    if (cluster_->IsLeader() && grid_.FindSession(SessionId(session)).has_value()) {
      Execute(grid_.EndSession(SessionId(session)));
    }
    for (uint64_t tunnel : sockets_.EndSession(SessionId(session))) pump_->Close(tunnel);
  };
  callbacks.on_settings = [this](const std::string& patch) { OnSettingsPublished(patch); };
  callbacks.on_store_state = [this](bool up, std::string_view why) {
    if (up) return dispatcher_->SetLeader(cluster_->Leader());
    dispatcher_->FailParked({ErrorCode::kSessionNotCreated, std::string(why)});
  };
  callbacks.on_store_reset = [this] {
    route_cache_->Clear();
    // The dispatcher writes the whole grid again; the journal starts with all of it.
    if (cluster_->IsLeader()) {
      grid_.StartStoreJournal();
      Execute(Effects{});
    }
  };
  return callbacks;
}

std::optional<PeerCaller> HubService::PeerOf(const http::ServerRequest& request) const {
  if (!cluster_ready_.load(std::memory_order_acquire)) return std::nullopt;
  if (request.Header(kPeerSecretHeader).empty()) return std::nullopt;
  return ReadPeerHeaders(request, cluster_->PeerSecret());
}

HubService::RouteHandler HubService::AtDispatcher(RouteHandler handler, DispatcherCall kind) {
  return [this, handler = std::move(handler), kind](const Call& call) {
    if (initial_settings_.hub.state == "memory") return handler(call);
    if (!cluster_ready_.load(std::memory_order_acquire)) {
      return SendError(call.responder, {ErrorCode::kUnavailable, "the hub is starting"}, 503,
                       {{"Retry-After", "1"}});
    }
    if (std::optional<PeerCaller> peer = PeerOf(call.request)) {
      if (!cluster_->IsLeader()) {
        return SendError(call.responder,
                         {ErrorCode::kUnavailable, "hub " + hub_id_ + " is not the dispatcher"},
                         503, {{std::string(kNotLeaderHeader), "1"}});
      }
      if (kind == DispatcherCall::kHeld) peer_waiters_->Hold(peer->hub_id, call.responder);
      return handler(call);
    }
    // A held call goes through the dispatcher client even on the dispatcher itself, so that
    // it is re-submitted, not failed, if this hub stops being the dispatcher while it waits.
    if (kind != DispatcherCall::kHeld && cluster_->IsLeader()) return handler(call);
    ForwardToDispatcher(call, kind);
  };
}

void HubService::ForwardToDispatcher(const Call& call, DispatcherCall kind) {
  Status health = cluster_->Health();
  const bool no_leader = !cluster_->Leader().has_value();
  if (!health.ok() || (no_leader && kind != DispatcherCall::kHeld)) {
    std::string why = !health.ok() ? health.error().message : "no dispatcher hub is elected yet";
    if (kind == DispatcherCall::kStatus) {
      return SendJson(call.responder, 200, {{"value", {{"ready", false}, {"message", why}}}});
    }
    if (kind == DispatcherCall::kHeld) {
      return SendError(call.responder, {ErrorCode::kSessionNotCreated, why});
    }
    return SendError(call.responder, {ErrorCode::kUnavailable, why}, 503, {{"Retry-After", "1"}});
  }
  const http::ServerRequest& request = call.request;
  const bool held = kind == DispatcherCall::kHeld;
  PeerCall forwarded{.caller = {.access = call.access,
                                .exposure = ExposureFor(request),
                                .public_base = PublicBaseFor(request, call.match.legacy, "")},
                     .resubmit_on_loss = held,
                     // A held call waits up to queue.timeout at the dispatcher (which then
                     // answers), plus the session's creation.
                     .timeout = held ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                           grid_.settings().queue.timeout) +
                                           std::chrono::minutes(5)
                                     : std::chrono::milliseconds(30000),
                     .max_response_body = initial_settings_.server.max_body};
  if (held) {
    forwarded.undelivered = [this](const std::string& body) { EndUndelivered(body); };
  }
  dispatcher_->Forward(request, std::move(forwarded), call.responder);
}

std::optional<SessionRoute> HubService::FindRoute(const SessionId& session) {
  std::optional<SessionRoute> route = grid_.FindSession(session);
  if (route.has_value() || !cluster_ready_.load(std::memory_order_acquire)) return route;
  return route_cache_->Find(session);
}

void HubService::EndUndelivered(const std::string& answer) {
  // The client left just as its session was made: nobody will use it. Ended through the
  // dispatcher, which frees its slot, as a single hub ends an undelivered session.
  json parsed = json::parse(answer, nullptr, false);
  const json* id = parsed.is_object() && parsed.contains("value") && parsed["value"].is_object()
                       ? &parsed["value"]["sessionId"]
                       : nullptr;
  std::optional<cluster::PeerHub> leader = cluster_->Leader();
  if (id == nullptr || !id->is_string() || !leader.has_value()) return;
  const std::string session = id->get<std::string>();
  if (!IsValidSessionId(session)) return;
  http::Headers headers;
  AddPeerHeaders(headers, {.hub_id = hub_id_, .access = Access::kClient}, cluster_->PeerSecret());
  client_.Send({.method = "DELETE",
                .url = leader->url + "/session/" + session,
                .headers = std::move(headers),
                .timeout = std::chrono::seconds(30)},
               [](http::ClientResponse) {});
}

Effects HubService::EndRoutedSession(const SessionId& session) {
  const bool in_grid = grid_.FindSession(session).has_value();
  Effects ended = grid_.EndSession(session);
  if (!in_grid && cluster_ready_.load(std::memory_order_acquire)) {
    if (Status s = cluster_->EndRoute(session.str()); !s.ok()) {
      log::Warn("cluster.end_route_failed", s.error().message);
    }
    TellDispatcherEnded(session);
  }
  return ended;
}

void HubService::TellDispatcherEnded(const SessionId& session) {
  // Besides EndRoute's message: pub/sub keeps nothing for a subscriber that is reconnecting
  // (after Redis restarted, say), and a dispatcher that missed the message would hold the
  // slot for good. A second notice of one end is a no-op there.
  std::optional<cluster::PeerHub> leader = cluster_->Leader();
  if (!leader.has_value() || cluster_->IsLeader()) return;
  http::Headers headers = {{"Content-Type", "application/json"}};
  AddPeerHeaders(headers, {.hub_id = hub_id_, .access = Access::kOpen}, cluster_->PeerSecret());
  client_.Send({.method = "POST",
                .url = leader->url + "/peer/ended",
                .headers = std::move(headers),
                .body = json{{"session", session.str()}}.dump(),
                .timeout = std::chrono::seconds(5)},
               [](http::ClientResponse) {});
}

void HubService::AddClusterRoutes() {
  routes_.Add(
      {"POST"}, "/peer/ended", Access::kOpen, FromPeerAtDispatcher([this](const Call& call) {
        const json body = json::parse(call.request.body, nullptr, false);
        const json* id = body.is_object() && body.contains("session") ? &body["session"] : nullptr;
        if (id == nullptr || !id->is_string() || !IsValidSessionId(id->get<std::string>())) {
          return SendError(call.responder, InvalidArgument("expected {\"session\": id}"));
        }
        const SessionId session(id->get<std::string>());
        const bool known = grid_.FindSession(session).has_value();
        if (known) Execute(grid_.EndSession(session));
        SendJson(call.responder, 200, {{"ended", known}});
      }));
}

void HubService::ShareSettings(const json& patch) {
  if (!cluster_ready_.load(std::memory_order_acquire)) return;
  // Every other hub applies the same patch within a second (on_settings).
  if (Status shared = cluster_->PublishSettings(patch.dump()); !shared.ok()) {
    log::Warn("cluster.settings_not_shared", shared.error().message);
  }
}

void HubService::OnSettingsPublished(const std::string& patch_json) {
  json patch = json::parse(patch_json, nullptr, false);
  Result<config::Settings> updated = config::ApplyAdminPatch(grid_.settings(), patch);
  if (!updated.ok()) {
    return log::Warn("cluster.settings_refused", updated.error().message);
  }
  Execute(grid_.Reconfigure(*updated));
}

}  // namespace gridhub::hub
