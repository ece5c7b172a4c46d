#pragma once

// Where a live session runs, as one hub tells the others (DESIGN §8, docs/scale-out.md): the
// dispatcher hub stores a SessionRecord per live session (ClusterState::PutRoute) so that any
// hub can proxy the session's commands and sockets straight to its node, and a new dispatcher
// can adopt the session (Grid::AdoptNode) under the label and run it was granted under.
//
//   std::string stored = RouteToJson(record).dump();              // the leader, to the store
//   Result<SessionRecord> back = RouteFromJson(json::parse(stored));  // any hub, from it
//   if (back.ok()) Proxy(ToSessionRoute(*back), request);
//
// Pure functions over values: no I/O, no clock; thread-compatible. The stored text is checked
// like any input (another process wrote it).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "common/strong_id.h"
#include "hub/session_activity.h"
#include "hub/socket_answer.h"

namespace gridhub::hub {

// Where a session's commands go.
struct SessionRoute {
  NodeId node_id;
  std::string node_uri;
  bool bare_node = false;  // a bare WebDriver server ("healthCheck": "status"), not an agent
  SocketOffer sockets;     // what the new-session answer offered
  std::string label;       // the queue label it counts under
  std::string run_id;
  std::string last_event;  // the eventType of its last POST /se/event ("" = none)
  std::shared_ptr<SessionActivity> activity;  // the session's own (session_activity.h)
};

// A live session as the store keeps it: its route and what a new dispatcher needs to count it.
struct SessionRecord {
  SessionId id;
  NodeId node_id;
  std::string node_uri;  // normalised (NodeUri::str())
  bool bare_node = false;
  SocketOffer sockets;
  std::string label;  // the queue label it counts under ("" on adoption: its slot's label)
  std::string run_id;
  SlotId slot_id;
  nlohmann::json capabilities = nlohmann::json::object();  // as the client received them
};

// {"sessionId", "nodeId", "nodeUri", "bareNode", "slotId", "label", "runId",
//  "sockets": {"bidi", "cdp", "bidiUpstream", "cdpUpstream"}, "capabilities"}.
nlohmann::json RouteToJson(const SessionRecord& record);

// kInvalidArgument naming the field: not an object; sessionId (IsValidSessionId); nodeId
// (1-128 of A-Z a-z 0-9 . _ : @ -); nodeUri (node_uri.h); slotId, label, runId (strings of at
// most 256 characters; slotId and label may be absent only as ""); bareNode, sockets.bidi,
// sockets.cdp (booleans); an upstream ("" or ws://host:port/path); capabilities (an object).
Result<SessionRecord> RouteFromJson(const nlohmann::json& stored);

// The route a hub proxies with (a fresh SessionActivity: the console's stamps are the
// dispatcher's).
SessionRoute ToSessionRoute(const SessionRecord& record);

}  // namespace gridhub::hub
