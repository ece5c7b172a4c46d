#pragma once

// The console's chart data: every kInterval, each label's queue length and busy slots, the
// last kCapacity samples (15 minutes). The first sample is taken at once. HubService's timer
// thread takes the samples (it wakes at NextDue() on the injected clock), so the chart has
// points at a steady pace whether or not anyone is looking.
//
//   ConsoleHistory history;
//   history.SampleIfDue(clock.Now(), [&] { return LoadByLabel(*grid.snapshot()); });
//   for (const ConsoleHistory::Point& p : history.Points()) ...  // oldest first
//
// Thread-safe (its own mutex; the sample function runs outside it).

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace gridhub::hub {

class ConsoleHistory {
 public:
  static constexpr Duration kInterval = std::chrono::seconds(5);
  static constexpr size_t kCapacity = 180;

  struct Load {
    size_t queue = 0;  // waiters
    size_t busy = 0;   // running sessions on the label's slots
    bool operator==(const Load&) const = default;
  };
  using Sample = std::map<std::string, Load>;  // by (bounded) label
  struct Point {
    SteadyTime at;
    Sample labels;
  };

  explicit ConsoleHistory(Duration interval = kInterval, size_t capacity = kCapacity);

  // Takes a sample (calling `sample`) when one is due at `now`; true if it did. After a long
  // pause only one sample is taken: the chart shows the gap rather than invented points.
  bool SampleIfDue(SteadyTime now, const std::function<Sample()>& sample);
  // When the next sample is due; nullopt before the first one (due at once).
  std::optional<SteadyTime> NextDue() const;
  std::vector<Point> Points() const;
  Duration interval() const { return interval_; }

 private:
  const Duration interval_;
  const size_t capacity_;
  mutable Mutex mu_;
  std::deque<Point> points_ GUARDED_BY(mu_);
  std::optional<SteadyTime> next_due_ GUARDED_BY(mu_);
};

}  // namespace gridhub::hub
