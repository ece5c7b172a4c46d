#include "node-agent/clock_wait.h"

#include <algorithm>

namespace gridhub::node {

void WaitUntil(std::condition_variable_any& cv, Mutex& mu, const Clock& clock,
               SteadyTime deadline) {
  SteadyTime now = clock.Now();
  if (now >= deadline) return;
  Duration left = deadline - now;
  // Only the real clock's time passes while we sleep; another clock is read again soon.
  if (dynamic_cast<const SteadyClock*>(&clock) == nullptr) {
    left = std::min<Duration>(left, kManualClockSlice);
  }
  cv.wait_for(mu, left);
}

}  // namespace gridhub::node
