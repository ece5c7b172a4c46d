#include "http/json_body.h"

#include <utility>
#include <vector>

namespace gridhub::http {

bool JsonDepthWithin(const nlohmann::json& value, int max_depth) {
  std::vector<std::pair<const nlohmann::json*, int>> pending{{&value, 1}};
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) continue;
    if (depth > max_depth) return false;
    for (const auto& child : *node) {
      if (child.is_structured()) pending.emplace_back(&child, depth + 1);
    }
  }
  return true;
}

Result<nlohmann::json> ParseJsonBody(std::string_view body, int max_depth) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Error{ErrorCode::kInvalidArgument, "request body is not valid JSON"};
  }
  if (!JsonDepthWithin(parsed, max_depth)) {
    return Error{ErrorCode::kInvalidArgument,
                 "request body nests deeper than " + std::to_string(max_depth) + " levels"};
  }
  return parsed;
}

}  // namespace gridhub::http
