#pragma once

// The hub as a service: the HTTP API of DESIGN §4 over a Grid, the outbound calls to nodes,
// and one timer thread that sleeps until the next deadline (queue timeout, node timeout,
// health probe, ticket expiry, the console's 5 s history sample) or until something changes.
//
//   config::Settings settings = ...;   // server.port 0 picks a free port
//   SteadyClock clock;
//   HubService hub(settings, clock);
//   if (Status s = hub.Start(); !s.ok()) return Fail(s.error());
//   printf("%s\n", hub.url().c_str());
//   ...
//   hub.Stop();  // waiters get `session not created`; nothing hangs
//
// Thread-safe. Handlers never block a server thread: POST /session parks its Responder in
// the grid, proxied commands complete from the HTTP client's thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>  // std::once_flag
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster/cluster_state.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/result.h"
#include "config/settings.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "hub/activity_relay.h"
#include "hub/auth.h"
#include "hub/console_history.h"
#include "hub/dispatcher_client.h"
#include "hub/event_log.h"
#include "hub/grid.h"
#include "hub/grid_gauge_source.h"
#include "hub/peer_forwarder.h"
#include "hub/peer_headers.h"
#include "hub/peer_waiters.h"
#include "hub/refusal_tally.h"
#include "hub/route_cache.h"
#include "hub/router.h"
#include "hub/session_sockets.h"
#include "hub/store_writer.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::hub {

class HubService {
 public:
  // `clock` must outlive the service. The timer thread sleeps on it (Clock::WaitUntil), so
  // with a FakeClock, Advance() is what makes deadlines come.
  HubService(config::Settings settings, const Clock& clock);
  ~HubService();
  HubService(const HubService&) = delete;
  HubService& operator=(const HubService&) = delete;

  Status Start();
  // The bound port (the real one when server.port was 0). REQUIRES: Start() succeeded.
  uint16_t port() const;
  // "http://127.0.0.1:PORT" (the configured host, or 127.0.0.1 for a wildcard host).
  std::string url() const;
  // Applies the reloadable parts of `settings`: queue, matching, and the hub section (tokens,
  // registration secret, slot selection, node timeout, health-check period). Requests that
  // arrive from the moment it returns are checked against the new tokens.
  void Reconfigure(const config::Settings& settings);
  // Idempotent.
  void Stop();

 private:
  // Routes by routes_: the one place that answers 400, 404, 405 and 401.
  void Handle(http::ServerRequest request, http::Responder responder);
  void Execute(Effects effects);
  void SendReplies(std::vector<Reply>& replies);
  // Asks the job's node to create the session in the slot the Grid chose.
  void StartCreate(CreateJob& job, const http::Headers& node_headers);
  // A call to a node: on the reactor thread this runs on when it can (http/reactor_client.h:
  // the answer comes back on this thread, no hand-off), else through client_. A given
  // `connection_id` abandons the call when that client connection closes.
  void SendToNode(http::ClientRequest request, http::HttpClient::Callback done,
                  std::optional<uint64_t> connection_id = std::nullopt);
  void Poke();
  // Poke, but only if the grid's next deadline now comes before the one the timer sleeps until.
  void PokeIfSooner();
  void TimerLoop();

  // `legacy`: the request came in under /wd/hub (kept in the WebSocket URLs built from Host).
  // A new-session body as both POST /session and POST /queue/requests take it.
  struct Submission {
    matching::NewSessionSpec spec;
    std::string run_id;
    std::string public_base;
  };
  Result<Submission> ReadSubmission(const http::ServerRequest& request, bool legacy,
                                    bool run_id_in_body) const;
  void NewSession(const http::ServerRequest& request, bool legacy, http::Responder responder);
  void Proxy(const http::ServerRequest& request, std::string node_path,
             const std::string& session_id, bool ends_session, http::Responder responder);
  void RegisterNode(const http::ServerRequest& request, http::Responder responder);
  void Heartbeat(const http::ServerRequest& request, const std::string& node_id,
                 http::Responder& responder);
  void CreateTicket(const http::ServerRequest& request, bool legacy, http::Responder responder);

  void PutAdminConfig(const http::ServerRequest& request, http::Responder responder);

