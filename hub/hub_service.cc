#include "hub/hub_service.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "http/json_body.h"
#include "http/reactor_client.h"
#include "http/w3c_error.h"
#include "hub/auth.h"
#include "hub/create_answer.h"
#include "hub/graphql.h"
#include "hub/grid_snapshot.h"
#include "hub/node_registration.h"
#include "hub/outcome_http.h"
#include "hub/public_url.h"
#include "hub/request_path.h"
#include "hub/router.h"
#include "hub/send_answer.h"
#include "matching/capabilities.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

// Browser commands can legitimately run for minutes (page loads, async scripts); a node that
// hangs costs only the requests sent to it.
constexpr auto kCommandTimeout = std::chrono::minutes(10);
constexpr auto kDeleteTimeout = std::chrono::seconds(30);
constexpr std::string_view kJson = "application/json; charset=utf-8";

// A node's answer to POST {node}/session as the grid takes it.
CreateAnswer ClassifyCreateAnswer(const http::ClientResponse& response) {
  return hub::ClassifyCreateAnswer(response.status, response.transport_ok(), response.error,
                                   response.body);
}

bool Truthy(std::string_view value) {
  return http::EqualsIgnoreCase(value, "true") || value == "1" ||
         http::EqualsIgnoreCase(value, "yes");
}

// The Grid holds a new-session request's responder opaquely until it answers (see Reply).
ReplyTarget TargetOf(http::Responder responder) {
  uint64_t connection = responder.connection_id();
  return {std::make_shared<http::Responder>(std::move(responder)), connection};
}

// Every call on a ticket names the ticket's token (DESIGN 7a).
std::string_view QueueToken(const http::ServerRequest& request) {
  return request.Header("X-Queue-Token");
}

// Parses a JSON request body (bounded nesting); an empty body counts as `{}` only when allowed.
Result<json> ParseBody(const http::ServerRequest& request, bool empty_is_object) {
  if (request.body.empty() && empty_is_object) return json::object();
  return http::ParseJsonBody(request.body);
}

// Every address this hub answers on, so that no node registers the hub itself: the
// interfaces' addresses, the configured host and this machine's name.
SelfAddress OwnAddresses(const std::string& host, uint16_t port) {
  SelfAddress self;
  self.port = port;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr) continue;
      char text[INET6_ADDRSTRLEN] = {};
      const int family = a->ifa_addr->sa_family;
      const void* raw = nullptr;
      if (family == AF_INET) raw = &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr;
      if (family == AF_INET6) raw = &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      if (raw != nullptr && inet_ntop(family, raw, text, sizeof text) != nullptr) {
        self.ips.emplace_back(text);
      }
    }
    freeifaddrs(list);
  }
  auto lower = [](std::string name) {
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
  };
  if (!host.empty()) {
    self.ips.push_back(host);  // a literal address; a name simply matches no address
    self.names.push_back(lower(host));
  }
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') self.names.push_back(lower(name));
  return self;
}

}  // namespace

HubService::HubService(config::Settings settings, const Clock& clock)
    : initial_settings_(settings),
      clock_(clock),
      grid_(clock, ids_, initial_settings_),
      credentials_(std::make_shared<const Credentials>(Credentials{
          settings.hub.admin_token, settings.hub.client_token, settings.hub.registration_secret})),
      grid_gauges_(clock, std::chrono::seconds(1),
                   [this](GridGaugeSource::Reply reply) { FetchGridGauges(std::move(reply)); }),
      activity_(std::chrono::seconds(1)),
      pump_(std::make_unique<tunnel::TunnelPump>()) {
  AddRoutes();
}

HubService::~HubService() {
  Stop();
  // The server's threads call into every member (a disconnect runs Execute, which reads the
  // credentials): they are joined here, before any member is destroyed.
  server_.reset();
}

