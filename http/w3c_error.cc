#include "http/w3c_error.h"

#include <nlohmann/json.hpp>

namespace gridhub::http {

namespace {

struct Row {
  ErrorCode code;
  int status;
  std::string_view name;
};

// Non-W3C codes (tickets, nodes, auth) borrow the closest W3C name so that every body keeps
// one shape for clients.
constexpr Row kTable[] = {
    {ErrorCode::kInvalidArgument, 400, "invalid argument"},
    {ErrorCode::kSessionNotCreated, 500, "session not created"},
    {ErrorCode::kInvalidSessionId, 404, "invalid session id"},
    {ErrorCode::kUnknownCommand, 404, "unknown command"},
    {ErrorCode::kUnknownMethod, 405, "unknown method"},
    {ErrorCode::kUnauthorized, 401, "unauthorized"},
    {ErrorCode::kForbidden, 403, "forbidden"},
    {ErrorCode::kConflict, 409, "invalid argument"},
    {ErrorCode::kNotFound, 404, "no such element"},
    {ErrorCode::kPayloadTooLarge, 413, "invalid argument"},
    {ErrorCode::kQueueFull, 500, "session not created"},
    {ErrorCode::kRunLimit, 500, "session not created"},
    {ErrorCode::kUnsatisfiable, 500, "session not created"},
    {ErrorCode::kNoWait, 500, "session not created"},
    {ErrorCode::kTimeout, 500, "session not created"},
    {ErrorCode::kUnavailable, 502, "unknown error"},
    {ErrorCode::kInternal, 500, "unknown error"},
    {ErrorCode::kUnsupportedOperation, 500, "unsupported operation"},
    // W3C has no code for a missing file; clients read the name, so the generic one.
    {ErrorCode::kNoSuchFile, 404, "unknown error"},
};

const Row& Find(ErrorCode code) {
  for (const Row& row : kTable) {
    if (row.code == code) return row;
  }
  return kTable[std::size(kTable) - 1];
}

}  // namespace

int HttpStatus(ErrorCode code) { return Find(code).status; }

std::string_view W3CErrorName(ErrorCode code) { return Find(code).name; }

std::string W3CErrorBody(const Error& error) {
  nlohmann::json body = {{"value",
                          {{"error", std::string(W3CErrorName(error.code))},
                           {"message", error.message},
                           {"stacktrace", ""}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gridhub::http
