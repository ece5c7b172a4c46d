#include "hub/ticket_record.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace gridhub::hub {

using nlohmann::json;

namespace {

constexpr size_t kMaxText = 256;

// The store names codes, not their enum values, so that hubs of two versions agree.
constexpr std::array<std::pair<ErrorCode, std::string_view>, 19> kCodeNames = {{
    {ErrorCode::kInvalidArgument, "invalid_argument"},
    {ErrorCode::kSessionNotCreated, "session_not_created"},
    {ErrorCode::kInvalidSessionId, "invalid_session_id"},
    {ErrorCode::kUnknownCommand, "unknown_command"},
    {ErrorCode::kUnknownMethod, "unknown_method"},
    {ErrorCode::kUnauthorized, "unauthorized"},
    {ErrorCode::kForbidden, "forbidden"},
    {ErrorCode::kConflict, "conflict"},
    {ErrorCode::kNotFound, "not_found"},
    {ErrorCode::kPayloadTooLarge, "payload_too_large"},
    {ErrorCode::kQueueFull, "queue_full"},
    {ErrorCode::kRunLimit, "run_limit"},
    {ErrorCode::kUnsatisfiable, "unsatisfiable"},
    {ErrorCode::kNoWait, "no_wait"},
    {ErrorCode::kTimeout, "timeout"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kInternal, "internal"},
    {ErrorCode::kUnsupportedOperation, "unsupported_operation"},
    {ErrorCode::kNoSuchFile, "no_such_file"},
}};

std::string_view CodeName(ErrorCode code) {
  for (const auto& [c, name] : kCodeNames) {
    if (c == code) return name;
  }
  return "internal";
}

std::string_view StateName(TicketState state) {
  switch (state) {
    case TicketState::kWaiting:
      return "waiting";
    case TicketState::kReady:
      return "ready";
    case TicketState::kFailed:
      return "failed";
  }
  return "waiting";
}

// Ticket ids and tokens are the IdSource's: hex, or the tests' "id7".
bool IsValidTicketId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// `key` as a string of at most `max` characters; absent is "".
Status Text(const json& object, const char* key, std::string* out, size_t max = kMaxText) {
  if (!object.contains(key) || object[key].is_null()) return Status::Ok();
  if (!object[key].is_string() || object[key].get_ref<const std::string&>().size() > max) {
    return InvalidArgument(std::string(key) + " must be a string of at most " +
                           std::to_string(max) + " characters");
  }
  *out = object[key].get<std::string>();
  return Status::Ok();
}

Status Number(const json& object, const char* key, double* out) {
  if (!object.contains(key) || !object[key].is_number()) {
    return InvalidArgument(std::string(key) + " must be a number");
  }
  *out = object[key].get<double>();
  return Status::Ok();
}

Status ParseIdentity(const json& stored, TicketRecord* record) {
  for (auto [key, out] : {std::pair{"id", &record->id}, std::pair{"token", &record->token}}) {
    if (Status s = Text(stored, key, out); !s.ok() || !IsValidTicketId(*out)) {
      return InvalidArgument(std::string(key) + " must be 1 to 128 of A-Z a-z 0-9 - _");
    }
  }
  if (!stored.contains("sequence") || !stored["sequence"].is_number_unsigned()) {
    return InvalidArgument("sequence must be an unsigned integer");
  }
  record->sequence = stored["sequence"].get<uint64_t>();
  for (Status s : {Text(stored, "label", &record->label), Text(stored, "runId", &record->run_id),
                   Number(stored, "enqueuedAt", &record->enqueued_at),
                   Number(stored, "deadline", &record->deadline)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ParseWaiting(const json& stored, TicketRecord* record) {
  const json caps = stored.value("capabilities", json());
  const json first = caps.is_object() ? caps.value("firstMatch", json()) : json();
  if (!first.is_array() || first.empty() ||
      !std::all_of(first.begin(), first.end(), [](const json& c) { return c.is_object(); })) {
    return InvalidArgument("capabilities.firstMatch must be a non-empty array of objects");
  }
  record->capabilities = json{{"firstMatch", first}};
  // A public base is a URL; the longest a request's Host and prefix can make is far below this.
  return Text(stored, "publicBase", &record->public_base, 4096);
}

Status ParseReady(const json& stored, TicketRecord* record) {
  std::string session;
  if (Status s = Text(stored, "sessionId", &session); !s.ok() || !IsValidSessionId(session)) {
    return InvalidArgument("sessionId must be 1 to 128 of A-Z a-z 0-9 . _ -");
  }
  record->session = SessionId(session);
  if (!stored.contains("body") || !stored["body"].is_string()) {
    return InvalidArgument("body must be a string");
  }
  record->body = stored["body"].get<std::string>();
  return Status::Ok();
}

Status ParseFailed(const json& stored, TicketRecord* record) {
  const json error = stored.value("error", json());
  const json code = error.is_object() ? error.value("code", json()) : json();
  auto known = std::find_if(kCodeNames.begin(), kCodeNames.end(), [&code](const auto& entry) {
    return code.is_string() && code.get_ref<const std::string&>() == entry.second;
  });
  if (known == kCodeNames.end()) return InvalidArgument("error.code must name an error code");
  if (!error.contains("message") || !error["message"].is_string()) {
    return InvalidArgument("error.message must be a string");
  }
  record->error = {known->first, error["message"].get<std::string>()};
  return Status::Ok();
}

}  // namespace

json TicketToJson(const TicketRecord& record) {
  json out = {{"id", record.id},
              {"token", record.token},
              {"sequence", record.sequence},
              {"label", record.label},
              {"runId", record.run_id},
              {"state", StateName(record.state)},
              {"enqueuedAt", record.enqueued_at},
              {"deadline", record.deadline}};
  switch (record.state) {
    case TicketState::kWaiting:
      out["capabilities"] = record.capabilities;
      out["publicBase"] = record.public_base;
      break;
    case TicketState::kReady:
      out["sessionId"] = record.session.str();
      out["body"] = record.body;
      break;
    case TicketState::kFailed:
      out["error"] = {{"code", CodeName(record.error.code)}, {"message", record.error.message}};
      break;
  }
  return out;
}

Result<TicketRecord> TicketFromJson(const json& stored) {
  if (!stored.is_object()) return InvalidArgument("a stored ticket must be a JSON object");
  TicketRecord record;
  if (Status s = ParseIdentity(stored, &record); !s.ok()) return s.error();
  const json state = stored.value("state", json());
  Status parsed = InvalidArgument("state must be waiting, ready or failed");
  if (state == "waiting") {
    record.state = TicketState::kWaiting;
    parsed = ParseWaiting(stored, &record);
  } else if (state == "ready") {
    record.state = TicketState::kReady;
    parsed = ParseReady(stored, &record);
  } else if (state == "failed") {
    record.state = TicketState::kFailed;
    parsed = ParseFailed(stored, &record);
  }
  if (!parsed.ok()) return parsed.error();
  return record;
}

}  // namespace gridhub::hub
