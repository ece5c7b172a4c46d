#pragma once

// The hub's route table: rows of (methods, path pattern, who may call, handler), matched
// against a request's method and raw path. One place decides 400 (a path that could be read
// two ways, request_path.h), 404 (no row's pattern matches: `unknown command`) and 405 (a
// pattern matches but no row takes the method; `Allow` lists those that do); the caller checks
// the matched row's Access (auth.h) and answers 401, then runs the handler. The `/wd/hub`
// prefix is stripped once, here, and empty segments (trailing or doubled slashes) are ignored.
//
//   Router<std::function<void(const RouteMatch&)>> router;
//   router.Add({"GET", "HEAD"}, "/status", Access::kOpen, ShowStatus);
//   router.Add({"GET", "POST", "DELETE"}, "/session/{session}/**", Access::kClient, Proxy);
//   Routed<std::function<void(const RouteMatch&)>> routed = router.Route("GET", "/wd/hub/status");
//   if (routed.row == nullptr) return Send(routed.error, routed.allow);  // 400, 404 or 405
//   (*routed.row->handler)(routed.match);
//
// Patterns: literal segments, `{name}` (one segment, captured raw, as sent), and a final `**`
// (zero or more further segments). Rows are tried in the order they were added; the first
// whose pattern and method match wins, so a literal row added before a `{name}` row at the
// same place takes precedence. A HEAD request is matched as GET unless a row names HEAD
// (http/ already presents HEAD as GET; naming it only adds it to `Allow`).
//
// Not thread-safe while rows are added; Route() is const and may then run on any thread.
// Pure: no I/O, no HTTP types.

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "hub/auth.h"
#include "hub/request_path.h"
#include "hub/route_pattern.h"

namespace gridhub::hub {

template <typename Handler>
struct RouteRow {
  std::vector<std::string> methods;  // as they appear in `Allow`, e.g. {"GET", "HEAD"}
  RoutePattern pattern;
  Access access;
  Handler handler;
};

// The outcome of Router::Route: a row and its match, or the error to answer.
template <typename Handler>
struct Routed {
  const RouteRow<Handler>* row = nullptr;  // null: answer `error`
  RouteMatch match;
  Error error{ErrorCode::kUnknownCommand, ""};
  std::string allow;  // with kUnknownMethod: the methods the path takes, "GET, DELETE"
  // With kUnknownMethod: the Access of the first row whose pattern matched, so that a caller
  // those rows would refuse hears 401 rather than learning which methods the path takes.
  std::optional<Access> path_access;
};

// The errors Router answers with, by themselves so that their text is pinned in one place.
// `raw_path` is the path as sent (with its /wd/hub prefix, if any).
Error UnknownCommand(std::string_view method, std::string_view raw_path);
Error UnknownMethod(std::string_view method, std::string_view raw_path);
// Whether a row listing `methods` takes a request made with `method` (HEAD as GET).
bool TakesMethod(const std::vector<std::string>& methods, std::string_view method);
// Adds the `methods` not yet in `allowed` to it, in order.
void AddAllowed(const std::vector<std::string>& methods, std::vector<std::string_view>* allowed);
// "GET, DELETE".
std::string JoinMethods(const std::vector<std::string_view>& methods);

template <typename Handler>
class Router {
 public:
  void Add(std::initializer_list<std::string_view> methods, std::string_view pattern, Access access,
           Handler handler) {
    rows_.push_back(RouteRow<Handler>{std::vector<std::string>(methods.begin(), methods.end()),
                                      RoutePattern(pattern), access, std::move(handler)});
  }

  Routed<Handler> Route(std::string_view method, std::string_view raw_path) const {
    Routed<Handler> routed;
    Result<RoutePath> path = ParseRoutePath(raw_path);
    if (!path.ok()) {
      routed.error = path.error();
      return routed;
    }
    routed.match.legacy = path->legacy;
    bool path_known = false;
    std::vector<std::string_view> allowed;  // by the rows whose pattern matches
    for (const RouteRow<Handler>& row : rows_) {
      RouteParams params;
      if (!row.pattern.Matches(path->segments, &params)) continue;
      path_known = true;
      if (!TakesMethod(row.methods, method)) {
        if (!routed.path_access.has_value()) routed.path_access = row.access;
        AddAllowed(row.methods, &allowed);
        continue;
      }
      routed.row = &row;
      routed.match.segments = std::move(path->segments);
      routed.match.params = std::move(params);
      return routed;
    }
    routed.error = path_known ? UnknownMethod(method, raw_path) : UnknownCommand(method, raw_path);
    routed.allow = JoinMethods(allowed);
    return routed;
  }

 private:
  std::vector<RouteRow<Handler>> rows_;
};

}  // namespace gridhub::hub
