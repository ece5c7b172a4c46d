// HubService: the operator's console (DESIGN 4c, docs/console.md) — its static files, built
// into the binary by console/, the redirect of a browser's GET / to them, the page's data
// (GET /ui/api/state, console_view.h) and the stores it is built from: the events every
// Execute carries out (also logged here, one line each), the refusal tally, the history.
// Several hubs: the dispatcher builds the page's data (the route is forwarded there); the
// other hubs send it the last-command times of the sessions they proxy (ActivityRelay).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/log.h"
#include "console/assets.h"
#include "http/http_types.h"
#include "http/w3c_error.h"
#include "hub/console_view.h"
#include "hub/hub_service.h"
#include "hub/peer_headers.h"
#include "hub/request_path.h"
#include "hub/router.h"
#include "hub/send_answer.h"

namespace gridhub::hub {

namespace {

// The page has no inline script or style and loads nothing from elsewhere, so the strictest
// policy fits; DENY framing keeps an admin's clicks from being borrowed by another page.
http::Headers StaticHeaders() {
  return {{"Content-Security-Policy", "default-src 'self'"},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Cache-Control", "no-cache"}};
}

// A stamp older than this is no "last command" worth showing (and bounds what a peer sends).
constexpr std::chrono::milliseconds kMaxActivityAge = std::chrono::hours(1);
constexpr std::chrono::milliseconds kActivityTimeout{1000};

bool WantsHtml(std::string_view accept) {
  for (size_t at = 0; at + 9 <= accept.size(); ++at) {
    if (http::EqualsIgnoreCase(accept.substr(at, 9), "text/html")) return true;
  }
  return false;
}

void SendUnknown(http::Responder& responder, const http::ServerRequest& request) {
  const Error error = UnknownCommand(request.method, request.path);
  responder.Send(http::HttpStatus(error.code), http::W3CErrorBody(error));
}

// WARN for what an operator may have to act on; the rest is the grid's ordinary life.
log::Level LevelOf(GridEventKind kind) {
  switch (kind) {
    case GridEventKind::kRefused:
    case GridEventKind::kTimedOut:
    case GridEventKind::kFailed:
    case GridEventKind::kNodeDown:
      return log::Level::kWarn;
    default:
      return log::Level::kInfo;
  }
}

// The log line's sentence: the event's own, or one made of its ids.
std::string LogMessage(const GridEvent& event) {
  if (!event.message.empty()) return event.message;
  std::string text(GridEventName(event.kind));
  if (!event.session_id.empty()) text += " session " + event.session_id;
  if (!event.node_id.empty()) text += " on node " + event.node_id;
  if (!event.reason.empty()) text += " (" + event.reason + ")";
  return text;
}

void Redirect(http::Responder& responder, std::string location) {
  http::Headers headers = StaticHeaders();
  headers.emplace_back("Location", std::move(location));
  responder.Send(302, "", headers, "");
}

}  // namespace

void HubService::AddConsoleRoutes() {
  // A browser opening the hub's address lands on the console; every other client (a WebDriver
  // binding probing /, a script) still hears what / answered before there was a console.
  routes_.Add({"GET", "HEAD"}, "/", Access::kOpen, [](const Call& call) {
    if (!WantsHtml(call.request.Header("Accept"))) return SendUnknown(call.responder, call.request);
    Redirect(call.responder, "/ui/");
  });
  // Open like /status, and like it answers by the caller's credentials: without the client
  // token (when one is set) readiness only.
  routes_.Add({"GET", "HEAD"}, "/ui/api/state", Access::kOpen,
              AtDispatcher([this](const Call& call) { ConsoleState(call); }));
  // Several hubs: the other hubs' last-command times for the sessions they proxy.
  routes_.Add({"POST"}, "/peer/activity", Access::kOpen,
              FromPeerAtDispatcher([this](const Call& call) { TakeActivity(call); }));
  // Static files are open: they hold no grid data (the page reads /ui/api/state, which is
  // guarded by what the caller shows).
  routes_.Add({"GET", "HEAD"}, "/ui/**", Access::kOpen,
              [](const Call& call) { ServeConsoleFile(call); });
}

void HubService::ServeConsoleFile(const Call& call) {
  const std::vector<std::string_view>& segments = call.match.segments;
  if (segments.size() == 1) {
    // "/ui" must become "/ui/": the page's relative links (console.js, console.css) resolve
    // against the address bar.
    if (!call.request.path.ends_with('/')) {
      return Redirect(call.responder, "/ui/" + call.request.query);
    }
  }
  const std::string path =
      segments.size() == 1 ? "index.html" : JoinSegments(segments, 1).substr(1);
  const console::Asset* asset = console::FindAsset(path);
  if (asset == nullptr) return SendUnknown(call.responder, call.request);
  call.responder.Send(200, std::string(asset->bytes), StaticHeaders(), asset->content_type);
}

void HubService::ConsoleState(const Call& call) {
  const std::shared_ptr<const Credentials> held = credentials();
  ConsoleViewer viewer{.authorized = Check(Access::kClient, call.request).ok(),
                       .admin = Check(Access::kAdmin, call.request).ok(),
                       .client_token_required = !held->client_token.empty(),
                       .admin_token_set = !held->admin_token.empty()};
  // The console lists every waiter: the one reader (with /graphql) that makes the grid list them.
  const std::shared_ptr<const GridSnapshot> snapshot = grid_.snapshot_with_queue();
  ConsoleInputs in{.snapshot = *snapshot, .now = clock_.Now(), .viewer = viewer};
  if (viewer.authorized) {  // the rest is not even copied for a caller who may not see it
    in.events = events_.Recent();
    in.history = history_.Points();
    in.history_interval = history_.interval();
    in.refusals = refusals_.Snapshot();
  }
  http::Headers headers = StaticHeaders();
  call.responder.Send(
      200, ConsoleStateJson(in).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      headers);
}

void HubService::RecordEvents(const std::vector<GridEvent>& events) {
  for (const GridEvent& event : events) {
    const std::string name = "grid." + std::string(GridEventName(event.kind));
    log::Write(LevelOf(event.kind), name, LogMessage(event),
               {.label = event.label,
                .run_id = event.run_id,
                .session_id = event.session_id,
                .node_id = event.node_id});
    // Refusals, timeouts, cancellations and failures carry their outcome name as reason.
    if (event.kind != GridEventKind::kGranted && event.kind != GridEventKind::kSessionEnded) {
      refusals_.Count(event.label, event.reason);
    }
    events_.Add(event);
  }
}

void HubService::SampleHistory() {
  history_.SampleIfDue(clock_.Now(), [this] {
    const std::shared_ptr<const GridSnapshot> snapshot = grid_.snapshot();
    // The tally follows the declared labels, as the metrics' series do.
    refusals_.Retain(*snapshot->declared_labels);
    return LoadByLabel(*snapshot);
  });
}

void HubService::FlushActivity() {
  std::vector<std::pair<std::string, Duration>> batch = activity_.TakeIfDue(clock_.Now());
  if (batch.empty() || !cluster_ready_.load(std::memory_order_acquire)) return;
  std::optional<cluster::PeerHub> leader = cluster_->Leader();
  // Lost, not queued: a console stamp is not worth holding for a dispatcher to come.
  if (!leader.has_value() || cluster_->IsLeader()) return;
  nlohmann::json sessions = nlohmann::json::array();
  for (const auto& [session, ago] : batch) {
    sessions.push_back(
        {{"id", session},
         {"agoMs", std::chrono::duration_cast<std::chrono::milliseconds>(ago).count()}});
  }
  http::Headers headers = {{"Content-Type", "application/json"}};
  AddPeerHeaders(headers, {.hub_id = hub_id_, .access = Access::kOpen}, cluster_->PeerSecret());
  client_.Send({.method = "POST",
                .url = leader->url + "/peer/activity",
                .headers = std::move(headers),
                .body = nlohmann::json{{"sessions", std::move(sessions)}}.dump(),
                .timeout = kActivityTimeout},
               [](http::ClientResponse) {});
}

void HubService::TakeActivity(const Call& call) {
  const nlohmann::json body = nlohmann::json::parse(call.request.body, nullptr, false);
  if (!body.is_object() || !body.contains("sessions") || !body["sessions"].is_array()) {
    return SendError(call.responder, InvalidArgument("expected {\"sessions\": [...]}"));
  }
  const SteadyTime now = clock_.Now();
  size_t stamped = 0;
  for (const nlohmann::json& entry : body["sessions"]) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string() ||
        !entry.contains("agoMs") || !entry["agoMs"].is_number_unsigned()) {
      continue;
    }
    const std::string id = entry["id"].get<std::string>();
    const std::chrono::milliseconds ago(static_cast<int64_t>(
        std::min(entry["agoMs"].get<uint64_t>(), static_cast<uint64_t>(kMaxActivityAge.count()))));
    if (!IsValidSessionId(id)) continue;
    std::optional<SessionRoute> route = grid_.FindSession(SessionId(id));
    if (!route.has_value() || route->activity == nullptr) continue;
    route->activity->NoteCommandIfLater(now - ago);
    ++stamped;
  }
  SendJson(call.responder, 200, {{"value", {{"stamped", stamped}}}});
}

}  // namespace gridhub::hub
