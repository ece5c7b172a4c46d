#include "hub/node_registry.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace gridhub::hub {

using nlohmann::json;

namespace {

// After a node fails a creation its slots rest this long, doubling per failure in a row up to
// hub.node-timeout, so that one sick node spreads a waiter's retries over time instead of
// burning every waiter's retry-limit within a second.
constexpr auto kFirstCooldown = std::chrono::seconds(1);

// The departed drained ids are kept for their agents' last heartbeats; bound the memory.
constexpr size_t kMaxDepartedDrained = 10000;

}  // namespace

NodeRegistry::Slot::Slot(std::string slot_id, matching::Stereotype s, int max)
    : id(std::move(slot_id)), stereotype(std::move(s)), max_sessions(max) {
  const std::string& browser = stereotype.digest().browser_name;
  if (!browser.empty()) browser_label = matching::LabelKey::FromBrowserName(browser).str();
}

int NodeRegistry::Node::Capacity() const {
  int total = 0;
  for (const Slot& s : slots) total += s.max_sessions;
  return std::max(total, 1);
}

int NodeRegistry::Node::Active() const {
  int total = 0;
  for (const Slot& s : slots) total += static_cast<int>(s.sessions.size()) + s.reserved;
  return total;
}

NodeRegistry::Slot* NodeRegistry::Node::FindSlot(const SlotId& slot_id) {
  for (Slot& s : slots) {
    if (s.id == slot_id.str()) return &s;
  }
  return nullptr;
}

NodeRegistry::Node* NodeRegistry::Find(const NodeId& id) {
  auto n = nodes_.find(id.str());
  return n == nodes_.end() ? nullptr : n->second.get();
}

Status NodeRegistry::CheckReplace(const Node& node) const {
  auto old = nodes_.find(node.id);
  if (old == nodes_.end()) return Status::Ok();
  const Node& previous = *old->second;
  if (previous.uri != node.uri && previous.availability != Availability::kDown &&
      previous.Active() > 0) {
    return Error{ErrorCode::kConflict,
                 "node " + node.id + " is registered from " + previous.uri + " with " +
                     std::to_string(previous.Active()) +
                     " live session(s); it cannot re-register from another uri until they "
                     "end, it is DOWN, or it is deregistered"};
  }
  return Status::Ok();
}

std::vector<SessionId> NodeRegistry::Put(std::unique_ptr<Node> node, SteadyTime now) {
  node->last_seen = now;
  node->next_probe = now + timing_.health_check_period;
  node->idle_since = now;
  std::vector<SessionId> dropped;
  if (auto old = nodes_.find(node->id); old != nodes_.end()) {
    // Re-registration (agent or hub restarted): keep live sessions whose slot still exists.
    Node& previous = *old->second;
    for (Slot& old_slot : previous.slots) {
      Slot* kept = node->FindSlot(SlotId(old_slot.id));
      if (kept == nullptr) {
        dropped.insert(dropped.end(), old_slot.sessions.begin(), old_slot.sessions.end());
        continue;
      }
      kept->sessions.insert(kept->sessions.end(), old_slot.sessions.begin(),
                            old_slot.sessions.end());
      kept->reserved = old_slot.reserved;
    }
    node->idle_since = previous.idle_since;
    Forget(previous);
    nodes_.erase(old);
  }
  departed_drained_.erase(NodeId(node->id));
  std::string id = node->id;
  Node& added = *node;
  nodes_.emplace(std::move(id), std::move(node));
  membership_changed_ = true;
  Touch(added);
  return dropped;
}

std::unique_ptr<NodeRegistry::Node> NodeRegistry::Remove(const NodeId& id) {
  auto n = nodes_.find(id.str());
  if (n == nodes_.end()) return nullptr;
  std::unique_ptr<Node> node = std::move(n->second);
  Forget(*node);
  nodes_.erase(n);
  return node;
}

bool NodeRegistry::RemoveIfDrained(const NodeId& id) {
  auto n = nodes_.find(id.str());
  if (n == nodes_.end()) return false;
  if (n->second->availability != Availability::kDraining || n->second->Active() > 0) return false;
  if (departed_drained_.size() >= kMaxDepartedDrained) departed_drained_.clear();
  departed_drained_.insert(id);
  Forget(*n->second);
  nodes_.erase(n);
  return true;
}

