#pragma once

// Writes the dispatcher's StoreChanges (grid.h) to the shared store, in the order the Grid made
// them, before the replies they concern are sent: a client that hears "session created" and
// sends its next command through another hub finds the route already stored, and a ticket its
// holder took is gone from the store before the holder has the session (a new dispatcher
// would otherwise adopt it and end the session when it lapsed).
//
//   StoreWriter writer(state);
//   writer.Write([&] { return grid.TakeStoreChanges(); });   // in HubService::Execute
//
// Thread-safe: taking and writing happen under one mutex, so two threads' batches reach the
// store in the Grid's order. A failed write is logged and dropped: the store is down, this hub
// is about to be deposed, and the next dispatcher rebuilds the store from the nodes.

#include <functional>
#include <vector>

#include "cluster/cluster_state.h"
#include "common/mutex.h"
#include "hub/grid.h"

namespace gridhub::hub {

class StoreWriter {
 public:
  // `state` must outlive the writer.
  explicit StoreWriter(cluster::ClusterState& state) : state_(state) {}

  // Takes the changes with `take` and writes them; returns how many writes failed.
  size_t Write(const std::function<std::vector<StoreChange>()>& take);

 private:
  Status Apply(const StoreChange& change);

  cluster::ClusterState& state_;
  Mutex mu_;
};

}  // namespace gridhub::hub
