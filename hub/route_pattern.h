#pragma once

// One path pattern of the route table (router.h): literal segments, `{name}` (one segment,
// captured raw, as sent) and a final `**` (zero or more further segments).
//
//   RoutePattern pattern("/queue/requests/{ticket}/take");
//   RouteParams params;
//   if (pattern.Matches({"queue", "requests", "t1", "take"}, &params)) ...  // ticket = t1
//
// Immutable after construction; thread-safe to share.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridhub::hub {

using RouteParams = std::vector<std::pair<std::string_view, std::string_view>>;

// What a matched row's handler is given about the path.
struct RouteMatch {
  // The path's segments (raw, without `/wd/hub` and empty segments); they point into the raw
  // path given to Router::Route(), which must outlive the match.
  std::vector<std::string_view> segments;
  RouteParams params;   // `{name}` captures in pattern order
  bool legacy = false;  // it came in under /wd/hub

  // The segment captured as `{name}`; empty when the pattern has no such capture.
  std::string_view Param(std::string_view name) const;
};

class RoutePattern {
 public:
  // REQUIRES: `pattern` starts with '/'; `**` only as its last segment (asserted).
  explicit RoutePattern(std::string_view pattern);
  // Whether `segments` fit; on success appends the captures to `params` (else leaves it be).
  bool Matches(const std::vector<std::string_view>& segments, RouteParams* params) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> segments_;  // "{name}" kept as written
  bool rest_ = false;                  // ended in `**`
};

}  // namespace gridhub::hub
