#pragma once

// Something an operator wants to see happen: a request granted or refused, a session ending, a
// node coming up, going down or draining. The Grid records them under its lock into
// Effects::events (plain values, no I/O); HubService::Execute hands each one, outside the lock,
// to the log (common/log.h) and to the console's recent-events list (docs/console.md).
//
//   effects->events.push_back({.kind = GridEventKind::kRefused, .at = now, .label = "chrome",
//                              .run_id = waiter.run_id, .reason = "queue_full",
//                              .message = error.message});

#include <string>
#include <string_view>

#include "common/clock.h"

namespace gridhub::hub {

enum class GridEventKind {
  kGranted,       // a session was created for a request (session_id, node_id set)
  kRefused,       // admission said no: reason = queue_full, run_limit, unsatisfiable, no_wait
  kTimedOut,      // a waiter's queue.timeout passed
  kCancelled,     // the client left, an operator cancelled it, or the queue was cleared
  kFailed,        // creation failed for good (node errors, retry limit)
  kSessionEnded,  // a session ended (deleted, idle, node gone); reason says which when known
  kNodeUp,        // registered, re-registered, or answering again
  kNodeDown,      // silent past hub.node-timeout, or its probe failed
  kNodeDraining,  // drain asked (admin, node itself)
  kNodeRemoved,   // deregistered, or left after draining
};

// "granted", "refused", "timeout", "cancelled", "failed", "session_ended", "node_up",
// "node_down", "node_draining", "node_removed": the console's and the log's names.
std::string_view GridEventName(GridEventKind kind);

struct GridEvent {
  GridEventKind kind = GridEventKind::kGranted;
  SteadyTime at;  // on the Grid's clock; shown as wall time by whoever reads it
  std::string label;
  std::string run_id;
  std::string session_id;
  std::string node_id;
  std::string reason;   // a machine word (queue_full, timeout, ...) or empty
  std::string message;  // the sentence a client was told, or a short description
};

}  // namespace gridhub::hub
