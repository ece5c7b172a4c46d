#pragma once

// The hub's state and decisions: the session queue, the NodeRegistry, the SessionMap and the
// TicketBook behind ONE mutex (the parts are plain classes, not thread-safe themselves).
// Every operation mutates under the lock and returns Effects — the replies to send (as values:
// an opaque ReplyTarget and a body or an Error; outcome_http.h makes them HTTP), the sessions
// to create or delete on nodes, the health probes to run — which the caller carries out after
// the lock is released, so no I/O ever happens under it. Untrusted input arrives parsed
// (node_registration.h, create_answer.h).
//
//   Grid grid(clock, ids, settings);
//   Effects effects = grid.SubmitNewSession(std::move(spec), run_id, no_wait, target);
//   service.Execute(std::move(effects));   // replies, POST {node}/session, ...
//
// Thread-safe. Reads for /status come from snapshot(), an immutable value republished at the
// end of every operation that changed something, so probes never wait on the lock.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/result.h"
#include "common/strong_id.h"
#include "config/settings.h"
#include "hub/create_answer.h"
#include "hub/grid_event.h"
#include "hub/grid_snapshot.h"
#include "hub/node_registration.h"
#include "hub/node_registry.h"
#include "hub/node_uri.h"
#include "hub/session_map.h"
#include "hub/session_record.h"
#include "hub/socket_answer.h"
#include "hub/ticket_book.h"
#include "hub/ticket_record.h"
#include "matching/capabilities.h"
#include "matching/slot_matcher.h"
#include "matching/stereotype.h"
#include "metrics/hub_metrics.h"
#include "queue/session_queue.h"

namespace gridhub::hub {

// The queue label of requests whose label no slot or cap declares (it cannot be a label:
// parentheses are not allowed in one). They share one max-per-label budget and one place in
// the round-robin, so inventing labels buys no extra queue room (docs/queue.md).
inline constexpr std::string_view kUndeclaredLabel = "(undeclared)";

// Where a held client request is answered. The Grid never looks inside: `handle` is whatever
// the caller needs to answer (HubService keeps its http::Responder there), handed back
// untouched in the Reply. `connection_id` names the client connection the request came on
// (0: none) so that OnDisconnect(connection_id) withdraws the waiter when the client leaves.
struct ReplyTarget {
  std::shared_ptr<void> handle;
  uint64_t connection_id = 0;
};

// An answer to send to a waiting client: the W3C new-session response, or the Error that
// ended the request. hub/outcome_http.h turns it into HTTP (W3CAnswer).
struct Reply {
  ReplyTarget target;
  Result<std::string> outcome;
  // Set on a successful new-session reply: if it cannot be delivered, the session is ended.
  SessionId session;
};

// POST {node_uri}/session for a granted request.
struct CreateJob {
  queue::RequestId request = 0;
  NodeId node_id;
  std::string node_uri;
  SlotId slot_id;
  nlohmann::json capabilities;  // what goes under alwaysMatch
  std::chrono::milliseconds timeout{0};
  // The request's PUBLIC (public_url.h), "" when none: the answer's WebSocket URLs are built
  // from it on the create-answer path (socket_answer.h).
  std::string public_base;
  bool bare_node = false;  // registered with "healthCheck": "status"
};

// DELETE {node_uri}/session/{id}: a session nobody may use (client gone, late, node left).
struct DeleteJob {
  std::string node_uri;
  SessionId session_id;
};

struct Effects {
  std::vector<Reply> replies;
  std::vector<CreateJob> creates;
  std::vector<DeleteJob> deletes;
  std::vector<ProbeJob> probes;
  // What an operator should see happen (hub/grid_event.h); logged and kept for /ui.
  std::vector<GridEvent> events;
  // Something may now be due earlier than the timer thread planned (a new waiter, a node, a
  // probe or ticket deadline): it must recompute. Commands and heartbeats leave it false, so
  // the hot path never wakes the timer.
  bool reschedule = false;

