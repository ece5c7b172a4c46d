#pragma once

// The node agent: a W3C WebDriver server in front of this machine's drivers, registered with a
// hub. It is the W3C surface (new session, proxied commands, DELETE, /status, drain), the
// session table (SlotBook plus each session's backend), and the rules for ending sessions
// (idle, driver gone, drain, unknown to the hub). Its two helpers are rooms of their own:
// SessionLauncher starts a driver or relay and creates the session on it; HubLink talks to the
// hub (registration, heartbeats, notices).
//
//   http::HttpClient client;
//   NodeAgent agent(options, clock, client);
//   http::HttpServer server({.port = 5555}, [&](auto request, auto responder) {
//     agent.Handle(std::move(request), std::move(responder));
//   });
//   agent.Start();                      // registration, heartbeats, idle checks
//   ...
//   agent.Drain(DrainReason::kSignal);  // on SIGTERM
//   agent.WaitDone(std::chrono::hours(24));
//   agent.Stop();
//
// Threads: Handle() never blocks (slow work moves to TaskThreads or the HttpClient's thread);
// one maintenance thread registers, heartbeats, ends idle sessions and finishes drains, waiting
// on the injected clock (Clock::WaitUntil), so tests may drive it with FakeClock. All
// state sits behind one mutex, and no I/O happens under it. Thread-safe.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/strong_id.h"
#include "config/settings.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "matching/capabilities.h"
#include "node-agent/hub_link.h"
#include "node-agent/session_files.h"
#include "node-agent/session_launcher.h"
#include "node-agent/session_sockets.h"
#include "node-agent/slot_book.h"
#include "node-agent/slot_choice.h"
#include "node-agent/task_threads.h"

namespace gridhub::node {

struct NodeAgentOptions {
  std::string id;                   // node id, unique in the grid
  std::string uri;                  // how the hub reaches this node, e.g. http://10.0.0.5:5555
  std::string hub;                  // hub base URL, e.g. http://127.0.0.1:4444
  std::string registration_secret;  // sent as X-Registration-Secret; "" = none
  // Sent as `Authorization: Bearer` on the node's W3C calls to the hub (telling it about a
  // session the node ended) and on its drain call; "" = none.
  std::string hub_client_token;
  std::string hub_admin_token;
  std::vector<config::SlotConfig> slots;
  Duration session_timeout = std::chrono::seconds(300);  // 0 = never
  int drain_after_sessions = 0;                          // 0 = never
  Duration drain_timeout = std::chrono::seconds(60);
  Duration heartbeat_period = std::chrono::seconds(5);
  Duration driver_ready_timeout = std::chrono::seconds(20);
  Duration session_create_timeout = std::chrono::seconds(60);
  Duration command_timeout = std::chrono::minutes(10);
  Duration stop_grace = std::chrono::seconds(5);  // SIGTERM to SIGKILL for a driver
  // Keep a started, ready driver per driver command for the next session (spare_drivers.h);
  // `gridhub node` and `standalone` turn it on.
  bool spare_drivers = false;
  // Largest answer read from a driver or relay (server.max-body); beyond it a command gets 502
  // and a new session fails. Answers from the hub and driver /status are read up to 1 MiB.
  size_t max_response_body = size_t{64} << 20;
  uint64_t max_upload = uint64_t{256} << 20;  // node.max-upload: largest uploaded file, unpacked
  std::string work_dir;  // logs and per-session profiles; "" = $TMPDIR/gridhub-node-<id>
};

// The parts of NodeAgentOptions that NodeAgent::Reconfigure changes on a running node.
struct NodeLiveOptions {
  std::string registration_secret;
  std::string hub_client_token;
  std::string hub_admin_token;
  Duration session_timeout{};
  int drain_after_sessions = 0;
  Duration drain_timeout{};
  Duration heartbeat_period{};
};
NodeLiveOptions LiveOptionsOf(const NodeAgentOptions& options);

// The hub-facing slot id of slot `index` on node `node_id`.
SlotId SlotIdOf(const NodeId& node_id, size_t index);

// Sessions the hub listed as unknown that the node ends: those whose creation answer was sent
// at least kUnknownSessionGrace before the heartbeat was composed (a younger one may not be
// recorded by the hub yet). `answered_at(id)` is nullopt for a session the node does not have
// or has not answered yet. Pure.
inline constexpr std::chrono::seconds kUnknownSessionGrace{10};
std::vector<SessionId> UnknownSessionsToEnd(
    std::span<const SessionId> unknown, SteadyTime composed,
    const std::function<std::optional<SteadyTime>(const SessionId&)>& answered_at);

class NodeAgent {
 public:
  NodeAgent(NodeAgentOptions options, const Clock& clock, http::HttpClient& client);
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Creates the work directory and starts the maintenance thread, which registers with the hub
  // (retrying with backoff) and heartbeats.
  Status Start() EXCLUDES(mu_);

