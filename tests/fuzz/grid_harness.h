#pragma once

// A Grid driven without HTTP or threads for the hub's fuzz targets: a fake clock, counting ids,
// default settings, and helpers that put fixed nodes, a live session and waiters in it.
//
//   GridHarness h;
//   h.RegisterFixedNodes();
//   hub::RegisterNode(h.grid, untrusted_body, &effects);   // parse, then register

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "config/settings.h"
#include "hub/grid.h"
#include "hub/grid_fakes.h"
#include "matching/capabilities.h"
#include "tests/fuzz/fuzz_support.h"

namespace gridhub::fuzz {

inline config::Settings HarnessSettings() {
  config::Settings settings;
  settings.queue.registration_grace = std::chrono::seconds(0);
  return settings;
}

struct GridHarness {
  FakeClock clock;
  hub::CountingIds ids;
  hub::Grid grid{clock, ids, HarnessSettings()};

  // Two nodes (chrome with a label, firefox with two sessions per slot).
  void RegisterFixedNodes() {
    const char* const kNodes[] = {
        R"({"id": "n1", "uri": "http://127.0.0.1:5555",
            "slots": [{"id": "s0", "label": "AppA:Chromium:UAT",
                       "stereotype": {"browserName": "chrome", "platformName": "linux"}}]})",
        R"({"id": "n2", "uri": "http://127.0.0.1:5556", "sessions": ["adopted-1"],
            "slots": [{"id": "s0", "maxSessions": 2,
                       "stereotype": {"browserName": "firefox"}}]})",
    };
    for (const char* node : kNodes) {
      hub::Effects effects;
      Require(hub::RegisterNode(grid, nlohmann::json::parse(node), &effects).ok());
    }
  }

  // Asks for `browser` and answers the node's creation with `session_id`; true when it went
  // live.
  bool StartSession(const std::string& browser, const std::string& session_id) {
    Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(
        {{"capabilities", {{"alwaysMatch", {{"browserName", browser}}}}}});
    Require(spec.ok());
    hub::Effects effects = grid.SubmitNewSession(std::move(*spec), "run", false, {});
    if (effects.creates.empty()) return false;
    const hub::CreateJob& job = effects.creates.front();
    grid.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id,
                        hub::Created(session_id));
    return grid.FindSession(SessionId(session_id)).has_value();
  }
};

}  // namespace gridhub::fuzz
