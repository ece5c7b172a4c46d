#include "hub/session_event.h"

#include <cctype>

namespace gridhub::hub {

using nlohmann::json;

namespace {

constexpr size_t kMaxEventType = 128;

bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

}  // namespace

bool IsValidEventType(std::string_view event_type) {
  if (event_type.empty() || event_type.size() > kMaxEventType || !IsLetter(event_type[0])) {
    return false;
  }
  for (char c : event_type) {
    const bool digit = c >= '0' && c <= '9';
    if (!IsLetter(c) && !digit && c != ':' && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

Result<SessionEvent> ParseSessionEvent(const json& body) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  auto type = body.find("eventType");
  if (type == body.end() || !type->is_string()) {
    return InvalidArgument("eventType must be a string");
  }
  const std::string& text = type->get_ref<const std::string&>();
  if (!IsValidEventType(text)) {
    return InvalidArgument(
        "eventType must start with a letter and hold only letters, digits and :._- (at most 128)");
  }
  SessionEvent event{.event_type = text};
  auto payload = body.find("payload");
  if (payload != body.end() && !payload->is_null()) {
    if (!payload->is_object()) return InvalidArgument("payload must be an object");
    event.payload = *payload;
  }
  return event;
}

}  // namespace gridhub::hub