  void Append(Effects other);
  bool empty() const {
    return replies.empty() && creates.empty() && deletes.empty() && probes.empty() &&
           events.empty() && !reschedule;
  }
};

// A change the dispatcher hub writes to the shared store (cluster/cluster_state.h), so that the
// other hubs route to the grid's sessions and a new dispatcher can take over. Recorded only
// while the store journal runs (Grid::StartStoreJournal), in the order the changes happened
// under the Grid's lock; a single hub never starts it and records nothing.
struct StoreChange {
  enum class Kind {
    kNodePut,        // node_id registered (again): ClusterState::PutNode(node_id, registration)
    kNodeRemoved,    // node_id left (deregistered, drained): DeleteNode
    kSessionPut,     // session started or adopted: PutRoute(session.id, RouteToJson(session))
    kSessionEnded,   // session.id (only that is set) ended: EndRoute
    kTicketPut,      // a ticket opened, finished or failed: PutTicket(ticket.id, TicketToJson)
    kTicketRemoved,  // ticket.id (only that is set) was taken, deleted or lapsed: DeleteTicket
  };
  Kind kind = Kind::kSessionPut;
  NodeId node_id;
  std::string registration;  // kNodePut: the body the node registered with, as the caller gave it
  SessionRecord session;
  TicketRecord ticket;
};

// What the hub answers a node's heartbeat.
struct HeartbeatAnswer {
  Availability availability = Availability::kUp;  // after the heartbeat
  // The ids the heartbeat listed that the hub does not route to this node (unknown, or live on
  // another node), in the order listed. The hub changes nothing for them; the node ends those
  // whose creation answer it sent long enough ago (docs/nodes.md "Heartbeats").
  std::vector<SessionId> unknown_sessions;
};

// How a new-session request is answered: held HTTP request (W3C) or an asynchronous ticket.
struct TicketView {
  std::string id;
  std::string status;  // "waiting" | "ready"
  size_t position = 0;
  std::string label;
  double enqueued_at = 0;  // Unix seconds, for display
  double deadline = 0;
};

class Grid {
 public:
  // `ids` makes ticket ids and tokens; both must outlive the grid.
  Grid(const Clock& clock, IdSource& ids, const config::Settings& settings);
  ~Grid();
  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;

  // --- W3C new session ---------------------------------------------------------------------
  // Admits (or refuses) a validated request and dispatches at once. `run_id` is the request's
  // gridhub:runId or the X-Run-Id header; `no_wait` combines the capability and the headers.
  // `public_base` is the request's PUBLIC ("" = none), handed back in its CreateJob.
  Effects SubmitNewSession(matching::NewSessionSpec spec, std::string run_id, bool no_wait,
                           ReplyTarget target, std::string public_base = {});
  // The outcome of POST {node}/session for `request`, classified outside the lock
  // (create_answer.h). Taken by value: the grid adds se:gridhubNode to the answer's body in
  // place instead of copying it under the lock. `node_uri` is where the session was created,
  // so that a session nobody may use can be deleted even if its node deregistered meanwhile.
  Effects OnCreateResult(queue::RequestId request, const NodeId& node_id,
                         const std::string& node_uri, const SlotId& slot_id, CreateAnswer answer);
  // The client's TCP connection closed: a waiter on it is withdrawn.
  Effects OnDisconnect(uint64_t connection_id);
  // The success response could not be written (client gone): end that session again.
  Effects OnReplyUndelivered(const SessionId& session);

  // --- sessions ------------------------------------------------------------------------------
  std::optional<SessionRoute> FindSession(const SessionId& session);
  // The session ended (DELETE answered by the node, or the node lost it): frees its slot.
  Effects EndSession(const SessionId& session);
  // The sessions that left the session map, in any way (DELETE, node DOWN or gone, drain,
  // re-registration, ticket expiry, heartbeat reconciliation), since the last call: the
  // service closes their WebSocket tunnels, outside the lock. Cheap when there are none.
  std::vector<SessionId> TakeEndedSessions();
  // A session event (POST /session/{id}/se/event) for the console: kept as the session's last
  // event. Where the session runs (label, run id) for the log line; nullopt when unknown.
  std::optional<SessionRoute> NoteSessionEvent(const SessionId& session, std::string event_type);

