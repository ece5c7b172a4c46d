#include "hub/event_log.h"

#include <utility>

namespace gridhub::hub {

EventLog::EventLog(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void EventLog::Add(GridEvent event) {
  MutexLock lock(mu_);
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(event));
    return;
  }
  ring_[next_] = std::move(event);
  next_ = (next_ + 1) % capacity_;
}

std::vector<GridEvent> EventLog::Recent() const {
  MutexLock lock(mu_);
  std::vector<GridEvent> out;
  out.reserve(ring_.size());
  // Once full, the oldest is at next_ and the newest just before it.
  const size_t newest = ring_.size() < capacity_ ? ring_.size() : next_ + capacity_;
  for (size_t k = 0; k < ring_.size(); ++k) out.push_back(ring_[(newest - 1 - k) % ring_.size()]);
  return out;
}

size_t EventLog::size() const {
  MutexLock lock(mu_);
  return ring_.size();
}

}  // namespace gridhub::hub
