// Grid: the nodes and the sessions on them — registration, heartbeats, drain, probes, and
// sessions ending. The orchestration stays in Grid (one lock); the state is NodeRegistry's and
// SessionMap's.

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "hub/grid.h"
#include "hub/grid_internal.h"

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

// ---------------------------------------------------------------------------------------------
// Sessions

std::optional<SessionRoute> Grid::FindSession(const SessionId& id) {
  MutexLock lock(mu_);
  const SessionEntry* session = sessions_.Find(id);
  if (session == nullptr) return std::nullopt;
  const Node* node = nodes_.Find(session->node);
  if (node == nullptr) return std::nullopt;
  return SessionRoute{.node_id = session->node,
                      .node_uri = node->uri,
                      .bare_node = node->probe,
                      .sockets = session->sockets,
                      .label = session->label,
                      .run_id = session->run_id,
                      .last_event = session->last_event,
                      .activity = session->activity};
}

std::optional<SessionRoute> Grid::NoteSessionEvent(const SessionId& id, std::string event_type) {
  MutexLock lock(mu_);
  SessionEntry* session = sessions_.FindMutable(id);
  if (session == nullptr) return std::nullopt;
  session->last_event = std::move(event_type);
  session->last_event_at = clock_.Now();
  session->activity->NoteEvent(session->last_event, session->last_event_at);
  const Node* node = nodes_.Find(session->node);
  return SessionRoute{.node_id = session->node,
                      .node_uri = node != nullptr ? node->uri : "",
                      .bare_node = node != nullptr && node->probe,
                      .label = session->label,
                      .run_id = session->run_id};
}

std::vector<SessionId> Grid::TakeEndedSessions() {
  if (!has_ended_sessions_.load(std::memory_order_acquire)) return {};
  MutexLock lock(mu_);
  has_ended_sessions_.store(false, std::memory_order_relaxed);
  return std::exchange(ended_sessions_, {});
}

std::optional<SessionEntry> Grid::RemoveSessionLocked(const SessionId& id, std::string_view why) {
  std::optional<SessionEntry> session = sessions_.Remove(id);
  if (session.has_value()) {
    JournalLocked({.kind = StoreChange::Kind::kSessionEnded, .session = {.id = id}});
    ended_sessions_.push_back(id);
    has_ended_sessions_.store(true, std::memory_order_release);
    NoteEventLocked({.kind = GridEventKind::kSessionEnded,
                     .label = session->label,
                     .run_id = session->run_id,
                     .session_id = id.str(),
                     .node_id = session->node.str(),
                     .reason = std::string(why)});
  }
  return session;
}