  // --- nodes ---------------------------------------------------------------------------------
  // Where the hub listens, so that no node registers the hub itself. Until set (tests), no
  // address counts as the hub's.
  void SetSelfAddress(SelfAddress self);
  // A POST /nodes body, already checked by ParseNodeRegistration (node_registration.h).
  // Returns the node as GET /nodes shows it. kInvalidArgument when the uri is the hub's own
  // address; kConflict when the id is live under another uri (see DESIGN 7a).
  // `registration_json` is the body as the node sent it ("" = not kept): the store journal
  // hands it back (kNodePut) for a new dispatcher to register the node again from.
  Result<nlohmann::json> RegisterNode(NodeRegistration registration, Effects* effects,
                                      std::string registration_json = {});
  // A new dispatcher takes over (DESIGN §8): the node as the store keeps it (its body, parsed
  // into `registration`) with the sessions the store's routes place on it, each counted under
  // its recorded label and run id, exactly as if this hub had granted it. The store's routes
  // are the truth: registration.sessions is ignored, and a record's node id and uri are this
  // node's. A record already live is skipped; one for which the node has no room is not
  // adopted and is reported kSessionEnded to the journal (its route must go). Errors and
  // result as RegisterNode.
  Result<nlohmann::json> AdoptNode(NodeRegistration registration, std::string registration_json,
                                   std::vector<SessionRecord> sessions, Effects* effects);
  // The answer to a heartbeat; nullopt for an unknown node (the agent should register again).
  // A drained node that already left answers kDraining, so that its agent does not register
  // again. Sessions routed to the node that `report` no longer lists are ended (see
  // ReconcileSessionsLocked); `report.draining` drains the node.
  std::optional<HeartbeatAnswer> Heartbeat(const NodeId& node_id, const HeartbeatReport& report,
                                           Effects* effects);
  bool Deregister(const NodeId& node_id, Effects* effects);
  bool Drain(const NodeId& node_id, Effects* effects);
  Effects OnProbeResult(const NodeId& node_id, bool answered);
  nlohmann::json NodesJson();

  // --- tickets (asynchronous queue API) -------------------------------------------------------
  // The new ticket (id, token, position) or why the request was refused (TicketRefusalStatus
  // in outcome_http.h gives the ticket API's status for it).
  Result<nlohmann::json> CreateTicket(matching::NewSessionSpec spec, std::string run_id,
                                      Effects* effects, std::string public_base = {});
  // Every ticket call needs the ticket's token (X-Queue-Token, compared in constant time):
  // kNotFound for an unknown (expired, taken) ticket, else kForbidden for a wrong token.
  Result<nlohmann::json> TicketStatus(const std::string& id, std::string_view token);
  // A finished ticket's outcome, handed over once; or why not (waiting, unknown, wrong token).
  TicketBook::Taken TakeTicket(const std::string& id, std::string_view token);
  Status TicketHeartbeat(const std::string& id, std::string_view token);
  Status DeleteTicket(const std::string& id, std::string_view token, Effects* effects);

  // --- queue administration -------------------------------------------------------------------
  nlohmann::json QueueJson();
  nlohmann::json SeleniumQueueJson();
  // Fails every waiter with `session not created`; returns how many.
  size_t ClearQueue(Effects* effects);
  // An operator cancels one waiter (DELETE /queue/{id}, `id` as GET /queue shows it): its
  // client gets `session not created` "cancelled by an operator" (a ticket keeps that error
  // for one take), counted as cancelled. kNotFound when no such request waits; a request
  // whose session is already being created is no longer waiting.
  Status CancelWaiter(const std::string& id, Effects* effects);

  // --- configuration ---------------------------------------------------------------------------
  // Applies the queue and matching sections and the hub section (tokens, secret, slot
  // selection, node timeout, probe period); keeps every waiter.
  Effects Reconfigure(const config::Settings& settings);
  config::Settings settings();

  // --- time ------------------------------------------------------------------------------------
  // Expires waiters and tickets, marks silent nodes DOWN, starts due probes.
  Effects Tick();
  // When Tick() next has something to do; nullopt when nothing is scheduled.
  std::optional<SteadyTime> NextWake();

  // Fails every waiter and refuses new work ("hub is shutting down").
  Effects Shutdown();

