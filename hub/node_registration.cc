#include "hub/node_registration.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>
#include <utility>

#include "hub/request_path.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

constexpr size_t kMaxIdLength = 128;

Result<std::string> RequireString(const json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_string() || object[key].get<std::string>().empty()) {
    return InvalidArgument(std::string(key) + " must be a non-empty string");
  }
  return object[key].get<std::string>();
}

bool IdChar(char c, std::string_view extra) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         extra.find(c) != std::string_view::npos;
}

// A node id travels in paths (/nodes/{id}/heartbeat): 1-128 of [A-Za-z0-9._:@-].
bool IsValidNodeId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return IdChar(c, "._:@-"); });
}

// Printable ASCII, 1-128 characters: slot ids are only shown, never routed on.
bool IsValidSlotId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// id, uri and healthCheck into `node`.
Status ParseIdentity(const json& body, NodeRegistration* node) {
  Result<std::string> id = RequireString(body, "id");
  if (!id.ok()) return id.error();
  if (!IsValidNodeId(*id))
    return InvalidArgument("id must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -");
  Result<std::string> uri_text = RequireString(body, "uri");
  if (!uri_text.ok()) return uri_text.error();
  Result<NodeUri> uri = ParseNodeUri(*uri_text);
  if (!uri.ok()) return uri.error();
  node->id = NodeId(std::move(*id));
  node->uri = uri->str();
  node->parsed_uri = std::move(*uri);
  if (body.contains("healthCheck") && !body["healthCheck"].is_null()) {
    if (!body["healthCheck"].is_string() ||
        (body["healthCheck"] != "status" && body["healthCheck"] != "heartbeat")) {
      return InvalidArgument("healthCheck must be \"status\" or \"heartbeat\"");
    }
    if (body["healthCheck"] == "status") node->health_check = HealthCheck::kStatus;
  }
  return Status::Ok();
}

// The slot's id: as registered (a string, or an integer written as one), else its index.
Result<std::string> ParseSlotId(const json& s, size_t index, const std::string& where) {
  if (!s.contains("id") || s["id"].is_null()) return std::to_string(index);
  if (!s["id"].is_string() && !s["id"].is_number_integer())
    return InvalidArgument(where + "id must be a string");
  std::string slot_id = s["id"].is_string() ? s["id"].get<std::string>() : s["id"].dump();
  if (!IsValidSlotId(slot_id))
    return InvalidArgument(where + "id must be 1 to 128 printable ASCII characters");
  return slot_id;
}

Result<SlotRegistration> ParseSlot(const json& s, size_t index) {
  std::string where = "slots[" + std::to_string(index) + "].";
  if (!s.is_object()) return InvalidArgument(where + " must be an object");
  Result<std::string> slot_id = ParseSlotId(s, index, where);
  if (!slot_id.ok()) return slot_id.error();
  std::string label;
  if (s.contains("label") && !s["label"].is_null()) {
    if (!s["label"].is_string()) return InvalidArgument(where + "label must be a string");
    label = s["label"].get<std::string>();
  }
  // By reference: copying an untrusted value recurses before Parse has checked its depth.
  static const json* const kNoStereotype = new json(json::object());
  const json& caps = s.contains("stereotype") ? s["stereotype"] : *kNoStereotype;
  Result<matching::Stereotype> stereotype = matching::Stereotype::Parse(caps, label);
  if (!stereotype.ok()) return InvalidArgument(where + "stereotype: " + stereotype.error().message);
  int max_sessions = 1;
  if (s.contains("maxSessions") && !s["maxSessions"].is_null()) {
    const json& max = s["maxSessions"];
    if (!max.is_number_integer() || max.get<int64_t>() < 1 ||
        max.get<int64_t>() > kMaxSessionsPerSlot) {
      return InvalidArgument(where + "maxSessions must be an integer from 1 to " +
                             std::to_string(kMaxSessionsPerSlot));
    }
    max_sessions = max.get<int>();
  }
  return SlotRegistration{SlotId(std::move(*slot_id)), std::move(*stereotype), max_sessions};
}

