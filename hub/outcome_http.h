#pragma once

// The one place where the Grid's outcomes become HTTP: which status (and W3C body) each Error
// code, ticket outcome and reply gets. The Grid itself returns values (Result<>, TakeOutcome,
// Reply outcomes) and knows no status codes. The W3C endpoints use http/w3c_error.h's table
// as it is; the ticket API answers refusals and unfinished tickets with its own statuses
// (docs/api.md "Tickets"), decided here.
//
//   Result<json> ticket = grid.CreateTicket(spec, run_id, &effects);
//   if (!ticket.ok()) return Send(TicketRefusalStatus(ticket.error().code), ...);
//   HttpAnswer answer = TakeAnswer(grid.TakeTicket(id, token));
//   responder.Send(answer.status, std::move(answer.body));
//
// Pure functions; thread-safe.

#include <string>

#include "common/result.h"
#include "hub/ticket_book.h"

namespace gridhub::hub {

struct HttpAnswer {
  int status = 200;
  std::string body;
};

// A W3C answer: `body` with 200, or the error's status and W3C error body.
HttpAnswer W3CAnswer(const Result<std::string>& outcome);

// POST /queue/requests refused: 422 unsatisfiable, 429 queue full / run limit / no-wait, else
// the W3C status of the code.
int TicketRefusalStatus(ErrorCode code);

// POST /queue/requests/{id}/take: 200 with the new-session response, the failed request's W3C
// error (its W3C status), 503 while waiting, 404 unknown, 403 wrong token.
HttpAnswer TakeAnswer(TicketBook::Taken taken);

}  // namespace gridhub::hub
