#include "hub/request_path.h"

#include <optional>

namespace gridhub::hub {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The segment percent-decoded, or nullopt for a malformed escape.
std::optional<std::string> Decode(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    int high = HexValue(segment[i + 1]);
    int low = HexValue(segment[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

Error Refused(std::string why, std::string_view raw_path) {
  return Error{ErrorCode::kInvalidArgument,
               "path '" + std::string(raw_path.substr(0, 200)) + "' refused: " + std::move(why)};
}

}  // namespace

Result<RoutePath> ParseRoutePath(std::string_view raw_path) {
  if (raw_path.empty() || raw_path[0] != '/') return Refused("it must start with '/'", raw_path);
  RoutePath route;
  size_t start = 1;
  while (start <= raw_path.size()) {
    size_t end = raw_path.find('/', start);
    if (end == std::string_view::npos) end = raw_path.size();
    std::string_view segment = raw_path.substr(start, end - start);
    start = end + 1;
    if (segment.empty()) continue;
    if (segment.find('\\') != std::string_view::npos) {
      return Refused("a backslash in a segment", raw_path);
    }
    std::optional<std::string> decoded = Decode(segment);
    if (!decoded.has_value()) return Refused("a malformed %-escape", raw_path);
    if (*decoded == "." || *decoded == "..") {
      return Refused("a '" + *decoded + "' segment (paths are routed as sent)", raw_path);
    }
    if (decoded->find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      return Refused("an encoded slash, backslash or NUL in a segment", raw_path);
    }
    route.segments.push_back(segment);
  }
  if (route.segments.size() >= 2 && route.segments[0] == "wd" && route.segments[1] == "hub") {
    route.segments.erase(route.segments.begin(), route.segments.begin() + 2);
    route.legacy = true;
  }
  return route;
}

std::string JoinSegments(const std::vector<std::string_view>& segments, size_t from) {
  std::string out;
  for (size_t i = from; i < segments.size(); ++i) {
    out.push_back('/');
    out.append(segments[i]);
  }
  return out.empty() ? "/" : out;
}

}  // namespace gridhub::hub
