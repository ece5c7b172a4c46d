#include "hub/route_pattern.h"

#include <cassert>

#include "hub/request_path.h"

namespace gridhub::hub {

namespace {

bool IsCapture(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::string_view RouteMatch::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

RoutePattern::RoutePattern(std::string_view pattern) : text_(pattern) {
  // Split as requests are, so a pattern and a path agree on what a segment is.
  Result<RoutePath> parsed = ParseRoutePath(text_);
  assert(parsed.ok() && !parsed->legacy);
  if (!parsed.ok()) return;  // a malformed pattern: its row matches only "/"
  for (std::string_view segment : parsed->segments) {
    assert(!rest_);  // `**` must be last
    if (segment == "**") {
      rest_ = true;
      continue;
    }
    segments_.emplace_back(segment);
  }
}

bool RoutePattern::Matches(const std::vector<std::string_view>& segments,
                           RouteParams* params) const {
  if (segments.size() < segments_.size()) return false;
  if (!rest_ && segments.size() != segments_.size()) return false;
  RouteParams captured;
  for (size_t i = 0; i < segments_.size(); ++i) {
    const std::string& want = segments_[i];
    if (IsCapture(want)) {
      // The name points into this pattern, which lives as long as its row.
      captured.emplace_back(std::string_view(want).substr(1, want.size() - 2), segments[i]);
    } else if (want != segments[i]) {
      return false;
    }
  }
  params->insert(params->end(), captured.begin(), captured.end());
  return true;
}

}  // namespace gridhub::hub