Status ParseSlots(const json& body, NodeRegistration* node) {
  if (!body.contains("slots") || !body["slots"].is_array() || body["slots"].empty()) {
    return InvalidArgument("slots must be a non-empty array");
  }
  const json& slots = body["slots"];
  if (slots.size() > kMaxSlots) {
    return InvalidArgument("slots has " + std::to_string(slots.size()) + " entries; at most " +
                           std::to_string(kMaxSlots) + " are allowed");
  }
  std::set<std::string> slot_ids;
  for (size_t i = 0; i < slots.size(); ++i) {
    Result<SlotRegistration> slot = ParseSlot(slots[i], i);
    if (!slot.ok()) return slot.error();
    if (!slot_ids.insert(slot->id.str()).second) {
      return InvalidArgument("slots[" + std::to_string(i) + "].id '" + slot->id.str() +
                             "' is repeated");
    }
    node->slots.push_back(std::move(*slot));
  }
  return Status::Ok();
}

// An entry of "sessions": a bare id, or an object with sessionId/id, slotId/slot, capabilities.
Result<AdoptedSession> ParseAdopted(const json& entry, size_t index) {
  std::string id;
  std::string slot_id;
  AdoptedSession session;
  if (entry.is_string()) {
    id = entry.get<std::string>();
  } else if (entry.is_object()) {
    for (const char* key : {"sessionId", "id"}) {
      if (entry.contains(key) && entry[key].is_string()) id = entry[key];
    }
    for (const char* key : {"slotId", "slot"}) {
      if (entry.contains(key) && entry[key].is_string()) slot_id = entry[key];
    }
    if (entry.contains("capabilities") && entry["capabilities"].is_object()) {
      session.capabilities = entry["capabilities"];
    }
  }
  if (!IsValidSessionId(id)) {
    return InvalidArgument(
        "sessions[" + std::to_string(index) +
        "] must be a session id (1 to 128 of A-Z a-z 0-9 . _ -) or an object with one");
  }
  session.id = SessionId(std::move(id));
  // An empty slot id names no slot, as an absent one does.
  if (!slot_id.empty()) session.slot = SlotId(std::move(slot_id));
  return session;
}

Status ParseSessions(const json& body, NodeRegistration* node) {
  if (!body.contains("sessions") || body["sessions"].is_null()) return Status::Ok();
  const json& sessions = body["sessions"];
  if (!sessions.is_array()) return InvalidArgument("sessions must be an array");
  const int capacity = node->Capacity();
  if (sessions.size() > static_cast<size_t>(capacity)) {
    return InvalidArgument("sessions has " + std::to_string(sessions.size()) +
                           " entries but the slots offer only " + std::to_string(capacity));
  }
  for (size_t i = 0; i < sessions.size(); ++i) {
    Result<AdoptedSession> session = ParseAdopted(sessions[i], i);
    if (!session.ok()) return session.error();
    node->sessions.push_back(std::move(*session));
  }
  return Status::Ok();
}

}  // namespace

int NodeRegistration::Capacity() const {
  int total = 0;
  for (const SlotRegistration& s : slots) total += s.max_sessions;
  return std::max(total, 1);
}

Result<NodeRegistration> ParseNodeRegistration(const json& body) {
  if (!body.is_object()) return InvalidArgument("node registration must be a JSON object");
  NodeRegistration node;
  if (Status s = ParseIdentity(body, &node); !s.ok()) return s.error();
  if (Status s = ParseSlots(body, &node); !s.ok()) return s.error();
  if (Status s = ParseSessions(body, &node); !s.ok()) return s.error();
  node.draining = body.contains("availability") && body["availability"] == "DRAINING";
  return node;
}

Result<HeartbeatReport> ParseHeartbeatReport(const json& body) {
  HeartbeatReport report;
  if (body.is_null()) return report;
  if (!body.is_object()) return InvalidArgument("heartbeat body must be a JSON object");
  if (body.contains("sessions") && !body["sessions"].is_null()) {
    const json& sessions = body["sessions"];
    if (!sessions.is_array()) return InvalidArgument("sessions must be an array of session ids");
    report.sessions.emplace();
    report.sessions->reserve(sessions.size());
    for (size_t i = 0; i < sessions.size(); ++i) {
      if (!sessions[i].is_string()) {
        return InvalidArgument("sessions[" + std::to_string(i) + "] must be a string");
      }
      report.sessions->emplace_back(sessions[i].get<std::string>());
    }
  }
  if (body.contains("draining") && !body["draining"].is_null()) {
    if (!body["draining"].is_boolean()) return InvalidArgument("draining must be true or false");
    report.draining = body["draining"].get<bool>();
  }
  return report;
}

}  // namespace gridhub::hub
