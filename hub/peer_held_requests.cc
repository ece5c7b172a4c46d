#include "hub/peer_held_requests.h"

#include <utility>

namespace gridhub::hub {

bool HeldRequests::Add(HeldRequest held) {
  MutexLock lock(mu_);
  const uint64_t order = held.order;
  return held_.emplace(order, std::move(held)).second;
}

std::optional<HeldRequest> HeldRequests::Remove(uint64_t order) {
  MutexLock lock(mu_);
  auto it = held_.find(order);
  if (it == held_.end()) return std::nullopt;
  HeldRequest taken = std::move(it->second);
  held_.erase(it);
  return taken;
}

std::vector<HeldRequest> HeldRequests::RemoveConnection(uint64_t connection_id) {
  MutexLock lock(mu_);
  std::vector<HeldRequest> taken;
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.request.connection_id == connection_id) {
      taken.push_back(std::move(it->second));
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

std::vector<HeldRequest> HeldRequests::TakeAllInOrder() {
  MutexLock lock(mu_);
  std::vector<HeldRequest> taken;
  taken.reserve(held_.size());
  for (auto& [order, held] : held_) taken.push_back(std::move(held));
  held_.clear();
  return taken;
}

size_t HeldRequests::size() const {
  MutexLock lock(mu_);
  return held_.size();
}

}  // namespace gridhub::hub