  // --- several hubs (DESIGN §8) ------------------------------------------------------------------
  // Records StoreChanges from now on (until Abdicate). What was pending is dropped, and the
  // journal starts with the whole grid: kNodePut for every node registered with its body,
  // kSessionPut for every session, kTicketPut for every ticket — what a new dispatcher or an
  // emptied store needs.
  void StartStoreJournal();
  // A new dispatcher takes over the tickets the store keeps (after AdoptNode for every node,
  // so that their sessions and slots are known), oldest sequence first. READY and FAILED ones
  // come back as they were; their ready-ttl restarts now. A WAITING one is queued again from
  // its capabilities under its id and token, as a request admitted now (queue.timeout
  // restarts, like a held request its front hub re-submits), keeping its enqueue time; one
  // the queue refuses now is FAILED with the refusal for its holder to take. A ticket already
  // open, or whose capabilities no longer make a request, is skipped: returns how many were.
  size_t AdoptTickets(std::vector<TicketRecord> tickets, Effects* effects);
  // The changes since the last call, oldest first; empty while the journal is off. The order
  // holds across calls only if one caller at a time takes and applies them (e.g. under a mutex
  // of its own, held until the store's writes are done).
  std::vector<StoreChange> TakeStoreChanges();
  // This hub stops being the dispatcher (the lease is lost or handed over). Every waiter is
  // answered `why` — pass ErrorCode::kUnavailable (W3C 502), the one code no other waiter
  // reply carries, so that a forwarding hub can tell "re-submit to the new dispatcher" from
  // a real refusal — and its ticket is dropped here (the store keeps it for the next
  // dispatcher, AdoptTickets); no outcome is counted (it is re-submitted).
  // Nodes and sessions are forgotten without any DeleteJob or event and are not listed by
  // TakeEndedSessions: the sessions live on and other hubs keep routing to them. Creations in
  // flight are deleted on the node when their answer comes (their client was answered). The
  // journal stops (a deposed hub must not write the store); the snapshot is republished
  // empty. Afterwards the Grid works as a fresh one would (RegisterNode, AdoptNode, ...).
  Effects Abdicate(const Error& why);

  std::shared_ptr<const GridSnapshot> snapshot() const;
  // The snapshot with its list of waiters (GridSnapshot::queue) made, for the console and
  // /graphql. Takes the lock to list them (O(waiters)) if the queue changed since they were
  // last listed, at most once per snapshot version; /status and /metrics never need it.
  std::shared_ptr<const GridSnapshot> snapshot_with_queue();

  // The queue's per-label numbers (waiting, active sessions counted against caps, ...).
  std::map<std::string, queue::LabelCounters> QueueCounters();

  // How many entries the per-label and per-request structures hold, for tests that growth
  // follows what is live (DESIGN 7a).
  struct Footprint {
    size_t queue_labels = 0;
    size_t label_uses = 0;
    size_t waiters = 0;
    size_t tickets = 0;
    size_t sessions = 0;
    size_t metric_labels = 0;  // "other" included
  };
  Footprint footprint();

  // For tests: "" while the incremental structures agree with a pass over every node — the
  // room index dispatch offers from (NodeRegistry::IndexProblem) and the published snapshot's
  // node views, each in its place and showing its node's URI, availability and sessions. Else
  // what differs: some change was not followed by NodeRegistry::Touch.
  std::string IndexProblem();

  // The hub's Prometheus counters and histograms; the grid records new-session events in them,
  // the service records proxied commands and renders GET /metrics.
  metrics::HubMetrics& metrics() { return metrics_; }

 private:
  using Slot = NodeRegistry::Slot;
  using Node = NodeRegistry::Node;
  using Offer = NodeRegistry::Offer;
  struct Waiter;
  class Compatibility;

