#include "hub/session_record.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "hub/node_uri.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

constexpr size_t kMaxText = 256;

// As node_registration.h accepts a node id: it travels in paths.
bool IsValidNodeId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("._:@-").find(c) != std::string_view::npos;
  });
}

// `key` as a string of at most kMaxText characters; absent is "".
Status Text(const json& object, const char* key, std::string* out) {
  if (!object.contains(key) || object[key].is_null()) return Status::Ok();
  if (!object[key].is_string() || object[key].get_ref<const std::string&>().size() > kMaxText) {
    return InvalidArgument(std::string(key) + " must be a string of at most 256 characters");
  }
  *out = object[key].get<std::string>();
  return Status::Ok();
}

Status Flag(const json& object, const char* key, const std::string& where, bool* out) {
  if (!object.contains(key) || object[key].is_null()) return Status::Ok();
  if (!object[key].is_boolean()) return InvalidArgument(where + key + " must be true or false");
  *out = object[key].get<bool>();
  return Status::Ok();
}

Status Upstream(const json& sockets, const char* key, std::string* out) {
  std::string text;
  if (Status s = Text(sockets, key, &text); !s.ok()) {
    return InvalidArgument("sockets." + s.error().message);
  }
  if (!text.empty() && !ParseSocketTarget(text).has_value()) {
    return InvalidArgument(std::string("sockets.") + key + " must be a ws://host:port URL");
  }
  *out = std::move(text);
  return Status::Ok();
}

Status ParseSockets(const json& stored, SocketOffer* offer) {
  if (!stored.contains("sockets") || stored["sockets"].is_null()) return Status::Ok();
  const json& sockets = stored["sockets"];
  if (!sockets.is_object()) return InvalidArgument("sockets must be an object");
  for (Status s : {Flag(sockets, "bidi", "sockets.", &offer->bidi),
                   Flag(sockets, "cdp", "sockets.", &offer->cdp),
                   Upstream(sockets, "bidiUpstream", &offer->bidi_upstream),
                   Upstream(sockets, "cdpUpstream", &offer->cdp_upstream)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// sessionId, nodeId and nodeUri: the parts a command is routed by.
Status ParseWhere(const json& stored, SessionRecord* record) {
  std::string id;
  std::string node_id;
  std::string uri;
  if (Status s = Text(stored, "sessionId", &id); !s.ok() || !IsValidSessionId(id)) {
    return InvalidArgument("sessionId must be 1 to 128 of A-Z a-z 0-9 . _ -");
  }
  if (Status s = Text(stored, "nodeId", &node_id); !s.ok() || !IsValidNodeId(node_id)) {
    return InvalidArgument("nodeId must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -");
  }
  if (!stored.contains("nodeUri") || !stored["nodeUri"].is_string()) {
    return InvalidArgument("nodeUri must be a string");
  }
  Result<NodeUri> parsed = ParseNodeUri(stored["nodeUri"].get<std::string>());
  if (!parsed.ok()) return InvalidArgument("nodeUri: " + parsed.error().message);
  record->id = SessionId(std::move(id));
  record->node_id = NodeId(std::move(node_id));
  record->node_uri = parsed->str();
  return Status::Ok();
}

}  // namespace

json RouteToJson(const SessionRecord& record) {
  return {{"sessionId", record.id.str()},
          {"nodeId", record.node_id.str()},
          {"nodeUri", record.node_uri},
          {"bareNode", record.bare_node},
          {"slotId", record.slot_id.str()},
          {"label", record.label},
          {"runId", record.run_id},
          {"sockets",
           {{"bidi", record.sockets.bidi},
            {"cdp", record.sockets.cdp},
            {"bidiUpstream", record.sockets.bidi_upstream},
            {"cdpUpstream", record.sockets.cdp_upstream}}},
          {"capabilities", record.capabilities}};
}

Result<SessionRecord> RouteFromJson(const json& stored) {
  if (!stored.is_object()) return InvalidArgument("a session route must be a JSON object");
  SessionRecord record;
  std::string slot_id;
  for (Status s : {ParseWhere(stored, &record), Flag(stored, "bareNode", "", &record.bare_node),
                   Text(stored, "slotId", &slot_id), Text(stored, "label", &record.label),
                   Text(stored, "runId", &record.run_id), ParseSockets(stored, &record.sockets)}) {
    if (!s.ok()) return s.error();
  }
  record.slot_id = SlotId(std::move(slot_id));
  if (stored.contains("capabilities") && !stored["capabilities"].is_null()) {
    if (!stored["capabilities"].is_object()) {
      return InvalidArgument("capabilities must be an object");
    }
    record.capabilities = stored["capabilities"];
  }
  return record;
}

SessionRoute ToSessionRoute(const SessionRecord& record) {
  return SessionRoute{.node_id = record.node_id,
                      .node_uri = record.node_uri,
                      .bare_node = record.bare_node,
                      .sockets = record.sockets,
                      .label = record.label,
                      .run_id = record.run_id,
                      .activity = std::make_shared<SessionActivity>()};
}

}  // namespace gridhub::hub
