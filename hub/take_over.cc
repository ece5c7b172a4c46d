#include "hub/take_over.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "hub/node_registration.h"
#include "hub/session_record.h"
#include "hub/ticket_record.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;

// The stored routes by node id; entries that do not parse are counted and left out.
std::map<std::string, std::vector<SessionRecord>> RoutesByNode(
    const std::vector<std::pair<std::string, std::string>>& stored, size_t* skipped) {
  std::map<std::string, std::vector<SessionRecord>> by_node;
  for (const auto& [session, text] : stored) {
    Result<SessionRecord> record = RouteFromJson(json::parse(text, nullptr, false));
    if (!record.ok() || record->id.str() != session) {
      ++*skipped;
      continue;
    }
    by_node[record->node_id.str()].push_back(std::move(*record));
  }
  return by_node;
}

// The stored tickets that parse; the others are counted, and deleted from the store (no hub
// could ever serve them, and nothing else would remove them).
std::vector<TicketRecord> ParseTickets(
    cluster::ClusterState& state, const std::vector<std::pair<std::string, std::string>>& stored,
    size_t* skipped) {
  std::vector<TicketRecord> tickets;
  for (const auto& [id, text] : stored) {
    Result<TicketRecord> record = TicketFromJson(json::parse(text, nullptr, false));
    if (record.ok() && record->id == id) {
      tickets.push_back(std::move(*record));
      continue;
    }
    ++*skipped;
    log::Warn("cluster.take_over", "stored ticket " + id + " skipped: " +
                                       (record.ok() ? "its id differs" : record.error().message));
    (void)state.DeleteTicket(id);
  }
  return tickets;
}

}  // namespace

Effects TakeOver(cluster::ClusterState& state, Grid& grid, TakeOverCount* count) {
  TakeOverCount local;
  TakeOverCount& n = count != nullptr ? *count : local;
  Effects effects;
  auto nodes = state.Nodes();
  auto routes = state.Routes();
  if (!nodes.ok() || !routes.ok()) {
    // The store went away between the election and now: the keeper deposes this hub shortly;
    // until then it dispatches for the nodes that register with it.
    log::Warn("cluster.take_over", (nodes.ok() ? routes.error() : nodes.error()).message);
    grid.StartStoreJournal();
    return effects;
  }
  std::map<std::string, std::vector<SessionRecord>> by_node = RoutesByNode(*routes, &n.skipped);
  for (auto& [node_id, body] : *nodes) {
    Result<NodeRegistration> registration =
        ParseNodeRegistration(json::parse(body, nullptr, false));
    if (!registration.ok() || registration->id.str() != node_id) {
      ++n.skipped;
      continue;
    }
    std::vector<SessionRecord> sessions = std::move(by_node[node_id]);
    const size_t placed = sessions.size();
    if (!grid.AdoptNode(std::move(*registration), body, std::move(sessions), &effects).ok()) {
      ++n.skipped;
      continue;
    }
    ++n.nodes;
    n.sessions += placed;
  }
  // After the nodes: a waiting ticket is queued again against the slots they brought back, and
  // a ready one's session is theirs. The journal starts after, so that it writes them all.
  if (auto tickets = state.Tickets(); tickets.ok()) {
    std::vector<TicketRecord> records = ParseTickets(state, *tickets, &n.skipped);
    const size_t stored = records.size();
    const size_t refused = grid.AdoptTickets(std::move(records), &effects);
    n.tickets += stored - refused;
    n.skipped += refused;
  } else {
    log::Warn("cluster.take_over", tickets.error().message);
  }
  grid.StartStoreJournal();
  return effects;
}

}  // namespace gridhub::hub
