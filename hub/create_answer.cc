#include "hub/create_answer.h"

#include <utility>

#include "common/result.h"
#include "http/json_body.h"
#include "hub/request_path.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

// What a failed answer said: the W3C error message, else the start of the body.
std::string DescribeFailure(int status, std::string_view body) {
  std::string detail;
  Result<json> parsed = http::ParseJsonBody(body);
  if (parsed.ok() && parsed->is_object() && parsed->contains("value") &&
      (*parsed)["value"].is_object()) {
    const json& value = (*parsed)["value"];
    if (value.contains("message") && value["message"].is_string()) {
      detail = value["message"].get<std::string>();
    }
  }
  if (detail.empty()) detail = std::string(body.substr(0, 200));
  return "HTTP " + std::to_string(status) + (detail.empty() ? "" : ": " + detail);
}

// The session id of a successful new-session answer (W3C, or the legacy top-level form).
std::optional<std::string> SessionIdOf(const json& body) {
  if (!body.is_object()) return std::nullopt;
  if (body.contains("value") && body["value"].is_object()) {
    const json& value = body["value"];
    if (value.contains("sessionId") && value["sessionId"].is_string()) {
      return value["sessionId"].get<std::string>();
    }
  }
  if (body.contains("sessionId") && body["sessionId"].is_string()) {
    return body["sessionId"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

CreateAnswer ClassifyCreateAnswer(int status, bool transport_ok, std::string_view error,
                                  std::string_view body) {
  CreateAnswer answer;
  if (!transport_ok) {
    answer.unreachable = true;
    answer.failure = "no answer: " + std::string(error);
    return answer;
  }
  if (status < 200 || status >= 300) {
    answer.failure = DescribeFailure(status, body);
    return answer;
  }
  Result<json> parsed = http::ParseJsonBody(body);
  if (parsed.ok()) answer.body = std::move(*parsed);
  std::optional<std::string> id = SessionIdOf(answer.body);
  if (!id.has_value()) {
    answer.failure = "answer without a sessionId";
  } else if (!IsValidSessionId(*id)) {
    // Routing an id the paths cannot carry would break (or redirect) every command.
    answer.failure =
        "answered with a sessionId the hub cannot route (not 1-128 of A-Z a-z 0-9 . _ -)";
  } else {
    answer.session_id = SessionId(std::move(*id));
  }
  return answer;
}

}  // namespace gridhub::hub
