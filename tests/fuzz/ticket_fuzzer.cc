// libFuzzer target over ticket creation (POST /queue/requests, the asynchronous queue API): the
// body as the hub reads it (ParseJsonBody, ProcessNewSession), then Grid::CreateTicket on a
// grid with nodes and a live session, and the ticket's life: status with a right and a wrong
// token, heartbeat, take, time passing, delete. Only the right token may see or end a ticket.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http/json_body.h"
#include "hub/outcome_http.h"
#include "tests/fuzz/grid_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;        // NOLINT: fuzz entry point
  using namespace gridhub::fuzz;  // NOLINT
  Result<nlohmann::json> body = http::ParseJsonBody(AsText(data, size));
  if (!body.ok()) return 0;
  Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(*body);
  if (!spec.ok()) {
    Require(!spec.error().message.empty());
    return 0;
  }
  std::string run_id = spec->run_id;
  if (run_id.empty() && body->contains("runId") && (*body)["runId"].is_string()) {
    run_id = (*body)["runId"].get<std::string>();
  }

  GridHarness h;
  h.RegisterFixedNodes();
  h.StartSession("chrome", "live-1");
  hub::Effects effects;
  Result<nlohmann::json> ticket =
      h.grid.CreateTicket(std::move(*spec), std::move(run_id), &effects);
  Dump(h.grid.QueueJson());
  if (!ticket.ok()) {
    int status = hub::TicketRefusalStatus(ticket.error().code);
    Require(status >= 400 && status < 600 && !ticket.error().message.empty());
    return 0;
  }
  const std::string id = ticket->value("id", std::string());
  const std::string token = ticket->value("token", std::string());
  Require(!id.empty() && !token.empty());

  // Someone else's token sees and ends nothing.
  Require(!h.grid.TicketStatus(id, token + "x").ok());
  Require(!h.grid.TicketHeartbeat(id, "").ok());
  Require(!h.grid.DeleteTicket(id, token.substr(1), &effects).ok());
  Require(h.grid.TicketStatus(id, token).ok());

  // Answer any creation the ticket caused, so that take can find a session.
  for (const hub::CreateJob& job : effects.creates) {
    h.grid.OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id,
                          hub::Created("ticket-session"));
  }
  h.grid.TicketHeartbeat(id, token);
  hub::TicketBook::Taken taken = h.grid.TakeTicket(id, token);
  Require(taken.outcome != hub::TakeOutcome::kWrongToken);
  h.clock.Advance(std::chrono::minutes(10));
  h.grid.Tick();
  h.grid.DeleteTicket(id, token, &effects);
  Dump(h.grid.QueueJson());
  Dump(h.grid.NodesJson());
  return 0;
}
