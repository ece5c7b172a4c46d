#pragma once

// Distinct types for the string ids that cross class boundaries, so that a node id cannot be
// passed where a session id is expected (three bare strings in a row used to be the norm):
//
//   void EndSession(const NodeId& node, const SessionId& session);
//   EndSession(NodeId("n1"), SessionId(answer.session_id));   // explicit at the edge
//   log << session.str();                                       // and back to text
//
// A StrongId is a std::string with a tag: ordered, hashable, comparable only with its own
// kind. Validation stays where the id enters (request_path.h, node_registration.h).

#include <compare>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace gridhub {

template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}
  explicit StrongId(std::string_view value) : value_(value) {}
  explicit StrongId(const char* value) : value_(value) {}

  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend bool operator==(const StrongId&, const StrongId&) = default;
  friend auto operator<=>(const StrongId&, const StrongId&) = default;

 private:
  std::string value_;
};

using NodeId = StrongId<struct NodeIdTag>;
using SlotId = StrongId<struct SlotIdTag>;
using SessionId = StrongId<struct SessionIdTag>;

// A session id gridhub routes, on the hub and on the node alike: 1 to 128 characters of
// [A-Za-z0-9._-], and not "." or ".." (it travels as a path segment).
inline bool IsValidSessionId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace gridhub

template <typename Tag>
struct std::hash<gridhub::StrongId<Tag>> {
  size_t operator()(const gridhub::StrongId<Tag>& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
