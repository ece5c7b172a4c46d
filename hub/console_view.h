#pragma once

// GET /ui/api/state: what the console page shows, as one JSON value built from the grid's
// snapshot and the console's own stores (event_log.h, console_history.h, refusal_tally.h) —
// never from the Grid under its lock. The keys are docs/api.md's "Console state"; the page
// (console/assets/) is written against them.
//
//   ConsoleInputs in{.snapshot = *grid.snapshot(), .now = clock.Now(), .viewer = viewer,
//                    .events = log.Recent(), .history = history.Points(),
//                    .refusals = tally.Snapshot()};
//   responder.Send(200, ConsoleStateJson(in).dump());
//
// Pure: no I/O, no locks; thread-safe.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "hub/console_history.h"
#include "hub/grid_event.h"
#include "hub/grid_snapshot.h"
#include "hub/refusal_tally.h"

namespace gridhub::hub {

// Who is looking, as the route decided from the request's credentials (auth.h).
struct ConsoleViewer {
  bool authorized = false;  // sees the grid: false only when a client token is set, not given
  bool admin = false;       // admin calls with these credentials would be accepted
  bool client_token_required = false;
  bool admin_token_set = false;
};

struct ConsoleInputs {
  const GridSnapshot& snapshot;
  SteadyTime now;  // on the grid's clock; every time shown is Unix seconds (WallSeconds)
  ConsoleViewer viewer;
  std::vector<GridEvent> events;               // newest first
  std::vector<ConsoleHistory::Point> history;  // oldest first
  Duration history_interval = ConsoleHistory::kInterval;
  RefusalTally::Counts refusals;
};

// The whole answer. For a viewer that is not authorized it stops after "viewer" and carries
// "redacted": true: readiness only, no label, id, URI or capability.
nlohmann::json ConsoleStateJson(const ConsoleInputs& in);

// The label `label` is counted under for the console and the metrics: itself when some slot
// or cap declares it, else "other".
std::string BoundedLabel(const GridSnapshot& snapshot, std::string_view label);

// Each bounded label's queue length and busy slots now: every declared label (at 0 when idle),
// and "other" when it has any. A history sample (console_history.h).
ConsoleHistory::Sample LoadByLabel(const GridSnapshot& snapshot);

}  // namespace gridhub::hub
