#pragma once

// Parsing untrusted JSON bodies: no exceptions, and a bound on nesting. nlohmann::json parses
// deep input without recursion, but dumping or walking it recursively (stereotype digests,
// responses) would overflow a server thread's stack — a 64 MiB body can nest millions deep.
//
//   Result<nlohmann::json> body = ParseJsonBody(request.body);
//   if (!body.ok()) return Reply400(body.error());

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"

namespace gridhub::http {

inline constexpr int kMaxJsonDepth = 64;

// kInvalidArgument "request body is not valid JSON" or "... nests deeper than N levels".
Result<nlohmann::json> ParseJsonBody(std::string_view body, int max_depth = kMaxJsonDepth);

// True when no array or object in `value` is nested more than `max_depth` levels. Iterative.
bool JsonDepthWithin(const nlohmann::json& value, int max_depth);

}  // namespace gridhub::http
