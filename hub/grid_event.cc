#include "hub/grid_event.h"

namespace gridhub::hub {

std::string_view GridEventName(GridEventKind kind) {
  switch (kind) {
    case GridEventKind::kGranted:
      return "granted";
    case GridEventKind::kRefused:
      return "refused";
    case GridEventKind::kTimedOut:
      return "timeout";
    case GridEventKind::kCancelled:
      return "cancelled";
    case GridEventKind::kFailed:
      return "failed";
    case GridEventKind::kSessionEnded:
      return "session_ended";
    case GridEventKind::kNodeUp:
      return "node_up";
    case GridEventKind::kNodeDown:
      return "node_down";
    case GridEventKind::kNodeDraining:
      return "node_draining";
    case GridEventKind::kNodeRemoved:
      return "node_removed";
  }
  return "unknown";
}

}  // namespace gridhub::hub