Effects Grid::EndSession(const SessionId& session) {
  MutexLock lock(mu_);
  Effects effects;
  EndSessionLocked(session, &effects, /*delete_on_node=*/false, "deleted");
  effects.Append(DispatchLocked());
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

void Grid::EndSessionLocked(const SessionId& session_id, Effects* effects, bool delete_on_node,
                            std::string_view why) {
  std::optional<SessionEntry> session = RemoveSessionLocked(session_id, why);
  if (!session.has_value()) return;
  queue_.OnSessionEnded(session->label);
  if (Node* found = nodes_.Find(session->node)) {
    Node& node = *found;
    if (Slot* slot = node.FindSlot(session->slot)) std::erase(slot->sessions, session->id);
    nodes_.Touch(node);
    if (delete_on_node) effects->deletes.push_back({node.uri, session_id});
    if (node.Active() == 0) node.idle_since = clock_.Now();
  }
  RemoveNodeIfDrainedLocked(session->node);
}

void Grid::DropNodeSessionsLocked(Node& node, Effects* effects, bool delete_on_node,
                                  std::string_view why) {
  std::vector<SessionId> ids;
  for (const Slot& slot : node.slots) {
    ids.insert(ids.end(), slot.sessions.begin(), slot.sessions.end());
  }
  for (const SessionId& id : ids) {
    std::optional<SessionEntry> session = RemoveSessionLocked(id, why);
    if (!session.has_value()) continue;
    queue_.OnSessionEnded(session->label);
    if (delete_on_node) effects->deletes.push_back({node.uri, id});
  }
  for (Slot& slot : node.slots) slot.sessions.clear();
  nodes_.Touch(node);
}

void Grid::RemoveNodeIfDrainedLocked(const NodeId& node_id) {
  if (nodes_.RemoveIfDrained(node_id)) {
    NoteEventLocked({.kind = GridEventKind::kNodeRemoved,
                     .node_id = node_id.str(),
                     .reason = "drained",
                     .message = "node " + node_id.str() + " left the grid after draining"});
    JournalLocked({.kind = StoreChange::Kind::kNodeRemoved, .node_id = node_id});
    sessions_.ForgetNode(node_id);
    ++compat_generation_;  // its unit ids may come back with other stereotypes
  }
}

// ---------------------------------------------------------------------------------------------
// Nodes

namespace {

// See ReconcileSessionsLocked: a session younger than this is never ended by a heartbeat.
constexpr auto kHeartbeatGrace = std::chrono::seconds(10);

}  // namespace

void Grid::SetSelfAddress(SelfAddress self) {
  MutexLock lock(mu_);
  self_ = std::move(self);
}

std::unique_ptr<Grid::Node> Grid::NodeFrom(NodeRegistration& registration) {
  auto node = std::make_unique<Node>();
  node->id = registration.id.str();
  node->uri = std::move(registration.uri);
  node->parsed_uri = std::move(registration.parsed_uri);
  node->probe = registration.health_check == HealthCheck::kStatus;
  node->slots.reserve(registration.slots.size());
  for (SlotRegistration& s : registration.slots) {
    Slot& slot = node->slots.emplace_back(s.id.str(), std::move(s.stereotype), s.max_sessions);
    slot.unit_id = node->id + '\x1f' + slot.id;
  }
  if (registration.draining) {
    node->drain_requested = true;
    node->availability = Availability::kDraining;
  }
  return node;
}

Result<json> Grid::RegisterNode(NodeRegistration registration, Effects* effects,
                                std::string registration_json) {
  std::unique_ptr<Node> node = NodeFrom(registration);
  node->registration_json = std::move(registration_json);
  std::vector<SessionRecord> adopted;
  adopted.reserve(registration.sessions.size());
  for (AdoptedSession& s : registration.sessions) {
    adopted.push_back({.id = std::move(s.id),
                       .slot_id = s.slot.value_or(SlotId()),
                       .capabilities = std::move(s.capabilities)});
  }
  MutexLock lock(mu_);
  return RegisterLocked(std::move(node), std::move(adopted), /*from_store=*/false, effects);
}

Result<json> Grid::AdoptNode(NodeRegistration registration, std::string registration_json,
                             std::vector<SessionRecord> sessions, Effects* effects) {
  std::unique_ptr<Node> node = NodeFrom(registration);
  node->registration_json = std::move(registration_json);
  MutexLock lock(mu_);
  return RegisterLocked(std::move(node), std::move(sessions), /*from_store=*/true, effects);
}

Result<json> Grid::RegisterLocked(std::unique_ptr<Node> node, std::vector<SessionRecord> adopted,
                                  bool from_store, Effects* effects) {
  if (shutting_down_) return Error{ErrorCode::kUnavailable, "the hub is shutting down"};
  if (IsOwnAddress(node->parsed_uri, self_)) {
    return Error{ErrorCode::kInvalidArgument,
                 "uri " + node->uri + " is this hub's own address; a node must be another server"};
  }
  // Taking over a live node's id from elsewhere would route its sessions' commands to the
  // new URI. Its own agent restarting (same uri) or a hub restart are fine.
  if (Status replace = nodes_.CheckReplace(*node); !replace.ok()) return replace.error();
  const SteadyTime now = clock_.Now();
  const NodeId node_id(node->id);
  Node& added = *node;
  // Re-registration (agent or hub restarted): sessions whose slot is gone end.
  const bool known = nodes_.Find(node_id) != nullptr;
  for (const SessionId& dropped : nodes_.Put(std::move(node), now)) {
    if (std::optional<SessionEntry> s = RemoveSessionLocked(dropped, "replaced"))
      queue_.OnSessionEnded(s->label);
  }
  NoteEventLocked({.kind = GridEventKind::kNodeUp,
                   .node_id = node_id.str(),
                   .reason = known ? "re-registered" : "registered",
                   .message = "node " + node_id.str() + " at " + added.uri + " " +
                              (known ? "registered again" : "registered") + " with " +
                              std::to_string(added.slots.size()) + " slot(s)"});
  JournalNodeLocked(added);
  AdoptSessionsLocked(added, std::move(adopted), from_store, now);
  PoolChangedLocked();
  json result = NodeRegistry::NodeJson(added, now);
  effects->reschedule = true;  // its node-timeout or first probe
  effects->Append(DispatchLocked());
  RemoveNodeIfDrainedLocked(node_id);
  PublishLocked();
  FlushEventsLocked(effects);
  return result;
}

namespace {

// Where an adopted session goes: the slot it names if that has room, else the first with room.
NodeRegistry::Slot* AdoptionSlot(NodeRegistry::Node& node, const SlotId& named) {
  NodeRegistry::Slot* slot = named.empty() ? nullptr : node.FindSlot(named);
  if (slot != nullptr && slot->Free() > 0) return slot;
  for (NodeRegistry::Slot& candidate : node.slots) {
    if (candidate.Free() > 0) return &candidate;
  }
  return nullptr;
}

}  // namespace

void Grid::AdoptSessionsLocked(Node& node, std::vector<SessionRecord> adopted, bool from_store,
                               SteadyTime now) {
  // Sessions the hub does not know (the hub restarted, or took over as dispatcher): adopt them.
  // A session id live anywhere already keeps its route.
  for (SessionRecord& entry : adopted) {
    if (sessions_.Contains(entry.id)) continue;
    Slot* slot = AdoptionSlot(node, entry.slot_id);
    if (slot == nullptr) {
      // No room: this hub will not route it, so neither may the others.
      if (from_store)
        JournalLocked({.kind = StoreChange::Kind::kSessionEnded, .session = {.id = entry.id}});
      continue;
    }
    // From the store, the label it was granted under. From the node, that label is gone with
    // the old hub (gridhub:* keys never reach the node), so it counts under its slot's label:
    // the label a request by browser name has on an unlabelled slot, and the exact label of a
    // labelled one.
    std::string label =
        entry.label.empty() ? slot->stereotype.label().str() : std::move(entry.label);
    SessionEntry session{.id = std::move(entry.id),
                         .node = NodeId(node.id),
                         .slot = SlotId(slot->id),
                         .label = std::move(label),
                         .capabilities = std::move(entry.capabilities),
                         .started = now,
                         .run_id = std::move(entry.run_id),
                         .sockets = std::move(entry.sockets)};
    slot->sessions.push_back(session.id);
    nodes_.Touch(node);
    queue_.OnSessionAdopted(session.label);  // released by EndSession like any other
    JournalSessionLocked(session, node);
    sessions_.Add(std::move(session));
  }
}

std::optional<HeartbeatAnswer> Grid::Heartbeat(const NodeId& id, const HeartbeatReport& report,
                                               Effects* effects) {
  MutexLock lock(mu_);
  Node* found = nodes_.Find(id);
  if (found == nullptr) {
    if (nodes_.DepartedDrained(id))
      return HeartbeatAnswer{Availability::kDraining, UnknownSessionsLocked(id, report)};
    return std::nullopt;
  }
  Node& node = *found;
  const SteadyTime now = clock_.Now();
  NodeRegistry::Beat beat = nodes_.Heartbeat(node, now);
  bool changed = false;
  if (beat.came_back) {
    NoteEventLocked({.kind = GridEventKind::kNodeUp,
                     .node_id = id.str(),
                     .reason = "heartbeat",
                     .message = "node " + id.str() + " is heartbeating again"});
    if (node.drain_requested) PoolChangedLocked();  // a DRAINING node leaves the pool
    effects->reschedule = true;
    changed = true;
  } else if (report.sessions.has_value() && beat.previous.has_value()) {
    changed = ReconcileSessionsLocked(node, *report.sessions, *beat.previous, now);
  }
  found = nodes_.Find(id);  // ending its last session may have removed it
  if (report.draining && found != nullptr && !found->drain_requested) {
    DrainLocked(id, "the node drains itself");  // a signal, drain-after-sessions
    changed = true;
  }
  if (changed) {
    effects->Append(DispatchLocked());
    PublishLocked();
  }
  FlushEventsLocked(effects);
  found = nodes_.Find(id);  // ending its last session may have removed it
  return HeartbeatAnswer{found == nullptr ? Availability::kDraining : found->availability,
                         UnknownSessionsLocked(id, report)};
}

std::vector<SessionId> Grid::UnknownSessionsLocked(const NodeId& node,
                                                   const HeartbeatReport& report) const {
  // The hub changes nothing for these: a creation answer may still be on its way here.
  if (!report.sessions.has_value()) return {};
  return sessions_.NotRoutedTo(node, *report.sessions);
}

bool Grid::ReconcileSessionsLocked(Node& node, const std::vector<SessionId>& listed,
                                   SteadyTime previous_heartbeat, SteadyTime now) {
  // A heartbeat is composed before it is sent, so it may lack a session the node created just
  // before the hub recorded it. The node agent sends one heartbeat at a time, the next only
  // after the previous was answered: this heartbeat was composed after the previous one was
  // received here. A session recorded before that instant existed on the node when this list
  // was made, so if it is missing the node no longer has it; a younger one is left for the
  // next heartbeat. kHeartbeatGrace guards against a heartbeat delivered late and out of
  // order (composed before a session existed, received after a newer heartbeat): a session
  // must also have existed that long. No DELETE is sent: the node says it has no such session.
  std::unordered_set<std::string_view> present;
  present.reserve(listed.size());
  for (const SessionId& id : listed) present.insert(id.str());
  std::vector<SessionId> gone;
  for (const SessionId& id : sessions_.OnNode(NodeId(node.id))) {
    const SessionEntry& s = *sessions_.Find(id);
    if (present.count(id.str()) > 0) continue;
    if (s.started < previous_heartbeat && now - s.started >= kHeartbeatGrace) gone.push_back(id);
  }
  for (const SessionId& id : gone) {
    EndSessionLocked(id, nullptr, /*delete_on_node=*/false, "node_ended");
  }
  return !gone.empty();
}

bool Grid::Deregister(const NodeId& node_id, Effects* effects) {
  MutexLock lock(mu_);
  std::unique_ptr<Node> node = nodes_.Remove(node_id);
  if (node == nullptr) return false;
  DropNodeSessionsLocked(*node, effects, /*delete_on_node=*/false, "node_removed");
  NoteEventLocked({.kind = GridEventKind::kNodeRemoved,
                   .node_id = node_id.str(),
                   .reason = "deregistered",
                   .message = "node " + node_id.str() + " deregistered"});
  JournalLocked({.kind = StoreChange::Kind::kNodeRemoved, .node_id = node_id});
  sessions_.ForgetNode(node_id);
  PoolChangedLocked();  // its labels may leave the pool: trailing fallback may now apply
  effects->Append(DispatchLocked());  // caps of the dropped sessions' labels were released
  PublishLocked();
  FlushEventsLocked(effects);
  return true;
}

bool Grid::Drain(const NodeId& node_id, Effects* effects) {
  MutexLock lock(mu_);
  if (nodes_.Find(node_id) == nullptr) return false;
  DrainLocked(node_id, "drain requested through the API");
  effects->Append(DispatchLocked());
  PublishLocked();
  FlushEventsLocked(effects);
  return true;
}

void Grid::DrainLocked(const NodeId& node_id, std::string_view why) {
  nodes_.Drain(*nodes_.Find(node_id));
  NoteEventLocked({.kind = GridEventKind::kNodeDraining,
                   .node_id = node_id.str(),
                   .message = "node " + node_id.str() + " is draining: " + std::string(why)});
  RemoveNodeIfDrainedLocked(node_id);
  // Its slots left the pool: a waiter only it could serve may now fall back to a parent label.
  PoolChangedLocked();
}

Effects Grid::OnProbeResult(const NodeId& node_id, bool answered) {
  MutexLock lock(mu_);
  Effects effects;
  if (nodes_.Find(node_id) == nullptr) return effects;
  effects.reschedule = true;  // its next probe
  if (nodes_.OnProbeResult(node_id, answered, clock_.Now())) {
    NoteEventLocked({.kind = GridEventKind::kNodeUp,
                     .node_id = node_id.str(),
                     .reason = "probe",
                     .message = "node " + node_id.str() + " answers its health probe again"});
    effects.Append(DispatchLocked());
    PublishLocked();
  }
  FlushEventsLocked(&effects);
  return effects;
}

json Grid::NodesJson() {
  MutexLock lock(mu_);
  return nodes_.NodesJson(clock_.Now());
}

}  // namespace gridhub::hub
