// libFuzzer target over node registration: the body of POST /nodes as the hub reads it
// (ParseJsonBody, ParseNodeRegistration, then Grid::RegisterNode) into a grid that already has
// nodes, a live session and a waiter, followed by what a node does next (heartbeat, a session
// on it, drain, deregistration). A refused body must change nothing; an accepted one must
// leave a grid whose /status, /nodes, queue and snapshot can be produced.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http/json_body.h"
#include "hub/node_registration.h"
#include "tests/fuzz/grid_harness.h"

namespace gridhub::fuzz {
namespace {

using nlohmann::json;

void CheckGridReadable(hub::Grid& grid) {
  Dump(grid.NodesJson());
  Dump(grid.QueueJson());
  Dump(grid.SeleniumQueueJson());
  Require(grid.snapshot() != nullptr);
}

}  // namespace
}  // namespace gridhub::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;        // NOLINT: fuzz entry point
  using namespace gridhub::fuzz;  // NOLINT
  Result<nlohmann::json> body = http::ParseJsonBody(AsText(data, size));
  if (!body.ok()) return 0;

  GridHarness h;
  h.RegisterFixedNodes();
  h.StartSession("chrome", "live-1");
  // Nothing serves safari: it waits in the queue.
  Result<matching::NewSessionSpec> waiting = matching::ProcessNewSession(
      {{"capabilities", {{"alwaysMatch", {{"browserName", "safari"}}}}}});
  h.grid.SubmitNewSession(std::move(*waiting), "run", false, {});
  const std::string before = Dump(h.grid.NodesJson());

  Result<hub::NodeRegistration> registration = hub::ParseNodeRegistration(*body);
  if (!registration.ok()) {
    Require(!registration.error().message.empty());
    return 0;
  }
  // What a later registration of the same body hands the grid.
  Result<hub::NodeRegistration> again = hub::ParseNodeRegistration(*body);
  Require(again.ok() && again->id == registration->id && again->uri == registration->uri);
  Require(registration->sessions.size() <= static_cast<size_t>(registration->Capacity()));

  hub::Effects effects;
  Result<nlohmann::json> node = h.grid.RegisterNode(std::move(*registration), &effects);
  if (!node.ok()) {
    Require(!node.error().message.empty());
    Require(Dump(h.grid.NodesJson()) == before);
    return 0;
  }
  CheckGridReadable(h.grid);
  std::string id = body->value("id", std::string());
  Require(!id.empty());

  // A request for what the node offers (if it parses as one) may land on it.
  if (body->contains("slots") && (*body)["slots"].is_array() && !(*body)["slots"].empty()) {
    const json& first = (*body)["slots"][0];
    if (first.is_object() && first.contains("stereotype") && first["stereotype"].is_object()) {
      Result<matching::NewSessionSpec> spec =
          matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", first["stereotype"]}}}});
      if (spec.ok()) {
        hub::Effects created = h.grid.SubmitNewSession(std::move(*spec), "run", false, {});
        for (const hub::CreateJob& job : created.creates) {
          h.grid.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id,
                                hub::Created("fuzz-session"));
        }
      }
    }
  }
  // The same body read as a heartbeat (its "sessions" list, if any, is reconciled).
  Result<hub::HeartbeatReport> report = hub::ParseHeartbeatReport(*body);
  h.grid.Heartbeat(NodeId(id), report.ok() ? *report : hub::HeartbeatReport{}, &effects);
  h.clock.Advance(std::chrono::seconds(11));
  h.grid.Heartbeat(NodeId(id), report.ok() ? *report : hub::HeartbeatReport{}, &effects);
  h.grid.RegisterNode(std::move(*again), &effects);  // the same node again (agent restarted)
  CheckGridReadable(h.grid);
  h.clock.Advance(std::chrono::minutes(5));
  h.grid.Tick();
  h.grid.Drain(NodeId(id), &effects);
  h.grid.Deregister(NodeId(id), &effects);
  h.grid.EndSession(SessionId("fuzz-session"));
  CheckGridReadable(h.grid);
  return 0;
}
