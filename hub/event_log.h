#pragma once

// The console's "recent events": the last kCapacity GridEvents (hub/grid_event.h) the hub
// carried out, newest first. HubService::Execute adds every event of every Effects; the
// /ui/api/state route reads them. A ring: it never grows past kCapacity, whatever the load.
//
//   EventLog log;
//   log.Add(event);                               // from Execute, outside Grid::mu_
//   std::vector<GridEvent> recent = log.Recent(); // newest first, at most kCapacity
//
// Thread-safe (its own mutex, held only to copy in or out; never Grid::mu_).

#include <cstddef>
#include <vector>

#include "common/mutex.h"
#include "hub/grid_event.h"

namespace gridhub::hub {

class EventLog {
 public:
  static constexpr size_t kCapacity = 200;

  explicit EventLog(size_t capacity = kCapacity);
  void Add(GridEvent event);
  std::vector<GridEvent> Recent() const;
  size_t size() const;

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  std::vector<GridEvent> ring_ GUARDED_BY(mu_);  // grows to capacity_, then wraps
  size_t next_ GUARDED_BY(mu_) = 0;              // where the next event goes once full
};

}  // namespace gridhub::hub