  // The tokens and the secret in force. Reconfigure() swaps the whole set at once, so a
  // handler never sees half of an old set and half of a new one.
  std::shared_ptr<const Credentials> credentials() const;
  // The headers every call to a node carries (X-Registration-Secret when one is set).
  http::Headers NodeHeaders() const;

  // Ok when the caller of `request` may make an `access` call (auth.h), else why not.
  Status Check(Access access, const http::ServerRequest& request) const;
  // What /status and /graphql show this caller: everything without a client token or with
  // it (or the admin token), else counts only.
  Exposure ExposureFor(const http::ServerRequest& request) const;

  // What a route's handler is given.
  struct Call {
    const http::ServerRequest& request;
    const RouteMatch& match;
    http::Responder& responder;
    Access access = Access::kOpen;  // the route's, as checked
  };
  using RouteHandler = std::function<void(const Call&)>;
  // Fills routes_, once, in the constructor: every route of docs/api.md is one row.
  void AddRoutes();
  void AddW3CRoutes();
  void AddNodeRoutes();
  void AddQueueRoutes();
  void AddAdminRoutes();

  // --- several hubs on one store (hub_cluster.cc, DESIGN §8) -------------------------------
  // With hub.state other than memory: joins the grid's store (fails fast when it cannot be
  // reached). REQUIRES: the server is listening (the hub's own URL is known).
  Status StartCluster();
  cluster::ClusterCallbacks ClusterCallbacks();
  // Where this hub's peers reach it: server.host, or for a wildcard host the machine's first
  // non-loopback IPv4 address.
  std::string PeerUrl() const;
  // The peer headers of `request`, when another hub of the grid sent it (the secret matches).
  std::optional<PeerCaller> PeerOf(const http::ServerRequest& request) const;
  // How a dispatcher call is handed over when this hub cannot answer it itself.
  enum class DispatcherCall { kPlain, kHeld, kStatus };
  // Wraps a route that only the dispatcher can answer: on a hub that is not it (or a held
  // call, on any hub), the call is forwarded there; a peer's call reaching a hub that is no
  // longer the dispatcher is answered 503 + X-Gridhub-Not-Leader.
  RouteHandler AtDispatcher(RouteHandler handler, DispatcherCall kind = DispatcherCall::kPlain);
  void ForwardToDispatcher(const Call& call, DispatcherCall kind);
  // The session's route: this hub's Grid, else (several hubs) the store's.
  std::optional<SessionRoute> FindRoute(const SessionId& session);
  // Publishes a runtime-settings patch to the other hubs of the grid (none with hub.state: memory).
  void ShareSettings(const nlohmann::json& patch);
  void OnSettingsPublished(const std::string& patch_json);
  // The client's DELETE of `session` was answered by its node: the Grid frees its slot; a
  // session this hub only knew from the store loses its stored route.
  Effects EndRoutedSession(const SessionId& session);
  // A front hub's notice to the dispatcher (POST /peer/ended) that a session ended through it.
  void TellDispatcherEnded(const SessionId& session);
  // Peer-only routes of several hubs that no other file owns (POST /peer/ended).
  void AddClusterRoutes();
  // A new-session answer relayed from the dispatcher found its client gone: ended there.
  void EndUndelivered(const std::string& answer);

  // A route only the hubs of the grid call, and only at the dispatcher: 404 for any other
  // caller (as for a route that does not exist), 503 + X-Gridhub-Not-Leader off the dispatcher.
  RouteHandler FromPeerAtDispatcher(RouteHandler handler);

  // --- GET /metrics (hub_metrics_routes.cc) ------------------------------------------------
  void AddMetricsRoutes();
  void ServeMetrics(const Call& call);
  // The grid's gauges from this hub's snapshot (HubMetrics::RenderGridGauges).
  std::string GridGaugesText();
  // GridGaugeSource's fetch: GET /peer/grid-gauges at the dispatcher.
  void FetchGridGauges(GridGaugeSource::Reply reply);

  // --- the console (hub_console.cc) -------------------------------------------------------
  // GET / from a browser, /ui and its static files (console/assets.h), GET /ui/api/state.
  void AddConsoleRoutes();
  static void ServeConsoleFile(const Call& call);
  void ConsoleState(const Call& call);
  // Every event of an Execute: into the console's ring and tally, and one log line each.
  void RecordEvents(const std::vector<GridEvent>& events);
  // The console's history sample, when one is due (the timer thread).
  void SampleHistory();
  // Several hubs: the last-command times this hub noted, sent to the dispatcher when due (the
  // timer thread), and taken there (POST /peer/activity).
  void FlushActivity();
  void TakeActivity(const Call& call);

