#pragma once

// NodeRegistry: the registered nodes and their slots — availability (UP, DRAINING, DOWN),
// heartbeats and health probes, drain, the cool-down after failed creations, the slots' room
// (sessions + creations in flight against maxSessions), and the free slots dispatch may offer.
// It decides nothing about requests: the Grid asks it what is free and tells it what happened.
// Time is passed in (`now`), so tests drive it with a FakeClock.
//
//   NodeRegistry nodes({.node_timeout = 30s, .health_check_period = 10s});
//   nodes.Put(std::move(node), clock.Now());        // registered (or re-registered)
//   for (NodeRegistry::Offer offer : nodes.FreeOffers(clock.Now())) ...  // dispatch
//   nodes.Heartbeat(*nodes.Find(NodeId("n1")), clock.Now());
//   for (NodeRegistry::Node* down : nodes.MarkSilentDown(clock.Now())) ...  // drop sessions
//
// Not thread-safe: the Grid uses it under Grid::mu_. Which sessions run where is the
// SessionMap's; a slot here lists its session ids only to count its room and show it.
//
// Dispatch and the snapshot cost O(changed nodes), not O(nodes): the registry keeps an index
// of the UP nodes with a slot with room (FreeOffers walks only those) and a list of the nodes
// changed since the Grid last published (TakeChanged). Both learn of a change by Touch(): the
// registry touches a node itself whenever it changes its availability or releases a
// reservation; whoever changes a slot's `sessions` or `reserved` from outside must call
// Touch(node) before the next FreeOffers() or TakeChanged(). IndexProblem() (for tests) says
// whether the index still agrees with a full pass.

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/strong_id.h"
#include "hub/grid_snapshot.h"
#include "hub/node_uri.h"
#include "matching/stereotype.h"

namespace gridhub::hub {

// GET {node_uri}/status for a node registered with "healthCheck": "status".
struct ProbeJob {
  NodeId node_id;
  std::string node_uri;
  std::chrono::milliseconds timeout{0};
};

class NodeRegistry {
 public:
  struct Slot {
    Slot(std::string slot_id, matching::Stereotype s, int max);
    std::string id;
    std::string unit_id;  // the queue's SlotId: node id and slot id (set at registration)
    matching::Stereotype stereotype;
    // The label a request by this slot's browserName gets ("" without a browserName).
    std::string browser_label;
    int max_sessions;
    std::vector<SessionId> sessions;
    int reserved = 0;  // creations in flight
    int Free() const {
      return std::max(0, max_sessions - static_cast<int>(sessions.size()) - reserved);
    }
  };

  struct Node {
    std::string id;
    std::string uri;  // normalised: parsed_uri.str()
    NodeUri parsed_uri;
    Availability availability = Availability::kUp;
    bool probe = false;  // "healthCheck": "status": the hub polls instead of heartbeats
    bool probe_in_flight = false;
    bool drain_requested = false;  // survives a spell of DOWN
    SteadyTime last_seen;
    std::optional<SteadyTime> last_heartbeat;  // when the previous heartbeat was received
    SteadyTime next_probe;
    SteadyTime idle_since;
    std::vector<Slot> slots;
    // The body it registered with, kept for the store journal ("" = not given: single hub).
    std::string registration_json;
    int failures_in_row = 0;                   // creations failed since the last success
    std::optional<SteadyTime> cooldown_until;  // its slots are not offered before then
    // What the last snapshot showed of it; the Grid reuses it while it still matches.
    std::shared_ptr<const GridSnapshot::NodeView> view;
    size_t view_index = 0;  // its place in the Grid's list of views (id order)
    // Touched since the room index (room_stale) or the Grid's view of it (view_stale) last
    // looked at it; kept by NodeRegistry::Touch.
    bool room_stale = false;
    bool view_stale = false;

    // Whether dispatch may offer its free slots now.
    bool Offered(SteadyTime now) const {
      return availability == Availability::kUp &&
             (!cooldown_until.has_value() || now >= *cooldown_until);
    }
    int Capacity() const;  // at least 1
    int Active() const;    // sessions + creations in flight
    Slot* FindSlot(const SlotId& slot_id);
  };

  // A slot with room, as dispatch offers it.
  struct Offer {
    Node* node;
    Slot* slot;
  };

  // hub.node-timeout (silence before DOWN; also the longest cool-down) and
  // hub.health-check-period (between probes).
  struct Timing {
    Duration node_timeout{0};
    Duration health_check_period{0};
  };

  explicit NodeRegistry(Timing timing) : timing_(timing) {}
  void set_timing(Timing timing) { timing_ = timing; }

