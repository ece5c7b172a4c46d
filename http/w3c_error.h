#pragma once

// The one table from ErrorCode to HTTP status and W3C error name, and the W3C error body
// `{"value": {"error", "message", "stacktrace"}}` every endpoint answers failures with.
//
//   Error error{ErrorCode::kInvalidArgument, "browserName must be a string"};
//   responder.Send(HttpStatus(error.code), W3CErrorBody(error));

#include <string>
#include <string_view>

#include "common/result.h"

namespace gridhub::http {

// HTTP status for `code` on the W3C endpoints (queue refusals answer 500 `session not
// created` there; the ticket API chooses its own statuses).
int HttpStatus(ErrorCode code);

// W3C error name ("invalid argument", "session not created", ...).
std::string_view W3CErrorName(ErrorCode code);

// Serialised W3C error body.
std::string W3CErrorBody(const Error& error);

}  // namespace gridhub::http
