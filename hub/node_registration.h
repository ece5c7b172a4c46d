#pragma once

// What a node agent sends the hub about itself, checked into values before any lock is taken:
// the body of POST /nodes (NodeRegistration) and of POST /nodes/{id}/heartbeat
// (HeartbeatReport). Untrusted input is parsed here, never under Grid::mu_.
//
//   Result<NodeRegistration> node = ParseNodeRegistration(*body);
//   if (!node.ok()) return SendError(responder, node.error());   // 400, the message says why
//   grid.RegisterNode(std::move(*node), &effects);
//
// Pure functions over values: thread-compatible, no I/O, no clock.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/strong_id.h"
#include "hub/node_uri.h"
#include "matching/stereotype.h"

namespace gridhub::hub {

// DESIGN 7a: a registration has at most this many slots, and a slot at most this many
// sessions. Together with server.max-body they bound what one registration can make the hub
// hold and show.
inline constexpr size_t kMaxSlots = 1024;
inline constexpr int kMaxSessionsPerSlot = 1024;

// How the hub learns that a node is alive: the node's heartbeats, or GET {uri}/status polls
// ("healthCheck": "status").
enum class HealthCheck { kHeartbeat, kStatus };

// One entry of "slots": a stereotype that up to max_sessions sessions may use at once.
struct SlotRegistration {
  SlotId id;  // as registered, or the entry's index when it has none
  matching::Stereotype stereotype;
  int max_sessions = 1;
};

// One entry of "sessions": a live session the node already runs (the hub restarted).
struct AdoptedSession {
  SessionId id;
  std::optional<SlotId> slot;  // where the node says it runs; nullopt when not said
  nlohmann::json capabilities = nlohmann::json::object();
};

struct NodeRegistration {
  NodeId id;
  std::string uri;  // normalised: parsed_uri.str()
  NodeUri parsed_uri;
  HealthCheck health_check = HealthCheck::kHeartbeat;
  std::vector<SlotRegistration> slots;   // 1 to kMaxSlots, ids distinct
  std::vector<AdoptedSession> sessions;  // at most Capacity()
  // "availability": "DRAINING": an agent that re-registers while draining stays DRAINING.
  bool draining = false;

  // How many sessions the slots hold at once.
  int Capacity() const;
};

// kInvalidArgument naming the field for anything wrong: not an object; id (1-128 of
// A-Z a-z 0-9 . _ : @ -); uri (node_uri.h); healthCheck; slots (1 to 1,024 objects, ids of
// 1-128 printable ASCII characters and distinct, a valid stereotype, maxSessions 1 to 1,024);
// sessions (at most the slots' capacity, each a valid session id or an object with one).
Result<NodeRegistration> ParseNodeRegistration(const nlohmann::json& body);

// What a node's heartbeat body says: `{"sessions": [ids], "draining": bool}`, both optional.
struct HeartbeatReport {
  std::optional<std::vector<SessionId>> sessions;  // nullopt: the node did not say
  bool draining = false;
};

// A null body (none sent) is an empty report; anything else malformed is kInvalidArgument.
Result<HeartbeatReport> ParseHeartbeatReport(const nlohmann::json& body);

}  // namespace gridhub::hub
