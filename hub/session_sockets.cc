#include "hub/session_sockets.h"

#include <algorithm>

namespace gridhub::hub {

std::optional<SessionSockets::Key> SessionSockets::Reserve(const SessionId& session,
                                                           SocketKind kind, size_t limit) {
  MutexLock lock(mu_);
  std::vector<Key>& keys = by_session_[session];
  if (keys.size() >= limit) {
    if (keys.empty()) by_session_.erase(session);
    return std::nullopt;
  }
  const Key key = next_key_++;
  keys.push_back(key);
  entries_.emplace(key, Entry{.session = session, .kind = kind});
  return key;
}

bool SessionSockets::Attach(Key key, uint64_t tunnel) {
  MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  it->second.tunnel = tunnel;
  return true;
}

void SessionSockets::MarkOpen(Key key) {
  MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.open) return;
  it->second.open = true;
  ++open_[static_cast<size_t>(it->second.kind)];
}

void SessionSockets::EraseLocked(std::unordered_map<Key, Entry>::iterator it) {
  if (it->second.open) --open_[static_cast<size_t>(it->second.kind)];
  entries_.erase(it);
}

void SessionSockets::Release(Key key) {
  MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto session = by_session_.find(it->second.session);
  if (session != by_session_.end()) {
    std::erase(session->second, key);
    if (session->second.empty()) by_session_.erase(session);
  }
  EraseLocked(it);
}

std::vector<uint64_t> SessionSockets::EndSession(const SessionId& session) {
  MutexLock lock(mu_);
  std::vector<uint64_t> tunnels;
  auto found = by_session_.find(session);
  if (found == by_session_.end()) return tunnels;
  for (Key key : found->second) {
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    if (it->second.tunnel != 0) tunnels.push_back(it->second.tunnel);
    EraseLocked(it);
  }
  by_session_.erase(found);
  return tunnels;
}

size_t SessionSockets::open(SocketKind kind) const {
  MutexLock lock(mu_);
  return open_[static_cast<size_t>(kind)];
}

size_t SessionSockets::count(const SessionId& session) const {
  MutexLock lock(mu_);
  auto it = by_session_.find(session);
  return it == by_session_.end() ? 0 : it->second.size();
}

size_t SessionSockets::sessions() const {
  MutexLock lock(mu_);
  return by_session_.size();
}

}  // namespace gridhub::hub