void NodeRegistry::Drain(Node& node) {
  node.drain_requested = true;
  if (node.availability == Availability::kUp) node.availability = Availability::kDraining;
  Touch(node);
}

void NodeRegistry::Touch(Node& node) {
  // A node already removed (its sessions are being dropped) is nobody's to index any more.
  auto registered = nodes_.find(node.id);
  if (registered == nodes_.end() || registered->second.get() != &node) return;
  if (!node.room_stale) {
    node.room_stale = true;
    room_stale_.push_back(&node);
  }
  if (!node.view_stale) {
    node.view_stale = true;
    view_stale_.push_back(&node);
  }
}

void NodeRegistry::Forget(Node& node) {
  membership_changed_ = true;
  with_room_.erase(node.id);
  if (node.room_stale) std::erase(room_stale_, &node);
  if (node.view_stale) std::erase(view_stale_, &node);
}

std::vector<NodeRegistry::Node*> NodeRegistry::TakeChanged(bool* membership) {
  *membership = std::exchange(membership_changed_, false);
  for (Node* node : view_stale_) node->view_stale = false;
  return std::exchange(view_stale_, {});
}

bool NodeRegistry::HasRoom(const Node& node) {
  if (node.availability != Availability::kUp) return false;
  for (const Slot& slot : node.slots) {
    if (slot.Free() > 0) return true;
  }
  return false;
}

void NodeRegistry::SyncRoom() {
  for (Node* node : room_stale_) {
    node->room_stale = false;
    if (HasRoom(*node)) {
      with_room_.emplace(node->id, node);
    } else {
      with_room_.erase(node->id);
    }
  }
  room_stale_.clear();
}

std::string NodeRegistry::IndexProblem() {
  SyncRoom();
  for (const auto& [id, node] : nodes_) {
    const bool indexed = with_room_.count(id) > 0;
    if (indexed != HasRoom(*node)) {
      return "node " + id +
             (indexed ? " is indexed with room but has none"
                      : " has room but is not indexed (a change not touched)");
    }
  }
  for (const auto& [id, node] : with_room_) {
    auto n = nodes_.find(std::string(id));
    if (n == nodes_.end() || n->second.get() != node) {
      return "the room index names " + std::string(id) + ", which is not registered";
    }
  }
  return "";
}

NodeRegistry::Beat NodeRegistry::Heartbeat(Node& node, SteadyTime now) {
  Beat beat{node.last_heartbeat, false};
  node.last_heartbeat = now;
  node.last_seen = now;
  if (node.availability == Availability::kDown) {
    node.availability = node.drain_requested ? Availability::kDraining : Availability::kUp;
    beat.came_back = true;
    Touch(node);
  }
  return beat;
}

bool NodeRegistry::OnProbeResult(const NodeId& id, bool answered, SteadyTime now) {
  Node* node = Find(id);
  if (node == nullptr) return false;
  node->probe_in_flight = false;
  if (!answered) return false;
  node->last_seen = now;
  if (node->availability != Availability::kDown) return false;
  node->availability = Availability::kUp;
  Touch(*node);
  return true;
}

void NodeRegistry::CoolDown(Node& node, SteadyTime now, bool unreachable) const {
  // Failures arriving while it already rests came from creations started before the first
  // one: they count once, so a node with many slots does not back off for ages at once.
  if (node.cooldown_until.has_value() && now < *node.cooldown_until) return;
  const int doublings = std::min(node.failures_in_row, 16);
  node.failures_in_row++;
  Duration cooldown = std::chrono::duration_cast<Duration>(kFirstCooldown) * (1 << doublings);
  cooldown = std::max<Duration>(std::min<Duration>(cooldown, timing_.node_timeout),
                                std::chrono::milliseconds(100));
  node.cooldown_until = now + cooldown;
  // No answer at all: a node health-checked by probes is probed at once, so a dead one goes
  // DOWN on its own schedule rather than by failing waiters.
  if (unreachable && node.probe && !node.probe_in_flight) node.next_probe = now;
}

void NodeRegistry::OnCreated(Node& node) {
  node.failures_in_row = 0;
  node.cooldown_until.reset();
}

void NodeRegistry::ReleaseReservation(const NodeId& node_id, const SlotId& slot_id) {
  Node* node = Find(node_id);
  if (node == nullptr) return;
  if (Slot* slot = node->FindSlot(slot_id); slot != nullptr && slot->reserved > 0) {
    slot->reserved--;
    Touch(*node);
  }
}