Status HubService::Start() {
  const config::ServerSettings& server = initial_settings_.server;
  if (server.port < 0 || server.port > 65535) {
    return Error{ErrorCode::kInvalidArgument, "server.port out of range"};
  }
  http::ServerOptions options;
  options.host = server.host;
  options.port = static_cast<uint16_t>(server.port);
  options.threads = config::EffectiveThreads(server);
  options.max_body = server.max_body;
  // A waiter's POST /session is held with no time limit (http/ stops timing a request once it
  // is complete), so queue.timeout needs nothing here.
  options.max_connections = static_cast<size_t>(server.max_connections);
  options.header_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(server.header_timeout);
  options.min_body_rate = server.min_body_rate;
  options.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(server.idle_timeout);
  server_ = std::make_unique<http::HttpServer>(
      options,
      [this](http::ServerRequest request, http::Responder responder) {
        Handle(std::move(request), std::move(responder));
      },
      [this](uint64_t connection) {
        if (cluster_ready_.load(std::memory_order_acquire)) {
          dispatcher_->OnDisconnect(connection);
          peer_waiters_->Forget(connection);
        }
        Execute(grid_.OnDisconnect(connection));
      });
  Status started = server_->Start();
  if (!started.ok()) return started;
  grid_.SetSelfAddress(OwnAddresses(server.host, port()));
  if (Status joined = StartCluster(); !joined.ok()) {
    server_->Stop();
    return joined;
  }
  accepting_nodes_.store(true);
  started_ = true;
  timer_ = std::thread([this] { TimerLoop(); });
  return Status::Ok();
}

uint16_t HubService::port() const { return server_ == nullptr ? 0 : server_->port(); }

std::string HubService::url() const {
  std::string host = initial_settings_.server.host;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  return "http://" + host + ":" + std::to_string(port());
}

void HubService::Reconfigure(const config::Settings& settings) {
  auto fresh = std::make_shared<const Credentials>(Credentials{
      settings.hub.admin_token, settings.hub.client_token, settings.hub.registration_secret});
  {
    MutexLock lock(credentials_mu_);
    credentials_ = std::move(fresh);
  }
  Execute(grid_.Reconfigure(settings));
  // A SIGHUP on one hub of several: the others take its runtime settings too (tokens and
  // restart-only keys stay each hub's own).
  ShareSettings(config::AdminPatchOf(settings));
}

std::shared_ptr<const Credentials> HubService::credentials() const {
  MutexLock lock(credentials_mu_);
  return credentials_;
}

http::Headers HubService::NodeHeaders() const {
  http::Headers headers;
  // Held for the whole use: a reload may swap in a new set meanwhile and free this one.
  const std::shared_ptr<const Credentials> held = credentials();
  const std::string& secret = held->registration_secret;
  if (!secret.empty()) headers.emplace_back("X-Registration-Secret", secret);
  return headers;
}

void HubService::Stop() {
  if (!started_) return;
  std::call_once(stop_once_, [this] {
    {
      MutexLock lock(timer_mu_);
      stopping_ = true;
    }
    timer_cv_.notify_all();
    if (timer_.joinable()) timer_.join();
    // Several hubs: the lease goes first, so another hub takes over, and the waiters held
    // here for other hubs are handed back to be re-submitted there rather than failed.
    if (cluster_ != nullptr) {
      peer_waiters_->Stop();
      cluster_->Stop();
      Execute(grid_.Abdicate({ErrorCode::kUnavailable, "hub " + hub_id_ + " is stopping"}));
    }
    Execute(grid_.Shutdown());
    server_->Stop();
    client_.Stop();
  });
}

// ---------------------------------------------------------------------------------------------
// Effects and time

void HubService::Execute(Effects effects) {
  // Several hubs: the store learns of new routes before their clients hear of them, so a
  // client's next command through another hub finds its session.
  if (store_writer_ != nullptr) store_writer_->Write([this] { return grid_.TakeStoreChanges(); });
  // Before the replies: a client that hears its answer and then looks at the console finds it.
  RecordEvents(effects.events);
  SendReplies(effects.replies);
  const http::Headers node_headers = NodeHeaders();
  for (CreateJob& job : effects.creates) StartCreate(job, node_headers);
  for (DeleteJob& job : effects.deletes) {
    client_.Send({.method = "DELETE",
                  .url = job.node_uri + "/session/" + job.session_id.str(),
                  .headers = node_headers,
                  .timeout = kDeleteTimeout},
                 [](http::ClientResponse) {});
  }
  for (ProbeJob& job : effects.probes) {
    NodeId node_id = job.node_id;
    client_.Send({.url = job.node_uri + "/status", .headers = node_headers, .timeout = job.timeout},
                 [this, node_id](http::ClientResponse response) {
                   bool answered = response.status >= 200 && response.status < 300;
                   Execute(grid_.OnProbeResult(node_id, answered));
                 });
  }
  CloseEndedSessionSockets();
  if (effects.reschedule) PokeIfSooner();
}

