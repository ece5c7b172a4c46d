#include "hub/session_map.h"

#include <algorithm>
#include <unordered_set>

namespace gridhub::hub {

bool SessionMap::Add(SessionEntry entry) {
  if (by_id_.count(entry.id) > 0) return false;
  by_node_[entry.node].push_back(entry.id);
  SessionId id = entry.id;
  by_id_.emplace(std::move(id), std::move(entry));
  return true;
}

const SessionEntry* SessionMap::Find(const SessionId& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

SessionEntry* SessionMap::FindMutable(const SessionId& id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::optional<SessionEntry> SessionMap::Remove(const SessionId& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  SessionEntry entry = std::move(it->second);
  by_id_.erase(it);
  // A node's (possibly empty) list stays until ForgetNode: on the hot path a session ends and
  // the next one starts on the same node, and dropping and re-creating the entry each time
  // costs two allocations.
  auto n = by_node_.find(entry.node);
  if (n != by_node_.end()) std::erase(n->second, entry.id);
  return entry;
}

void SessionMap::ForgetNode(const NodeId& node) {
  auto n = by_node_.find(node);
  if (n != by_node_.end() && n->second.empty()) by_node_.erase(n);
}

const std::vector<SessionId>& SessionMap::OnNode(const NodeId& node) const {
  static const std::vector<SessionId>* const kNone = new std::vector<SessionId>();
  auto it = by_node_.find(node);
  return it == by_node_.end() ? *kNone : it->second;
}

std::vector<SessionId> SessionMap::NotRoutedTo(const NodeId& node,
                                               const std::vector<SessionId>& reported) const {
  std::vector<SessionId> unknown;
  std::unordered_set<SessionId> seen;
  for (const SessionId& id : reported) {
    const SessionEntry* entry = Find(id);
    if ((entry == nullptr || entry->node != node) && seen.insert(id).second) {
      unknown.push_back(id);
    }
  }
  return unknown;
}

}  // namespace gridhub::hub
