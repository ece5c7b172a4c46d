#include "hub/take_over.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "hub/node_registration.h"
#include "hub/session_record.h"

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
  grid.StartStoreJournal();
  return effects;
}

}  // namespace gridhub::hub
