#pragma once

// POST /graphql: the read-only subset of Selenium Grid's GraphQL schema that the KEDA
// `selenium-grid` autoscaler (and dashboards) query, answered from a GridSnapshot — never by
// waiting on the grid's lock. Selections are projected from one data tree:
//   grid { uri sessionCount maxSession totalSlots nodeCount sessionQueueSize version }
//   nodesInfo { nodes { id uri status sessionCount maxSession slotCount stereotypes
//               sessions { id capabilities startTime nodeId nodeUri slot { id stereotype } } } }
//   sessionsInfo { sessionQueueRequests sessions { ...as above } }
// `stereotypes`, `capabilities`, `stereotype` and queue entries are JSON strings, as in
// Selenium. Arguments, aliases, fragments and variables are ignored or unsupported: anything
// outside this schema gets a GraphQL error, never a crash.
//
//   nlohmann::json answer = AnswerGraphql(*grid.snapshot(), request_body);
//   // {"data": {...}} or {"errors": [{"message": "..."}]}

#include <nlohmann/json.hpp>
#include <string_view>

#include "hub/grid_snapshot.h"

namespace gridhub::hub {

// `hub_url` is what `grid { uri }` answers (the hub's own URL). With Exposure::kCounts the
// counts stay, but `uri`/`nodeUri` are null, `stereotypes` is "[]", `sessions` lists are empty
// and every `sessionQueueRequests` entry is "{}" (one per waiter); the answer then carries
// "extensions": {"redacted": ...} saying why.
nlohmann::json AnswerGraphql(const GridSnapshot& snapshot, std::string_view body,
                             std::string_view hub_url = "", Exposure exposure = Exposure::kFull);

}  // namespace gridhub::hub
