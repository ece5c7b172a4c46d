#pragma once

// Parsing untrusted JSON (request bodies, answers from nodes, drivers and relays): no
// exceptions, and a bound on nesting that is enforced while parsing. nlohmann::json parses
// without recursion, but copying, comparing, dumping or walking a value recurses once per
// level: a 64 MiB body nested millions deep would overflow a server thread's stack. The parser
// below stops at the first bracket beyond the limit, before any such code sees the value.
//
//   Result<nlohmann::json> body = ParseJsonBody(request.body);
//   if (!body.ok()) return SendError(responder, body.error());  // 400 invalid argument

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"

namespace gridhub::http {

// Far deeper than any WebDriver payload (capabilities nest a handful of levels; the matcher
// allows 32 inside a capability) and far shallower than what overflows a stack.
inline constexpr int kMaxJsonDepth = 64;

// kInvalidArgument "request body is not valid JSON: ..." or "... nests deeper than N levels".
// A scalar is depth 0, `[]` and `{}` depth 1.
Result<nlohmann::json> ParseJsonBody(std::string_view body, int max_depth = kMaxJsonDepth);

// True when no array or object in `value` is nested more than `max_depth` levels. Iterative,
// for values built in memory rather than parsed.
bool JsonDepthWithin(const nlohmann::json& value, int max_depth);

}  // namespace gridhub::http
