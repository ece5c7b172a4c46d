#pragma once

// How the hub reads a request path before routing it. The hub routes on these segments and
// forwards to a node exactly the path rebuilt from them, so what a node (or libcurl, or a
// proxy in between) sees is what the hub decided on: a segment that some reader could resolve
// differently (`.`, `..`, their %2E spellings, an encoded slash or a backslash) is refused
// instead of being passed on.
//
//   Result<RoutePath> route = ParseRoutePath(request.path);
//   if (!route.ok()) return SendError(responder, route.error());   // 400 invalid argument
//   if (route->segments[0] == "session" && !IsValidSessionId(route->segments[1])) ...
//   std::string node_path = JoinSegments(route->segments, 0);        // "/session/abc/url"

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/strong_id.h"

namespace gridhub::hub {

struct RoutePath {
  // The path's segments, raw (still percent-encoded), without the legacy `/wd/hub` prefix and
  // without empty segments ("/session//abc/" reads as session, abc).
  std::vector<std::string_view> segments;
  bool legacy = false;  // it came in under /wd/hub
};

// Splits `raw_path` (as sent, without the query). kInvalidArgument when the path does not
// start with '/', holds a `.` or `..` segment (also spelled with %2E), an encoded slash or
// backslash (%2F, %5C), a raw backslash, an encoded NUL, or a malformed %-escape.
// The segments point into `raw_path`, which must outlive the result.
Result<RoutePath> ParseRoutePath(std::string_view raw_path);

// A session id the hub routes (common/strong_id.h, shared with the node agent).
using gridhub::IsValidSessionId;

// "/" + segments[from..] joined by "/" ("/" when nothing is left).
std::string JoinSegments(const std::vector<std::string_view>& segments, size_t from);

}  // namespace gridhub::hub
