#pragma once

// A hub becomes the dispatcher of a grid of several hubs (DESIGN §8): it registers every node
// the store keeps, each with the sessions the store's routes place on it (counted under their
// recorded label and run id, Grid::AdoptNode), then takes over the stored tickets
// (Grid::AdoptTickets: waiting ones queued again in their admission order, ready and failed
// ones kept for their holders), and starts the Grid's store journal, which re-writes the whole
// grid — so a store emptied meanwhile is filled again. Routes whose node
// the store does not keep stay as they are: their node re-registers with its sessions.
//
//   Effects effects = TakeOver(state, grid);   // from on_elected
//   service.Execute(std::move(effects));
//
// Entries another process wrote are checked like any input; one that does not parse is
// skipped (and its route or node left to be re-written or to lapse; a ticket deleted, since
// nothing else would remove it).

#include "cluster/cluster_state.h"
#include "hub/grid.h"

namespace gridhub::hub {

struct TakeOverCount {
  size_t nodes = 0;     // registered from the store
  size_t sessions = 0;  // routes placed on those nodes
  size_t tickets = 0;   // tickets served on (a waiting one the queue refused now included)
  size_t skipped = 0;   // store entries that did not parse or were refused
};

Effects TakeOver(cluster::ClusterState& state, Grid& grid, TakeOverCount* count = nullptr);

}  // namespace gridhub::hub