void HubService::SendReplies(std::vector<Reply>& replies) {
  for (Reply& reply : replies) {
    auto* responder = static_cast<http::Responder*>(reply.target.handle.get());
    HttpAnswer answer = W3CAnswer(reply.outcome);
    http::Headers headers;
    if (cluster_ != nullptr && !reply.outcome.ok() &&
        reply.outcome.error().code == ErrorCode::kUnavailable) {
      // Abdicate's answer: the forwarding hub keeps its client waiting and re-submits.
      answer.status = 503;
      headers.emplace_back(std::string(kNotLeaderHeader), "1");
    }
    bool delivered =
        responder != nullptr && responder->Send(answer.status, std::move(answer.body), headers);
    if (!delivered && !reply.session.empty()) {
      // The client left just as its session was created: nobody will ever use it.
      Execute(grid_.OnReplyUndelivered(reply.session));
    }
  }
}

void HubService::StartCreate(CreateJob& job, const http::Headers& node_headers) {
  json body = {{"capabilities", {{"alwaysMatch", std::move(job.capabilities)}}}};
  PendingCreate pending{.request = job.request,
                        .node_id = job.node_id,
                        .node_uri = job.node_uri,
                        .slot_id = job.slot_id,
                        .public_base = std::move(job.public_base),
                        .bare_node = job.bare_node};
  http::Headers headers = node_headers;
  headers.emplace_back("Content-Type", std::string(kJson));
  // The slot is decided once, here: the node agent creates the session in exactly this slot,
  // so /status and the node always agree on where a session lives.
  headers.emplace_back("X-Gridhub-Slot", job.slot_id.str());
  SendToNode({.method = "POST",
              .url = job.node_uri + "/session",
              .headers = std::move(headers),
              .body = body.dump(-1, ' ', false, json::error_handler_t::replace),
              .timeout = job.timeout},
             [this, pending = std::move(pending)](http::ClientResponse response) {
               // Classified (and its socket URLs rewritten) here, outside the grid's lock:
               // the node's body is untrusted.
               OnCreateAnswer(pending, ClassifyCreateAnswer(response));
             });
}

void HubService::SendToNode(http::ClientRequest request, http::HttpClient::Callback done,
                            std::optional<uint64_t> connection_id) {
  if (http::ReactorClient* here = http::ReactorClient::Current();
      here != nullptr && here->Takes(request)) {
    here->Send(std::move(request), std::move(done), connection_id);
  } else {
    client_.Send(std::move(request), std::move(done));
  }
}

void HubService::Poke() {
  {
    MutexLock lock(timer_mu_);
    poked_ = true;
  }
  timer_cv_.notify_one();
}

void HubService::PokeIfSooner() {
  // Most changes add a deadline later than the one the timer sleeps until (a new waiter's
  // queue.timeout, minutes away): waking it for those cost two thread switches and two grid
  // locks per new session for nothing.
  std::optional<SteadyTime> next = grid_.NextWake();
  MutexLock lock(timer_mu_);
  if (!timer_waiting_) {
    poked_ = true;  // between two looks at the grid: it finds this before it sleeps
    return;
  }
  if (next.has_value() && (!timer_due_.has_value() || *next < *timer_due_)) {
    poked_ = true;
    timer_cv_.notify_one();
  }
}