  // Everything below REQUIRES(mu_).
  Effects DispatchLocked() REQUIRES(mu_);
  // One call of the queue's Dispatch over `offer` (grouped by node), in slot-selection order:
  // pack offers each slot with all its free units, spread one unit per slot.
  std::vector<queue::Assignment> DispatchRoundLocked(std::span<const Offer> offer, bool pack,
                                                     const Compatibility& compat) REQUIRES(mu_);
  // Reserves the granted slot and plans POST {node}/session; the slot, or null if the grant
  // was dropped (waiter gone).
  const Slot* StartCreationLocked(const queue::Assignment& a,
                                  const std::unordered_map<std::string, Offer>& by_id,
                                  SteadyTime now, Effects* effects) REQUIRES(mu_);
  std::vector<const matching::Stereotype*> PoolLocked() REQUIRES(mu_);
  void ResolveRestrictionLocked(Waiter& waiter) REQUIRES(mu_);
  // The pool of slots (or the toggles) changed: every waiting explicit-label request picks its
  // trailing-fallback label again, and remembered LabelCanUse() answers are dropped.
  void PoolChangedLocked() REQUIRES(mu_);
  // SlotCompatibility::LabelCanUse for the hub: false only when no waiter of `label`, now or
  // later in this generation, could be served by `slot`.
  bool LabelCanUseLocked(std::string_view label, const Slot& slot) const REQUIRES(mu_);
  // Records what LabelCanUseLocked must allow for a newly admitted waiter's label.
  void NoteLabelUseLocked(const Waiter& waiter) REQUIRES(mu_);
  // Why the queue refused `waiter`, in words that say which setting did it.
  Error RefusalLocked(const queue::Refused& refused, const Waiter& waiter,
                      std::span<const matching::Stereotype* const> pool) const REQUIRES(mu_);
  // A request refused at admission (no waiter is kept): counted, and an event.
  Error RefuseLocked(Error error, const std::string& metric_label, const std::string& run_id)
      REQUIRES(mu_);
  Result<queue::RequestId> AdmitLocked(matching::NewSessionSpec spec, std::string run_id,
                                       bool no_wait, SteadyTime* deadline) REQUIRES(mu_);
  void FailWaiterLocked(Waiter& waiter, const Error& error, Effects* effects) REQUIRES(mu_);
  // When queue.registration-grace ends: fails at once (unsatisfiable) every waiter that no
  // registered slot could ever serve, as if it had arrived after the grace. True if any.
  // Could some slot of `pool` ever serve `waiter` (ignoring load), under its resolved label?
  bool CanEverServeLocked(const Waiter& waiter,
                          std::span<const matching::Stereotype* const> pool) const REQUIRES(mu_);
  bool RejectUnsatisfiableLocked(Effects* effects) REQUIRES(mu_);
  // Counts the request's outcome once; later calls for the same waiter are no-ops, so the
  // first place that decides (e.g. "cancelled" before the W3C error is sent) wins. That first
  // time an outcome other than success is also an event (`message` is what the client hears).
  void RecordOutcomeLocked(Waiter& waiter, metrics::Outcome outcome, std::string_view message = {})
      REQUIRES(mu_);
  // Events for the operator (grid_event.h) collect here while an operation runs; the public
  // operation hands them over in its Effects at its end (FlushEventsLocked), so the helpers
  // that decide need no Effects of their own.
  void NoteEventLocked(GridEvent event) REQUIRES(mu_);
  void FlushEventsLocked(Effects* effects) REQUIRES(mu_);
  // The label `waiter` is counted under (see kUndeclaredLabel); its restriction is resolved.
  std::string CountingLabelLocked(const Waiter& waiter,
                                  std::span<const matching::Stereotype* const> pool) const
      REQUIRES(mu_);
  // Metric series exist for exactly the labels that slots and caps declare now.
  void SyncMetricLabelsLocked() REQUIRES(mu_);
  // Answers the waiter's client, or finishes its ticket.
  void DeliverFailureLocked(Waiter& waiter, const Error& error, Effects* effects) REQUIRES(mu_);
  void DeliverSessionLocked(Waiter& waiter, const SessionId& session, std::string body,
                            Effects* effects) REQUIRES(mu_);
  void RemoveWaiterLocked(queue::RequestId id) REQUIRES(mu_);
  // The client gave up on waiter `id` (disconnect, ticket deleted or abandoned): counted as
  // cancelled and removed from the queue — unless its session is being created, in which case
  // it is only marked abandoned and the creation result deletes the session. True if removed.
  // `why` is the event's message ("the client disconnected").
  bool CancelWaiterLocked(queue::RequestId id, std::string_view why) REQUIRES(mu_);
  // `why` is the session_ended event's reason: deleted, node_ended, node_down, node_removed,
  // replaced, undelivered, ticket_deleted, ticket_expired.
  void EndSessionLocked(const SessionId& session_id, Effects* effects, bool delete_on_node,
                        std::string_view why) REQUIRES(mu_);
  // Every removal from sessions_ goes through here, so TakeEndedSessions sees it (and the
  // operator a session_ended event).
  std::optional<SessionEntry> RemoveSessionLocked(const SessionId& id, std::string_view why)
      REQUIRES(mu_);
  void DropNodeSessionsLocked(Node& node, Effects* effects, bool delete_on_node,
                              std::string_view why) REQUIRES(mu_);
  // The creation outcome's steps. Why a reported session id is not taken ("" if it is).
  std::string RefusedSessionLocked(const CreateAnswer& answer) const REQUIRES(mu_);
  // Created and wanted: routes the session and answers the waiter.
  void AcceptSessionLocked(Waiter& waiter, Node& node, Slot& slot, CreateAnswer answer,
                           SteadyTime now, Effects* effects) REQUIRES(mu_);
  // Failed on `failed_node` (waiter.last_failure says why): queued again, or failed for good
  // when its retries or its time are used up.
  void RetryOrFailLocked(Waiter& waiter, const NodeId& failed_node, SteadyTime now,
                         Effects* effects) REQUIRES(mu_);
  // Some UP node it has not failed on could serve `waiter`.
  bool OtherNodeCouldServeLocked(const Waiter& waiter) const REQUIRES(mu_);
  // Tick's steps; each true if it changed something. Creations past their request's deadline
  // (the client is answered, the session deleted when it appears); waiters past theirs;
  // tickets that lapsed.
  bool ExpireCreationsLocked(SteadyTime now, Effects* effects) REQUIRES(mu_);
  bool ExpireWaitersLocked(Effects* effects) REQUIRES(mu_);
  bool ExpireTicketsLocked(Effects* effects) REQUIRES(mu_);
  // Registration parts: the checked registration made into a Node (no lock needed; its slots
  // and uri are moved out of `registration`), then merged.
  static std::unique_ptr<Node> NodeFrom(NodeRegistration& registration);
  // RegisterNode and AdoptNode: `from_store` says the records come from the store (see
  // AdoptNode) rather than from the node's own "sessions".
  Result<nlohmann::json> RegisterLocked(std::unique_ptr<Node> node,
                                        std::vector<SessionRecord> adopted, bool from_store,
                                        Effects* effects) REQUIRES(mu_);
  // A record with an empty label counts under its slot's label.
  void AdoptSessionsLocked(Node& node, std::vector<SessionRecord> adopted, bool from_store,
                           SteadyTime now) REQUIRES(mu_);
  // The store journal (StartStoreJournal): each a no-op while it is off.
  void JournalLocked(StoreChange change) REQUIRES(mu_);
  void JournalSessionLocked(const SessionEntry& session, const Node& node) REQUIRES(mu_);
  void JournalNodeLocked(const Node& node) REQUIRES(mu_);
  // The ticket `id` as it is now (kTicketPut), or gone (kTicketRemoved).
  void JournalTicketLocked(const std::string& id) REQUIRES(mu_);
  void JournalTicketGoneLocked(const std::string& id) REQUIRES(mu_);
  // AdoptTickets' step for one ticket; false if skipped.
  bool AdoptTicketLocked(TicketRecord record, SteadyTime now) REQUIRES(mu_);
  // Abdicate's steps: the waiters answered, then nodes and sessions forgotten.
  void AbdicateWaitersLocked(const Error& why, Effects* effects) REQUIRES(mu_);
  void ForgetGridLocked() REQUIRES(mu_);
  // What the heartbeat lists that the hub does not route to `node` (HeartbeatAnswer).
  std::vector<SessionId> UnknownSessionsLocked(const NodeId& node,
                                               const HeartbeatReport& report) const REQUIRES(mu_);
  // Ends the sessions routed to `node` that a heartbeat no longer lists; true if any. May
  // remove a draining node that is left empty (`node` is then gone).
  bool ReconcileSessionsLocked(Node& node, const std::vector<SessionId>& listed,
                               SteadyTime previous_heartbeat, SteadyTime now) REQUIRES(mu_);
  // REQUIRES: the node exists. `why` is the node_draining event's message.
  void DrainLocked(const NodeId& node_id, std::string_view why) REQUIRES(mu_);
  void RemoveNodeIfDrainedLocked(const NodeId& node_id) REQUIRES(mu_);
  // Republishes the snapshot at the end of a public operation that changed something. Only the
  // parts that changed are rebuilt: each node's view when it no longer matches the node; the
  // rest is shared with the previous snapshot, and the list of waiters is left out once it
  // changed (queue_view_dirty_) until snapshot_with_queue() makes it again.
  void PublishLocked() REQUIRES(mu_);
  std::shared_ptr<const GridSnapshot::NodeView> NodeViewLocked(Node& node, SteadyTime now)
      REQUIRES(mu_);
  // Whether `view` shows `node` as it is now.
  static bool ViewShows(const GridSnapshot::NodeView& view, const Node& node);
  // Every waiter, in service order, as GridSnapshot::queue lists them.
  std::shared_ptr<const GridSnapshot::QueueView> ListQueueLocked() REQUIRES(mu_);
  // A waiter of `label` starts (`delta` 1) or stops (-1) waiting, as the snapshot counts it:
  // admitted, or back from a failed creation; granted, or gone while not creating.
  void CountWaitingLocked(const std::string& label, int delta) REQUIRES(mu_);
  // The waiter as the console lists it, made on first use and kept with the waiter.
  std::shared_ptr<const GridSnapshot::WaiterView> WaiterViewLocked(Waiter& waiter, SteadyTime now)
      REQUIRES(mu_);

