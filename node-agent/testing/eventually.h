#pragma once

// Bounded polling for the node agent's tests: state that changes on other threads and in
// other processes (a driver that starts, a spare that is replaced).
//
//   ASSERT_TRUE(test_support::Eventually([&] { return launcher.HasSpare(slot); }));

#include <chrono>
#include <functional>
#include <thread>

#include "common/clock.h"

namespace gridhub::node::test_support {

// Polls `condition` until it holds or `timeout` passes.
inline bool Eventually(const std::function<bool()>& condition,
                       Duration timeout = std::chrono::seconds(10)) {
  SteadyClock clock;
  SteadyTime deadline = clock.Now() + timeout;
  while (!condition()) {
    if (clock.Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace gridhub::node::test_support
