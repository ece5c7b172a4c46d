// libFuzzer target over PUT /admin/config: the body as the hub reads it (ParseJsonBody, then
// config::ApplyAdminPatch over the defaults), and the patched settings applied to a grid with
// nodes, a live session and waiters (Grid::Reconfigure). A patch that applies once gives the
// same settings when applied again, and what GET /admin/config shows of the patched sections
// is itself an accepted patch.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "config/settings.h"
#include "http/json_body.h"
#include "tests/fuzz/grid_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;        // NOLINT: fuzz entry point
  using namespace gridhub::fuzz;  // NOLINT
  Result<nlohmann::json> patch = http::ParseJsonBody(AsText(data, size));
  if (!patch.ok()) return 0;
  const config::Settings current = HarnessSettings();
  Result<config::Settings> updated = config::ApplyAdminPatch(current, *patch);
  if (!updated.ok()) {
    Require(updated.error().code == ErrorCode::kInvalidArgument);
    Require(!updated.error().message.empty());
    return 0;
  }
  const nlohmann::json shown = config::ToJson(*updated, config::Tokens::kShow);
  Result<config::Settings> twice = config::ApplyAdminPatch(*updated, *patch);
  Require(twice.ok() && config::ToJson(*twice, config::Tokens::kShow) == shown);
  nlohmann::json round_trip = {{"queue", shown["queue"]}, {"matching", shown["matching"]}};
  Result<config::Settings> back = config::ApplyAdminPatch(current, round_trip);
  Require(back.ok() && config::ToJson(*back, config::Tokens::kShow)["queue"] == shown["queue"]);
  Dump(config::ToJson(*updated, config::Tokens::kRedact));

  GridHarness h;
  h.RegisterFixedNodes();
  h.StartSession("chrome", "live-1");
  for (const char* browser : {"chrome", "safari"}) {
    Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(
        {{"capabilities", {{"alwaysMatch", {{"browserName", browser}}}}}});
    h.grid.SubmitNewSession(std::move(*spec), "run", false, {});
  }
  h.grid.Reconfigure(*updated);
  h.clock.Advance(std::chrono::seconds(1));
  h.grid.Tick();
  h.grid.EndSession(SessionId("live-1"));
  Dump(h.grid.QueueJson());
  Require(h.grid.snapshot() != nullptr);
  return 0;
}