  // --- WebSockets and session events (hub_sockets.cc) ---------------------------------------
  // A creation in flight, as the answer's callbacks need it.
  struct PendingCreate {
    queue::RequestId request = 0;
    NodeId node_id;
    std::string node_uri;
    SlotId slot_id;
    std::string public_base;
    bool bare_node = false;
  };
  // The node answered POST {node}/session: for a bare node with a DevTools address, asks it
  // for /json/version first (is CDP reachable?), then FinishCreate.
  void OnCreateAnswer(PendingCreate pending, CreateAnswer answer);
  // Rewrites the answer's WebSocket URLs (socket_answer.h) and hands it to the Grid.
  void FinishCreate(PendingCreate pending, CreateAnswer answer, std::string cdp_upstream);
  // PUBLIC for a new-session request (public_url.h): its str(), or "" when there is none.
  std::string PublicBaseFor(const http::ServerRequest& request, bool legacy,
                            std::string_view remote_url) const;
  void AddSocketRoutes();
  // GET /session/{id}/se/bidi|cdp, /devtools/{id} with Upgrade: websocket.
  void Upgrade(const Call& call, SocketKind kind);
  // Opens the tunnel for booked socket `key` once the connection is detached; false when the
  // connection could not be taken (the booking is released).
  bool StartTunnel(const Call& call, SocketKind kind, SessionSockets::Key key,
                   tunnel::Upstream upstream, std::string request_head);
  void SessionEventCall(const Call& call);
  // A WebSocket upgrade refused with 401 is counted (outcome unauthorized).
  void CountRefusedUpgrade(const http::ServerRequest& request, const RouteMatch& match);
  // Closes the tunnels of every session the Grid ended since the last call.
  void CloseEndedSessionSockets();

  const config::Settings initial_settings_;
  const Clock& clock_;
  Router<RouteHandler> routes_;  // filled in the constructor, read-only after
  RandomIdSource ids_;
  Grid grid_;
  http::HttpClient client_;
  std::unique_ptr<http::HttpServer> server_;
  mutable Mutex credentials_mu_;
  std::shared_ptr<const Credentials> credentials_ GUARDED_BY(credentials_mu_);

  Mutex timer_mu_;
  std::condition_variable_any timer_cv_;
  bool poked_ GUARDED_BY(timer_mu_) = false;
  bool stopping_ GUARDED_BY(timer_mu_) = false;
  // The timer thread is asleep until timer_due_ (nullopt: until poked); see PokeIfSooner.
  bool timer_waiting_ GUARDED_BY(timer_mu_) = false;
  std::optional<SteadyTime> timer_due_ GUARDED_BY(timer_mu_);
  std::thread timer_;
  std::once_flag stop_once_;
  bool started_ = false;
  // Set once the grid knows the hub's own address; registrations wait for it.
  std::atomic<bool> accepting_nodes_{false};
  SessionSockets sockets_;
  // The console's own stores (thread-safe; never behind the Grid's lock).
  EventLog events_;
  ConsoleHistory history_;
  RefusalTally refusals_;
  // Several hubs, off the dispatcher: the grid's gauges for /metrics, and the last-command
  // times for the dispatcher's console. Idle with hub.state: memory.
  GridGaugeSource grid_gauges_;
  ActivityRelay activity_;
  // Several hubs (hub_cluster.cc): set once by StartCluster, before cluster_ready_.
  std::string hub_id_;
  std::unique_ptr<cluster::ClusterState> cluster_;
  std::unique_ptr<RouteCache> route_cache_;
  std::unique_ptr<StoreWriter> store_writer_;
  std::unique_ptr<PeerForwarder> forwarder_;
  std::unique_ptr<DispatcherClient> dispatcher_;
  // On the dispatcher: the calls other hubs forwarded, watched for hubs that vanish.
  std::unique_ptr<PeerWaiters> peer_waiters_;
  std::atomic<bool> cluster_ready_{false};
  // Last: destroyed first, so its on_closed callbacks still find sockets_ and grid_.
  std::unique_ptr<tunnel::TunnelPump> pump_;
};

}  // namespace gridhub::hub
