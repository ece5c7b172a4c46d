#include "hub/console_history.h"

#include <utility>

namespace gridhub::hub {

ConsoleHistory::ConsoleHistory(Duration interval, size_t capacity)
    : interval_(interval), capacity_(capacity == 0 ? 1 : capacity) {}

bool ConsoleHistory::SampleIfDue(SteadyTime now, const std::function<Sample()>& sample) {
  {
    MutexLock lock(mu_);
    if (next_due_.has_value() && now < *next_due_) return false;
    // Claimed before sampling, so two threads never take the same sample twice. Due times
    // stay on the grid of the first sample unless a whole interval was missed.
    SteadyTime due = next_due_.value_or(now) + interval_;
    next_due_ = due <= now ? now + interval_ : due;
  }
  Point point{now, sample()};
  MutexLock lock(mu_);
  points_.push_back(std::move(point));
  while (points_.size() > capacity_) points_.pop_front();
  return true;
}

std::optional<SteadyTime> ConsoleHistory::NextDue() const {
  MutexLock lock(mu_);
  return next_due_;
}

std::vector<ConsoleHistory::Point> ConsoleHistory::Points() const {
  MutexLock lock(mu_);
  return {points_.begin(), points_.end()};
}

}  // namespace gridhub::hub