void HubService::TimerLoop() {
  while (true) {
    Execute(grid_.Tick());
    SampleHistory();
    FlushActivity();
    std::optional<SteadyTime> next = grid_.NextWake();
    for (std::optional<SteadyTime> due : {history_.NextDue(), activity_.NextDue()}) {
      if (!next || (due && *due < *next)) next = due;
    }
    MutexLock lock(timer_mu_);
    if (stopping_) return;
    if (poked_) {
      poked_ = false;
      continue;
    }
    // Until the grid's next deadline on its own clock (a FakeClock's Advance() wakes it too), or
    // until something changes.
    timer_waiting_ = true;
    timer_due_ = next;
    while (!poked_ && !stopping_ && (!next.has_value() || clock_.Now() < *next)) {
      if (next.has_value()) {
        clock_.WaitUntil(timer_mu_, timer_cv_, *next);
      } else {
        timer_cv_.wait(timer_mu_);
      }
    }
    timer_waiting_ = false;
    if (stopping_) return;
    poked_ = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Auth

Status HubService::Check(Access access, const http::ServerRequest& request) const {
  // Held for the whole check: a reload may swap in a new set meanwhile and free this one.
  const std::shared_ptr<const Credentials> held = credentials();
  return CheckAccess(access, *held,
                     {.authorization = request.Header("Authorization"),
                      .registration_secret = request.Header("X-Registration-Secret"),
                      .peer_address = request.peer_address});
}

Exposure HubService::ExposureFor(const http::ServerRequest& request) const {
  if (std::optional<PeerCaller> peer = PeerOf(request)) return peer->exposure;
  return Check(Access::kClient, request).ok() ? Exposure::kFull : Exposure::kCounts;
}

// ---------------------------------------------------------------------------------------------
// Routing

void HubService::Handle(http::ServerRequest request, http::Responder responder) {
  // Routed on its segments, and a proxied command is forwarded as the path rebuilt from them:
  // whatever could be read otherwise further on (dot segments, encoded slashes) is refused.
  Routed<RouteHandler> routed = routes_.Route(request.method, request.path);
  // A known path asked with a method it does not take is checked against the path's own
  // routes first: with hub.client-token set, every W3C and queue call without it is 401.
  const bool refused_path = routed.row == nullptr && routed.path_access.has_value() &&
                            !Check(*routed.path_access, request).ok();
  if (routed.row == nullptr && !refused_path) {
    // RFC 9110: a 405 lists the methods the route takes.
    http::Headers headers;
    if (routed.error.code == ErrorCode::kUnknownMethod) headers.emplace_back("Allow", routed.allow);
    return SendError(responder, routed.error, 0, headers);
  }
  // Another hub of the grid checked this caller already (peer_headers.h); the address it
  // comes from is the peer's, so the loopback rule must not apply to it.
  if (routed.row != nullptr && PeerOf(request).has_value()) {
    return routed.row->handler(Call{request, routed.match, responder, routed.row->access});
  }
  const Access access = refused_path ? *routed.path_access : routed.row->access;
  if (SiteMatters(access)) {
    if (Status site = CheckSite(access, {.sec_fetch_site = request.Header("Sec-Fetch-Site"),
                                         .origin = request.Header("Origin"),
                                         .host = request.Header("Host")});
        !site.ok()) {
      return SendError(responder, site.error());
    }
  }
  if (Status allowed = Check(access, request); !allowed.ok()) {
    if (routed.row != nullptr) CountRefusedUpgrade(request, routed.match);
    // RFC 9110: a 401 names the scheme to use.
    return SendError(responder, allowed.error(), 0,
                     {{"WWW-Authenticate", "Bearer realm=\"gridhub\""}});
  }
  routed.row->handler(Call{request, routed.match, responder, access});
}

void HubService::AddRoutes() {
  AddSocketRoutes();  // before W3C's /session/{session}/**, which would proxy them
  AddW3CRoutes();
  AddNodeRoutes();
  AddQueueRoutes();
  AddAdminRoutes();
  AddConsoleRoutes();
  AddMetricsRoutes();
  AddClusterRoutes();
}

// The W3C endpoints and the open probes (DESIGN §4).
void HubService::AddW3CRoutes() {
  routes_.Add(
      {"POST"}, "/session", Access::kClient,
      AtDispatcher(
          [this](const Call& call) { NewSession(call.request, call.match.legacy, call.responder); },
          DispatcherCall::kHeld));
  routes_.Add({"GET", "POST", "DELETE"}, "/session/{session}/**", Access::kClient,
              [this](const Call& call) {
                const std::vector<std::string_view>& p = call.match.segments;
                if (!IsValidSessionId(p[1])) {
                  grid_.metrics().RecordCommand(http::HttpStatus(ErrorCode::kInvalidSessionId),
                                                Duration{});
                  return SendError(call.responder,
                                   {ErrorCode::kInvalidSessionId,
                                    "no session with that id (ids are 1-128 of [A-Za-z0-9._-])"});
                }
                // The node sees the path from /session on, as routed (the query string as
                // received).
                const bool ends = p.size() == 2 && call.request.method == "DELETE";
                // Several hubs: a session this hub cannot place (its route not stored yet, or
                // the store just emptied) may still be the dispatcher's.
                if (cluster_ready_.load() && !cluster_->IsLeader() &&
                    !PeerOf(call.request).has_value() && cluster_->Leader().has_value() &&
                    !FindRoute(SessionId(std::string(p[1]))).has_value()) {
                  return ForwardToDispatcher(call, DispatcherCall::kPlain);
                }
                Proxy(call.request, JoinSegments(p, 0), std::string(p[1]), ends, call.responder);
              });
  // HEAD (curl -I) arrives as GET: http/ sends the GET's headers without its body.
  routes_.Add({"GET", "HEAD"}, "/status", Access::kOpen,
              AtDispatcher(
                  [this](const Call& call) {
                    SendJson(call.responder, 200,
                             StatusJson(*grid_.snapshot(), ExposureFor(call.request)));
                  },
                  DispatcherCall::kStatus));
  // Open like /status (DESIGN 7a): without the client token it answers counts only.
  routes_.Add({"POST"}, "/graphql", Access::kOpen, AtDispatcher([this](const Call& call) {
                // As Selenium does: query errors are GraphQL errors in a 200; only a body that is
                // not a
                // {"query": ...} object is a 400.
                Result<json> parsed = http::ParseJsonBody(call.request.body);
                bool well_formed = parsed.ok() && parsed->is_object() &&
                                   parsed->contains("query") && (*parsed)["query"].is_string();
                // Only a query naming sessionQueueRequests needs the waiters listed (which
                // takes the grid's lock); sessionQueueSize and the rest read the snapshot.
                const bool lists_queue =
                    call.request.body.find("sessionQueueRequests") != std::string::npos;
                SendJson(
                    call.responder, well_formed ? 200 : 400,
                    AnswerGraphql(lists_queue ? *grid_.snapshot_with_queue() : *grid_.snapshot(),
                                  call.request.body, url(), ExposureFor(call.request)));
              }));
}

// The node API (DESIGN §4 "Nodes").
void HubService::AddNodeRoutes() {
  // The registry names URIs and session ids: guarded like the queue when a client token is set
  // (a node's own credentials also show it).
  routes_.Add({"GET"}, "/nodes", Access::kClientOrNode, AtDispatcher([this](const Call& call) {
                SendJson(call.responder, 200, grid_.NodesJson());
              }));
  routes_.Add({"POST"}, "/nodes", Access::kNode, AtDispatcher([this](const Call& call) {
                RegisterNode(call.request, call.responder);
              }));
  routes_.Add({"DELETE"}, "/nodes/{node}", Access::kNode, AtDispatcher([this](const Call& call) {
                std::string node_id(call.match.Param("node"));
                Effects effects;
                bool found = grid_.Deregister(NodeId(node_id), &effects);
                Execute(std::move(effects));
                if (!found)
                  return SendError(call.responder, {ErrorCode::kNotFound, "no node " + node_id});
                call.responder.Send(204, "", {}, "");
              }));
  routes_.Add({"POST"}, "/nodes/{node}/heartbeat", Access::kNode,
              AtDispatcher([this](const Call& call) {
                Heartbeat(call.request, std::string(call.match.Param("node")), call.responder);
              }));
  routes_.Add(
      {"POST"}, "/nodes/{node}/drain", Access::kNodeDrain, AtDispatcher([this](const Call& call) {
        std::string node_id(call.match.Param("node"));
        Effects effects;
        bool found = grid_.Drain(NodeId(node_id), &effects);
        Execute(std::move(effects));
        if (!found) return SendError(call.responder, {ErrorCode::kNotFound, "no node " + node_id});
        SendJson(call.responder, 200, {{"value", {{"id", node_id}, {"availability", "DRAINING"}}}});
      }));
}

// The queue and the ticket API; every call on a ticket proves it is the ticket's holder
// (X-Queue-Token, DESIGN 7a).
void HubService::AddQueueRoutes() {
  routes_.Add({"GET"}, "/queue", Access::kClient, AtDispatcher([this](const Call& call) {
                SendJson(call.responder, 200, grid_.QueueJson());
              }));
  routes_.Add({"DELETE"}, "/queue", Access::kAdmin, AtDispatcher([this](const Call& call) {
                Effects effects;
                size_t count = grid_.ClearQueue(&effects);
                Execute(std::move(effects));
                SendJson(call.responder, 200, {{"value", count}, {"cleared", count}});
              }));
  routes_.Add({"POST"}, "/queue/requests", Access::kClient, AtDispatcher([this](const Call& call) {
                CreateTicket(call.request, call.match.legacy, call.responder);
              }));
  routes_.Add(
      {"GET"}, "/queue/requests/{ticket}", Access::kClient, AtDispatcher([this](const Call& call) {
        Result<json> status =
            grid_.TicketStatus(std::string(call.match.Param("ticket")), QueueToken(call.request));
        if (!status.ok()) return SendError(call.responder, status.error());
        SendJson(call.responder, 200, *status);
      }));
  routes_.Add({"DELETE"}, "/queue/requests/{ticket}", Access::kClient,
              AtDispatcher([this](const Call& call) {
                Effects effects;
                Status deleted = grid_.DeleteTicket(std::string(call.match.Param("ticket")),
                                                    QueueToken(call.request), &effects);
                Execute(std::move(effects));
                if (!deleted.ok()) return SendError(call.responder, deleted.error());
                call.responder.Send(204, "", {}, "");
              }));
  routes_.Add({"POST"}, "/queue/requests/{ticket}/take", Access::kClient,
              AtDispatcher([this](const Call& call) {
                TicketBook::Taken taken = grid_.TakeTicket(std::string(call.match.Param("ticket")),
                                                           QueueToken(call.request));
                // Several hubs: the ticket leaves the store before its holder hears of it.
                Execute(Effects{});
                http::Headers headers;
                if (taken.outcome == TakeOutcome::kWaiting)
                  headers.emplace_back("Retry-After", "1");
                HttpAnswer answer = TakeAnswer(std::move(taken));
                call.responder.Send(answer.status, std::move(answer.body), headers);
              }));
  // An operator cancels one waiter by the id GET /queue and /ui/api/state show.
  routes_.Add(
      {"DELETE"}, "/queue/{request}", Access::kAdmin, AtDispatcher([this](const Call& call) {
        Effects effects;
        Status cancelled = grid_.CancelWaiter(std::string(call.match.Param("request")), &effects);
        Execute(std::move(effects));
        if (!cancelled.ok()) return SendError(call.responder, cancelled.error());
        call.responder.Send(204, "", {}, "");
      }));
  routes_.Add({"POST"}, "/queue/requests/{ticket}/heartbeat", Access::kClient,
              AtDispatcher([this](const Call& call) {
                Status beat = grid_.TicketHeartbeat(std::string(call.match.Param("ticket")),
                                                    QueueToken(call.request));
                if (!beat.ok()) return SendError(call.responder, beat.error());
                call.responder.Send(204, "", {}, "");
              }));
}

// Selenium's queue view, and the admin calls.
void HubService::AddAdminRoutes() {
  routes_.Add({"GET"}, "/se/grid/newsessionqueue/queue", Access::kClient,
              AtDispatcher([this](const Call& call) {
                SendJson(call.responder, 200, grid_.SeleniumQueueJson());
              }));
  routes_.Add({"DELETE"}, "/se/grid/newsessionqueue/queue", Access::kAdmin,
              AtDispatcher([this](const Call& call) {
                Effects effects;
                size_t count = grid_.ClearQueue(&effects);
                Execute(std::move(effects));
                SendJson(call.responder, 200, {{"value", count}});
              }));
  routes_.Add({"GET"}, "/admin/config", Access::kAdmin, [this](const Call& call) {
    SendJson(call.responder, 200, config::ToJson(grid_.settings(), config::Tokens::kRedact));
  });
  routes_.Add({"PUT"}, "/admin/config", Access::kAdmin, AtDispatcher([this](const Call& call) {
                PutAdminConfig(call.request, call.responder);
              }));
}

// ---------------------------------------------------------------------------------------------
// Handlers

// What POST /session and POST /queue/requests read alike: the body's capabilities, the client's
// own URL of the hub (PUBLIC's second source, and nothing a node needs to see), the run id
// (capability, then the ticket body's `runId`, then X-Run-Id) and fail-fast (the capability or
// either header, DESIGN §3).
Result<HubService::Submission> HubService::ReadSubmission(const http::ServerRequest& request,
                                                          bool legacy, bool run_id_in_body) const {
  Result<json> body = ParseBody(request, /*empty_is_object=*/false);
  if (!body.ok()) return body.error();
  const std::string remote_url = TakeRemoteUrl(*body);
  Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(*body);
  if (!spec.ok()) return spec.error();
  std::string run_id = spec->run_id;
  if (run_id_in_body && body->contains("runId") && !(*body)["runId"].is_null()) {
    // Dropping a mistyped run id would silently lift the per-run cap the caller asked for.
    if (!(*body)["runId"].is_string()) {
      return Error{ErrorCode::kInvalidArgument, "runId must be a string"};
    }
    if (run_id.empty()) run_id = (*body)["runId"].get<std::string>();
  }
  if (run_id.empty()) run_id = std::string(request.Header("X-Run-Id"));
  if (Truthy(request.Header("X-No-Wait")) || Truthy(request.Header("X-Selenoid-No-Wait"))) {
    spec->no_wait = true;
  }
  return Submission{std::move(*spec), std::move(run_id),
                    PublicBaseFor(request, legacy, remote_url)};
}

void HubService::NewSession(const http::ServerRequest& request, bool legacy,
                            http::Responder responder) {
  Result<Submission> in = ReadSubmission(request, legacy, /*run_id_in_body=*/false);
  if (!in.ok()) return SendError(responder, in.error());
  const bool no_wait = in->spec.no_wait;
  Execute(grid_.SubmitNewSession(std::move(in->spec), std::move(in->run_id), no_wait,
                                 TargetOf(responder), std::move(in->public_base)));
}

void HubService::Proxy(const http::ServerRequest& request, std::string node_path,
                       const std::string& session_id, bool ends_session,
                       http::Responder responder) {
  const SteadyTime started = clock_.Now();
  std::optional<SessionRoute> route = FindRoute(SessionId(session_id));
  if (!route.has_value()) {
    grid_.metrics().RecordCommand(http::HttpStatus(ErrorCode::kInvalidSessionId),
                                  clock_.Now() - started);
    return SendError(responder, {ErrorCode::kInvalidSessionId, "no session " + session_id});
  }
  // Only the end-to-end headers a WebDriver command needs: never hop-by-hop ones, nor the
  // client's Authorization, X-Queue-Token or X-Registration-Secret; the secret a node checks
  // is the hub's own.
  http::Headers headers = NodeHeaders();
  for (const char* name : {"Content-Type", "Accept", "Accept-Language"}) {
    std::string_view value = request.Header(name);
    if (!value.empty()) headers.emplace_back(name, std::string(value));
  }
  std::string node_id = route->node_id.str();
  // "Since last command" for the console: a relaxed store into the session's own record. Off
  // the dispatcher (several hubs) the console is the dispatcher's: it hears of it in a batch.
  if (route->activity != nullptr) route->activity->NoteCommand(started);
  if (cluster_ready_.load(std::memory_order_acquire) && !cluster_->IsLeader() &&
      activity_.Note(session_id, started)) {
    Poke();
  }
  SendToNode(
      {.method = request.method,
       .url = route->node_uri + node_path + request.query,
       .headers = std::move(headers),
       .body = request.body,
       .timeout = kCommandTimeout,
       .max_response_body = initial_settings_.server.max_body},
      [this, responder, session_id, ends_session, node_id, started,
       max_body = initial_settings_.server.max_body](http::ClientResponse response) mutable {
        // The slot is free, and the end is in the console's log, before the client hears that
        // its session ended, so a client that deletes and at once asks again (or reads
        // /status or /ui) sees it.
        if (ends_session) Execute(EndRoutedSession(SessionId(session_id)));
        const bool too_large = response.body_too_large || response.body.size() > max_body;
        const bool relayed = response.transport_ok() && !too_large;
        grid_.metrics().RecordCommand(
            relayed ? response.status : http::HttpStatus(ErrorCode::kUnavailable),
            clock_.Now() - started);
        if (too_large) {
          // Read only up to max-body (http_client aborted the rest and dropped the connection).
          SendError(responder, {ErrorCode::kUnavailable,
                                "node " + node_id + " answered more than server.max-body (" +
                                    std::to_string(max_body) + " bytes)"});
        } else if (!response.transport_ok()) {
          SendError(responder, {ErrorCode::kUnavailable,
                                "node " + node_id + " did not answer: " + response.error});
        } else {
          std::string content_type(http::FindHeader(response.headers, "Content-Type"));
          responder.Send(response.status, std::move(response.body), {}, content_type);
        }
      },
      responder.connection_id());
}

void HubService::RegisterNode(const http::ServerRequest& request, http::Responder responder) {
  if (!accepting_nodes_.load()) {  // its own address is not known yet
    return SendError(responder, {ErrorCode::kUnavailable, "the hub is starting; register again"},
                     503, {{"Retry-After", "1"}});
  }
  Result<json> body = ParseBody(request, /*empty_is_object=*/false);
  if (!body.ok()) return SendError(responder, body.error());
  // Parsed before the grid is called: untrusted input is never parsed under its lock.
  Result<NodeRegistration> registration = ParseNodeRegistration(*body);
  if (!registration.ok()) return SendError(responder, registration.error());
  Effects effects;
  // The body is kept only for several hubs: a new dispatcher registers the node from it.
  Result<json> node = grid_.RegisterNode(std::move(*registration), &effects,
                                         cluster_ != nullptr ? request.body : std::string());
  Execute(std::move(effects));
  if (!node.ok()) return SendError(responder, node.error());
  SendJson(responder, 201, {{"value", *node}});
}

void HubService::Heartbeat(const http::ServerRequest& request, const std::string& node_id,
                           http::Responder& responder) {
  Result<json> body = ParseBody(request, /*empty_is_object=*/true);
  if (!body.ok()) return SendError(responder, body.error());
  Result<HeartbeatReport> report = ParseHeartbeatReport(*body);
  if (!report.ok()) return SendError(responder, report.error());
  Effects effects;
  std::optional<HeartbeatAnswer> answer = grid_.Heartbeat(NodeId(node_id), *report, &effects);
  Execute(std::move(effects));
  if (!answer.has_value()) {
    return SendError(responder, {ErrorCode::kNotFound, "no node " + node_id + "; register again"});
  }
  // The node agent learns that it was drained (and must not register again), and which of its
  // sessions the hub does not know (it ends the old enough ones itself).
  if (answer->availability != Availability::kDraining && answer->unknown_sessions.empty()) {
    return (void)responder.Send(204, "", {}, "");
  }
  json value = {{"id", node_id},
                {"availability", std::string(AvailabilityName(answer->availability))}};
  if (!answer->unknown_sessions.empty()) {
    json unknown = json::array();
    for (const SessionId& id : answer->unknown_sessions) unknown.push_back(id.str());
    value["unknownSessions"] = std::move(unknown);
  }
  SendJson(responder, 200, {{"value", std::move(value)}});
}

void HubService::CreateTicket(const http::ServerRequest& request, bool legacy,
                              http::Responder responder) {
  Result<Submission> in = ReadSubmission(request, legacy, /*run_id_in_body=*/true);
  if (!in.ok()) return SendError(responder, in.error());
  Effects effects;
  Result<json> ticket = grid_.CreateTicket(std::move(in->spec), std::move(in->run_id), &effects,
                                           std::move(in->public_base));
  Execute(std::move(effects));
  if (!ticket.ok()) {
    return SendError(responder, ticket.error(), TicketRefusalStatus(ticket.error().code));
  }
  SendJson(responder, 201, *ticket);
}

void HubService::PutAdminConfig(const http::ServerRequest& request, http::Responder responder) {
  Result<json> patch = ParseBody(request, /*empty_is_object=*/false);
  if (!patch.ok()) return SendError(responder, patch.error());
  Result<config::Settings> updated = config::ApplyAdminPatch(grid_.settings(), *patch);
  if (!updated.ok()) return SendError(responder, updated.error());
  Execute(grid_.Reconfigure(*updated));
  ShareSettings(*patch);
  SendJson(responder, 200, config::ToJson(*updated, config::Tokens::kRedact));
}

}  // namespace gridhub::hub