  // The node's HTTP surface: POST /session, /session/{id}/..., DELETE /session/{id},
  // GET /status, POST /se/grid/node/drain, the WebSocket upgrades GET /session/{id}/se/bidi and
  // /se/cdp (SessionSockets), and the files routes /session/{id}/se/file and /se/files
  // (SessionFiles). Also accepts the legacy /wd/hub prefix. Every route but GET /status is
  // refused (401) to callers PeerAccess refuses; GET /status shows them counts and availability
  // only.
  void Handle(http::ServerRequest request, http::Responder responder) EXCLUDES(mu_);

  // Applies the live parts of `fresh` (a SIGHUP): secret and hub tokens, idle timeout (for
  // running sessions too), drain-after-sessions, drain timeout, heartbeat period. Everything
  // else in `fresh` is ignored; it needs a restart.
  void Reconfigure(const NodeAgentOptions& fresh) EXCLUDES(mu_);

  // No new sessions; running ones may finish until drain-timeout (kSignal, kHub), then they are
  // ended; once empty the node deregisters and WaitDone() returns. Idempotent.
  void Drain(DrainReason reason) EXCLUDES(mu_);
  // True once a drain has completed (deregistered), false on timeout (by the injected clock).
  bool WaitDone(Duration timeout) EXCLUDES(mu_);
  // Ends every session and driver now, deregisters (best effort) and joins all threads.
  // Idempotent; also run by the destructor. Proxied commands still in flight after a short
  // wait are left to the HttpClient: stop it (which completes them) before destroying the
  // agent, as NodeServer does.
  void Stop() EXCLUDES(mu_);

  bool registered() const { return link_.registered(); }
  const std::string& id() const { return options_.id; }
  const std::string& uri() const { return options_.uri; }
  const std::string& work_dir() const { return options_.work_dir; }
  // WebSocket tunnels not closed yet (handshaking or open), over all sessions.
  size_t socket_count() const { return sockets_.tunnel_count(); }
  // GET /status's body; without `full`, no session ids, stereotypes or URLs.
  nlohmann::json StatusJson(bool full = true) const EXCLUDES(mu_);

 private:
  struct Session;
  enum class HubNotice { kNone, kTellHub };
  // When the maintenance thread next talks to the hub.
  struct HubSchedule {
    SteadyTime next_register;
    SteadyTime next_heartbeat;
    Duration backoff;
  };
  // What one maintenance pass found due.
  struct Due {
    std::vector<std::shared_ptr<Session>> to_end;
    bool notice_drain = false;  // a drain just started: tell the hub
    bool finish_drain = false;  // drained and empty: deregister and be done
  };

  // Requests.
  void RouteSession(const std::string& path, http::ServerRequest request, http::Responder responder)
      EXCLUDES(mu_);
  void NewSession(const http::ServerRequest& request, http::Responder responder) EXCLUDES(mu_);
  // `asked_at`: when the request came, for the node.session_started line's total.
  void CreateSession(const std::shared_ptr<Session>& session, const matching::Candidate& candidate,
                     SteadyTime asked_at, http::Responder responder) EXCLUDES(mu_);
  // Makes a created session routable; an error when it may not be (stopping, driver gone).
  Status Publish(const std::shared_ptr<Session>& session, const CreatedSession& created)
      EXCLUDES(mu_);
  void FailCreation(const std::shared_ptr<Session>& session, const Error& failure,
                    http::Responder& responder) EXCLUDES(mu_);
  void Deliver(const std::shared_ptr<Session>& session, const std::string& body,
               http::Responder& responder) EXCLUDES(mu_);
  void Proxy(const SessionId& session_id, http::ServerRequest request, http::Responder responder)
      EXCLUDES(mu_);
  void OnProxied(const SessionId& session_id, http::ClientResponse answer,
                 http::Responder& responder) EXCLUDES(mu_);
  void DeleteSession(const SessionId& session_id, http::Responder responder) EXCLUDES(mu_);
  // GET /session/{id}/se/bidi|cdp: admitted like a command, then SessionSockets' upgrade.
  void OpenSocket(const SessionId& session_id, SocketKind kind, const http::ServerRequest& request,
                  http::Responder responder) EXCLUDES(mu_);
  // Where the new session's sockets go, with the node's own socket URLs written into its
  // capabilities and answer.
  SocketTargets OfferSockets(const Session& session, CreatedSession& created) const;
  void OnSocketActivity(const SessionId& session_id) EXCLUDES(mu_);
  // /se/file and /se/files (SessionFiles, on a task thread); a relay's go to the relay.
  void ServeFiles(const SessionId& session_id, std::string subpath, http::ServerRequest request,
                  http::Responder responder) EXCLUDES(mu_);
  void HandleDrainRequest(const http::ServerRequest& request, http::Responder responder);
  bool RecentlyEnded(const SessionId& session_id) const REQUIRES(mu_);
  // The session if it is here and not ending; else null and `*why` says whether it has ended
  // or was never here (the invalid-session message commands and socket upgrades answer).
  Session* LiveSession(const SessionId& session_id, std::string* why) REQUIRES(mu_);

