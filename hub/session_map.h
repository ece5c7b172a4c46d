#pragma once

// SessionMap (Selenium Grid's noun): the live sessions by id — which node and slot each runs
// on, the queue label it counts under, its capabilities and when it started. The Grid asks it
// where a command goes and which sessions a node holds; the NodeRegistry keeps the slot
// occupancy, this map the sessions themselves.
//
//   SessionMap sessions;
//   sessions.Add({.id = SessionId("s1"), .node = NodeId("n1"), .slot = SlotId("0"),
//                 .label = "chrome", .started = now});
//   if (const SessionEntry* s = sessions.Find(SessionId("s1"))) Route(s->node);
//   std::optional<SessionEntry> ended = sessions.Remove(SessionId("s1"));
//
// Not thread-safe: the Grid uses it under Grid::mu_.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/strong_id.h"
#include "hub/session_activity.h"
#include "hub/socket_answer.h"

namespace gridhub::hub {

struct SessionEntry {
  SessionId id;
  NodeId node;
  SlotId slot;
  std::string label;  // the queue label it counts under (released when it ends)
  nlohmann::json capabilities = nlohmann::json::object();
  SteadyTime started;
  std::string run_id;
  SocketOffer sockets;     // what its new-session answer offered over WebSockets
  std::string last_event;  // the eventType of its last POST /se/event ("" = none)
  SteadyTime last_event_at;
  // Last command and last event for the console, stamped without the Grid's lock. Never null.
  std::shared_ptr<SessionActivity> activity = std::make_shared<SessionActivity>();
};

class SessionMap {
 public:
  // Adds a live session. False, and nothing changes, when its id is already live (anywhere):
  // an existing route is never overwritten.
  bool Add(SessionEntry entry);
  const SessionEntry* Find(const SessionId& id) const;
  // For the fields that are not indexed (last event); never change id or node through it.
  SessionEntry* FindMutable(const SessionId& id);
  bool Contains(const SessionId& id) const { return by_id_.count(id) > 0; }
  // Removes the session and returns what it was; nullopt for an unknown id.
  std::optional<SessionEntry> Remove(const SessionId& id);
  // `node` left the registry: its entry in the per-node index goes (if it has no sessions), so
  // the index holds only nodes that are registered or still have sessions.
  void ForgetNode(const NodeId& node);
  // The sessions routed to `node`, oldest first.
  const std::vector<SessionId>& OnNode(const NodeId& node) const;
  // The ids of `reported` that are not routed to `node` (unknown, or live on another node),
  // in their order, each once: what a node runs that the hub would never send a command to.
  std::vector<SessionId> NotRoutedTo(const NodeId& node,
                                     const std::vector<SessionId>& reported) const;
  size_t size() const { return by_id_.size(); }
  // Entries in the per-node index, for tests that it follows the registry.
  size_t indexed_nodes() const { return by_node_.size(); }

 private:
  std::unordered_map<SessionId, SessionEntry> by_id_;
  // Kept beside by_id_ so that a heartbeat or a node going DOWN touches only that node's
  // sessions, never the whole map.
  std::unordered_map<NodeId, std::vector<SessionId>> by_node_;
};

}  // namespace gridhub::hub
