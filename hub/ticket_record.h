#pragma once

// An asynchronous ticket (POST /queue/requests, ticket_book.h) as the store keeps it (DESIGN §8,
// docs/scale-out.md): the dispatcher hub writes one per open ticket (ClusterState::PutTicket)
// whenever the ticket changes state, so that a new dispatcher serves the ticket on — a WAITING
// one is queued again from its capabilities, in its original admission order; a READY one hands
// over the same session; a FAILED one its error.
//
//   std::string stored = TicketToJson(record).dump();                 // the dispatcher
//   Result<TicketRecord> back = TicketFromJson(json::parse(stored));  // the next one
//
// Pure functions over values: no I/O, no clock; thread-compatible. The stored text is checked
// like any input (another process wrote it).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "common/strong_id.h"
#include "hub/ticket_book.h"

namespace gridhub::hub {

struct TicketRecord {
  std::string id;
  std::string token;
  uint64_t sequence = 0;  // admission order among the grid's tickets (TicketBook::Ticket)
  std::string label;
  std::string run_id;
  TicketState state = TicketState::kWaiting;
  double enqueued_at = 0;  // Unix seconds
  double deadline = 0;     // Unix seconds: the queue deadline it had when written
  // WAITING: {"firstMatch": [...]}, the request's candidates (alwaysMatch merged into each) as
  // admitted, which ProcessNewSession turns back into the same request.
  nlohmann::json capabilities = nlohmann::json::object();
  std::string public_base;                // WAITING: the request's PUBLIC ("" = none)
  SessionId session;                      // READY
  std::string body;                       // READY: the W3C new-session response
  Error error{ErrorCode::kInternal, ""};  // FAILED
};

// {"id", "token", "sequence", "label", "runId", "state": "waiting"|"ready"|"failed",
//  "enqueuedAt", "deadline", and by state "capabilities" + "publicBase", "sessionId" + "body",
//  or "error": {"code", "message"}}.
nlohmann::json TicketToJson(const TicketRecord& record);

// kInvalidArgument naming the field: not an object; id, token (1-128 of A-Z a-z 0-9 - _);
// sequence (an unsigned integer); label, runId, publicBase (strings); state; enqueuedAt and
// deadline (numbers); WAITING: capabilities.firstMatch (a non-empty array of objects); READY:
// sessionId (IsValidSessionId), body (a string); FAILED: error.code (a known code name),
// error.message (a string).
Result<TicketRecord> TicketFromJson(const nlohmann::json& stored);

}  // namespace gridhub::hub
