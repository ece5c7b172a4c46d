#pragma once

// The body of POST /session/{id}/se/event (Selenium ≥ 4.41's fireSessionEvent, DESIGN 4b),
// checked before anything is logged or counted:
//
//   Result<SessionEvent> event = ParseSessionEvent(body);  // {"eventType": "test:failed", ...}
//   if (!event.ok()) return SendError(responder, event.error());  // 400 invalid argument
//
// Pure: no I/O; thread-compatible.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gridhub::hub {

struct SessionEvent {
  std::string event_type;
  nlohmann::json payload = nlohmann::json::object();  // {} when absent
};

// An eventType starts with a letter and holds only letters, digits and `:._-` (at most 128
// characters, so a log line and the console stay readable); `payload`, when given, is an
// object or null. Anything else is kInvalidArgument naming the field.
Result<SessionEvent> ParseSessionEvent(const nlohmann::json& body);
bool IsValidEventType(std::string_view event_type);

}  // namespace gridhub::hub
