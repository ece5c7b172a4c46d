#pragma once

// The gauges of GET /metrics, projected from the grid's immutable snapshot at scrape time —
// never counted up and down, so they cannot drift from /status.
//
//   std::string text = grid.metrics().Render(GaugesFromSnapshot(*grid.snapshot()));

#include "hub/grid_snapshot.h"
#include "metrics/hub_metrics.h"

namespace gridhub::hub {

// Queue length and active sessions by request label, slots by slot label (available = free
// session units on UP nodes, busy = running sessions on any node, as /status shows them),
// nodes by availability, the caps in force, and every label a slot or cap declares.
metrics::GridGauges GaugesFromSnapshot(const GridSnapshot& snapshot);

}  // namespace gridhub::hub