  // Ending sessions.
  std::shared_ptr<Session> ClaimForEnd(const SessionId& session_id) REQUIRES(mu_);
  // Runs on a task thread: DELETE on the driver (when asked), stop the process, remove the
  // profile, free the place. Returns the driver's DELETE answer when there was one.
  std::optional<http::ClientResponse> FinishSession(const std::shared_ptr<Session>& session,
                                                    bool delete_on_driver) EXCLUDES(mu_);
  void EndInBackground(const std::shared_ptr<Session>& session, bool delete_on_driver,
                       HubNotice notice);
  void OnDriverExit(const std::weak_ptr<Session>& weak) EXCLUDES(mu_);
  void EndUnknownSessions(std::span<const SessionId> unknown, SteadyTime composed) EXCLUDES(mu_);

  // Maintenance thread.
  void Maintain() EXCLUDES(mu_);
  // Registers or heartbeats when due; false once the node stops.
  bool TalkToHub(HubSchedule& schedule) EXCLUDES(mu_);
  void Heartbeat(Duration period) EXCLUDES(mu_);
  Due CollectDue() EXCLUDES(mu_);
  void CollectDrainDue(SteadyTime now, Due& due) REQUIRES(mu_);
  void FinishDrain() EXCLUDES(mu_);
  // Sleeps until the next thing is due or something changes; false once the node stops.
  bool SleepUntilDue(const HubSchedule& schedule, bool registered) EXCLUDES(mu_);
  nlohmann::json RegistrationBody() const EXCLUDES(mu_);
  // Why `request` may not use the node (nullopt when it may); with kLog, refusals are logged
  // now and then.
  enum class RefusalLog { kQuiet, kLog };
  std::optional<std::string> Refusal(const http::ServerRequest& request, RefusalLog log) const
      EXCLUDES(mu_);

  const NodeAgentOptions options_;  // its live parts are in live_
  const Clock& clock_;
  http::HttpClient& client_;
  std::vector<NodeSlot> slots_;  // options_.slots[i]'s id and parsed stereotype, for matching
  HubLink link_;
  SessionLauncher launcher_;
  TaskThreads tasks_;

  mutable Mutex mu_;
  std::condition_variable_any wake_;
  NodeLiveOptions live_ GUARDED_BY(mu_);
  mutable std::optional<SteadyTime> last_refusal_log_ GUARDED_BY(mu_);
  SlotBook book_ GUARDED_BY(mu_);
  std::map<SessionId, std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
  // Sessions the node ended on its own (idle, driver died); a DELETE for one still succeeds so
  // the hub can free its slot without an error.
  std::deque<SessionId> recently_ended_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  int in_flight_ GUARDED_BY(mu_) = 0;  // proxied commands whose callback has not run yet
  bool done_ GUARDED_BY(mu_) = false;
  bool drain_noticed_ GUARDED_BY(mu_) = false;
  std::optional<SteadyTime> drain_deadline_ GUARDED_BY(mu_);
  uint64_t next_sequence_ GUARDED_BY(mu_) = 0;
  std::thread maintenance_;
  // Last: destroyed first, so that its pump's callbacks (activity) never outlive mu_ or book_.
  SessionSockets sockets_;
};

}  // namespace gridhub::node