  Node* Find(const NodeId& id);
  // Every node, by id.
  const std::map<std::string, std::unique_ptr<Node>>& nodes() const { return nodes_; }

  // kConflict when `node` would take over the id of a live node registered from another uri
  // with sessions (its commands would go to the new uri); a restart from the same uri, or a
  // DOWN or idle node, may be replaced.
  Status CheckReplace(const Node& node) const;
  // Registers `node` (now seen), in place of any node with its id: the previous node's
  // sessions and reservations move to the new node's slot of the same id; returns the ids of
  // the sessions whose slot is gone, which the caller ends. Forgets a departed drained id.
  std::vector<SessionId> Put(std::unique_ptr<Node> node, SteadyTime now);
  // Deregistered: the node, with its slots, so that the caller can drop its sessions.
  std::unique_ptr<Node> Remove(const NodeId& id);
  // A DRAINING node with nothing left running leaves, and its id is remembered (its agent's
  // heartbeats are answered DRAINING). True if it left.
  bool RemoveIfDrained(const NodeId& id);
  bool DepartedDrained(const NodeId& id) const { return departed_drained_.count(id) > 0; }
  // Drains the node (a DOWN one when it comes back). The caller then calls RemoveIfDrained.
  void Drain(Node& node);
  // `node`'s sessions, reservations or availability changed (see the top of this file). A node
  // no longer registered (returned by Remove) is ignored.
  void Touch(Node& node);
  // The nodes touched since the last call, each once, and whether nodes were registered,
  // replaced or removed since then (`*membership`: every node's place may have moved).
  std::vector<Node*> TakeChanged(bool* membership);
  // "" while the room index matches a pass over every node; else what differs (for tests).
  std::string IndexProblem();

  // A heartbeat from `node`: seen now; a DOWN node comes back (DRAINING if a drain was asked).
  // Returns when the previous heartbeat was received (nullopt for the first).
  struct Beat {
    std::optional<SteadyTime> previous;
    bool came_back = false;
  };
  Beat Heartbeat(Node& node, SteadyTime now);
  // A probe's answer; true when it brought a DOWN node back UP.
  bool OnProbeResult(const NodeId& id, bool answered, SteadyTime now);

  // `node` failed a creation (`unreachable`: it did not answer at all): its slots rest,
  // doubling per failure in a row up to node-timeout; a probed node is probed at once.
  void CoolDown(Node& node, SteadyTime now, bool unreachable) const;
  // A creation succeeded there: the failure streak ends.
  static void OnCreated(Node& node);
  // A creation in flight on (node, slot) is over, whatever its outcome.
  void ReleaseReservation(const NodeId& node, const SlotId& slot);

  // Time passing. Cool-downs that ended (true if any); nodes silent for node-timeout go DOWN
  // (returned: the caller drops their sessions); probes that are due (now in flight).
  bool EndCooldowns(SteadyTime now);
  std::vector<Node*> MarkSilentDown(SteadyTime now);
  std::vector<ProbeJob> DueProbes(SteadyTime now);
  // The earliest of those three; nullopt when none is scheduled.
  std::optional<SteadyTime> NextDeadline() const;

  // One entry per slot with room on a node dispatch may use now, grouped by node in id order.
  // O(nodes with room + touched nodes), through the room index.
  std::vector<Offer> FreeOffers(SteadyTime now);
  // What could ever serve a request: the slots of UP and DOWN nodes (DOWN ones may come back;
  // a network blip must not turn every new request away). A DRAINING node is leaving.
  std::vector<const matching::Stereotype*> Pool() const;
  // The labels the slots declare.
  std::set<std::string> DeclaredLabels() const;

  // A node as GET /nodes shows it; NodesJson is {"value": [every node]}.
  static nlohmann::json NodeJson(const Node& node, SteadyTime now);
  nlohmann::json NodesJson(SteadyTime now) const;

 private:
  Timing timing_;
  // A node leaves: out of the index and the lists of touched nodes.
  void Forget(Node& node);
  // Brings the room index up to date with the nodes touched since.
  void SyncRoom();
  static bool HasRoom(const Node& node);

  std::map<std::string, std::unique_ptr<Node>> nodes_;
  // The room index: UP nodes with at least one slot with room, by id (keys view Node::id).
  // Up to date but for the nodes in room_stale_.
  std::map<std::string_view, Node*> with_room_;
  std::vector<Node*> room_stale_;
  std::vector<Node*> view_stale_;
  bool membership_changed_ = true;
  // Drained nodes that left once empty; their heartbeats are answered DRAINING.
  std::set<NodeId> departed_drained_;
};

}  // namespace gridhub::hub