  const Clock& clock_;
  mutable Mutex mu_;
  config::Settings settings_ GUARDED_BY(mu_);
  matching::SlotMatcher matcher_ GUARDED_BY(mu_);
  queue::SessionQueue queue_ GUARDED_BY(mu_);
  NodeRegistry nodes_ GUARDED_BY(mu_);
  std::unordered_map<queue::RequestId, std::unique_ptr<Waiter>> waiters_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, queue::RequestId> waiter_by_connection_ GUARDED_BY(mu_);
  SessionMap sessions_ GUARDED_BY(mu_);
  TicketBook tickets_ GUARDED_BY(mu_);
  // Waiters whose session is being created, by deadline: at the deadline the client is
  // answered, and the session is deleted whenever the node reports it.
  std::set<std::pair<SteadyTime, queue::RequestId>> creating_deadlines_ GUARDED_BY(mu_);
  bool shutting_down_ GUARDED_BY(mu_) = false;
  std::vector<GridEvent> events_ GUARDED_BY(mu_);  // see NoteEventLocked
  std::vector<SessionId> ended_sessions_ GUARDED_BY(mu_);
  bool journal_on_ GUARDED_BY(mu_) = false;
  std::vector<StoreChange> journal_ GUARDED_BY(mu_);
  std::atomic<bool> has_ended_sessions_{false};  // lets TakeEndedSessions skip the lock
  SelfAddress self_ GUARDED_BY(mu_);
  // The registration grace runs from created_at_; grace_checked_ once its end was handled.
  SteadyTime created_at_ GUARDED_BY(mu_);
  bool grace_checked_ GUARDED_BY(mu_) = false;
  // Per queue label with waiters: its parsed key and whether some waiter of it was "wide" — a
  // request by browser name (no gridhub:label) whose candidates reach beyond that browser, e.g.
  // firstMatch [chrome, firefox] under label "chrome", or one counted under another label than
  // its own (trailing fallback, the undeclared bucket). Sticky while the label has waiters.
  struct LabelUse {
    matching::LabelKey key;
    bool wide = false;
    size_t waiters = 0;  // the entry goes with the label's last waiter
  };
  std::unordered_map<std::string, LabelUse> label_use_ GUARDED_BY(mu_);
  // SlotCompatibility::Generation(): bumped whenever a LabelCanUse() answer may change (nodes
  // registered, replaced or gone, toggles changed, a label turned wide), so the queue may
  // remember the answers per slot unit in between.
  uint64_t compat_generation_ GUARDED_BY(mu_) = 1;
  uint64_t version_ GUARDED_BY(mu_) = 0;
  // compat_generation_ when the metric labels were last synced (it changes with the pool).
  uint64_t metrics_generation_ GUARDED_BY(mu_) = 0;
  // The waiters as the snapshot lists them (not creating), made by snapshot_with_queue() and
  // dropped wherever a waiter arrives, leaves, or starts or stops creating its session
  // (queue_view_dirty_).
  std::shared_ptr<const GridSnapshot::QueueView> queue_view_ GUARDED_BY(mu_);
  // Every node's view in id order (Node::view_index), as the last snapshot listed them.
  GridSnapshot::NodeViewList node_views_ GUARDED_BY(mu_);
  // Waiters (not creating) per label: the writer's map and the value snapshots share.
  LabelCounts::Map waiting_live_ GUARDED_BY(mu_);
  LabelCounts waiting_counts_ GUARDED_BY(mu_);
  // What SyncMetricLabelsLocked last declared, as the snapshot shows it.
  std::shared_ptr<const std::set<std::string>> declared_labels_ GUARDED_BY(mu_) =
      std::make_shared<const std::set<std::string>>();
  bool queue_view_dirty_ GUARDED_BY(mu_) = true;

  metrics::HubMetrics metrics_;  // thread-safe on its own

  mutable Mutex snapshot_mu_;
  std::shared_ptr<const GridSnapshot> snapshot_ GUARDED_BY(snapshot_mu_);
};

}  // namespace gridhub::hub