bool NodeRegistry::EndCooldowns(SteadyTime now) {
  bool ended = false;
  for (auto& [id, node] : nodes_) {
    if (node->cooldown_until.has_value() && now >= *node->cooldown_until) {
      node->cooldown_until.reset();  // its slots are offered again
      ended = true;
    }
  }
  return ended;
}

std::vector<NodeRegistry::Node*> NodeRegistry::MarkSilentDown(SteadyTime now) {
  std::vector<Node*> down;
  for (auto& [id, node] : nodes_) {
    if (node->availability != Availability::kDown &&
        now - node->last_seen >= timing_.node_timeout) {
      node->availability = Availability::kDown;
      Touch(*node);
      down.push_back(node.get());
    }
  }
  return down;
}

std::vector<ProbeJob> NodeRegistry::DueProbes(SteadyTime now) {
  std::vector<ProbeJob> probes;
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::min<Duration>(timing_.health_check_period, std::chrono::seconds(10)));
  timeout = std::max(timeout, std::chrono::milliseconds(200));
  for (auto& [id, node] : nodes_) {
    if (node->probe && !node->probe_in_flight && now >= node->next_probe) {
      node->probe_in_flight = true;
      node->next_probe = now + timing_.health_check_period;
      probes.push_back({NodeId(node->id), node->uri, timeout});
    }
  }
  return probes;
}

std::optional<SteadyTime> NodeRegistry::NextDeadline() const {
  std::optional<SteadyTime> next;
  auto consider = [&next](SteadyTime t) {
    if (!next.has_value() || t < *next) next = t;
  };
  for (const auto& [id, node] : nodes_) {
    if (node->cooldown_until.has_value()) consider(*node->cooldown_until);
    if (node->availability != Availability::kDown) {
      consider(node->last_seen + timing_.node_timeout);
    }
    if (node->probe && !node->probe_in_flight) consider(node->next_probe);
  }
  return next;
}

std::vector<NodeRegistry::Offer> NodeRegistry::FreeOffers(SteadyTime now) {
  SyncRoom();
  std::vector<Offer> offer;
  for (auto& [id, node] : with_room_) {
    if (!node->Offered(now)) continue;  // resting after failures
    for (Slot& slot : node->slots) {
      if (slot.Free() > 0) offer.push_back({node, &slot});
    }
  }
  return offer;
}

std::vector<const matching::Stereotype*> NodeRegistry::Pool() const {
  std::vector<const matching::Stereotype*> pool;
  for (const auto& [id, node] : nodes_) {
    if (node->availability == Availability::kDraining) continue;
    for (const Slot& slot : node->slots) pool.push_back(&slot.stereotype);
  }
  return pool;
}

std::set<std::string> NodeRegistry::DeclaredLabels() const {
  std::set<std::string> declared;
  for (const auto& [id, node] : nodes_) {
    for (const Slot& slot : node->slots) declared.insert(slot.stereotype.label().str());
  }
  return declared;
}

json NodeRegistry::NodeJson(const Node& node, SteadyTime now) {
  json slots = json::array();
  int max_sessions = 0;
  int session_count = 0;
  for (const Slot& slot : node.slots) {
    max_sessions += slot.max_sessions;
    session_count += static_cast<int>(slot.sessions.size());
    json sessions = json::array();
    for (const SessionId& id : slot.sessions) sessions.push_back(id.str());
    slots.push_back({{"id", slot.id},
                     {"label", slot.stereotype.label().str()},
                     {"stereotype", slot.stereotype.json()},
                     {"maxSessions", slot.max_sessions},
                     {"sessions", std::move(sessions)}});
  }
  auto since = std::chrono::duration<double>(now - node.last_seen).count();
  return {{"id", node.id},
          {"uri", node.uri},
          {"availability", std::string(AvailabilityName(node.availability))},
          {"healthCheck", node.probe ? "status" : "heartbeat"},
          {"maxSessions", max_sessions},
          {"sessionCount", session_count},
          {"lastSeenSecondsAgo", since},
          {"slots", slots}};
}

json NodeRegistry::NodesJson(SteadyTime now) const {
  json nodes = json::array();
  for (const auto& [id, node] : nodes_) nodes.push_back(NodeJson(*node, now));
  return {{"value", nodes}};
}

}  // namespace gridhub::hub
