#include "hub/activity_relay.h"

#include <algorithm>

namespace gridhub::hub {

bool ActivityRelay::Note(const std::string& session, SteadyTime at) {
  MutexLock lock(mu_);
  auto [it, added] = last_.try_emplace(session, at);
  if (!added) it->second = std::max(it->second, at);
  if (due_.has_value()) return false;
  // The first command after a quiet spell goes out at once; then at most once per interval.
  due_ = sent_.has_value() ? std::max(at, *sent_ + interval_) : at;
  return true;
}

std::optional<SteadyTime> ActivityRelay::NextDue() const {
  MutexLock lock(mu_);
  return due_;
}

std::vector<std::pair<std::string, Duration>> ActivityRelay::TakeIfDue(SteadyTime now) {
  std::vector<std::pair<std::string, Duration>> batch;
  MutexLock lock(mu_);
  if (!due_.has_value() || now < *due_) return batch;
  batch.reserve(last_.size());
  for (const auto& [session, at] : last_) {
    batch.emplace_back(session, std::max(Duration::zero(), now - at));
  }
  last_.clear();
  due_.reset();
  sent_ = now;
  return batch;
}

}  // namespace gridhub::hub
