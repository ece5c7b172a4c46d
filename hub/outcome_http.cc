#include "hub/outcome_http.h"

#include <utility>

#include "http/w3c_error.h"

namespace gridhub::hub {

HttpAnswer W3CAnswer(const Result<std::string>& outcome) {
  if (outcome.ok()) return {200, *outcome};
  return {http::HttpStatus(outcome.error().code), http::W3CErrorBody(outcome.error())};
}

int TicketRefusalStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnsatisfiable:
      return 422;
    case ErrorCode::kQueueFull:
    case ErrorCode::kRunLimit:
    case ErrorCode::kNoWait:
      return 429;
    default:
      return http::HttpStatus(code);
  }
}

HttpAnswer TakeAnswer(TicketBook::Taken taken) {
  switch (taken.outcome) {
    case TakeOutcome::kSession:
      return {200, std::move(taken.body)};
    case TakeOutcome::kWaiting:  // not the W3C 502 of kUnavailable: come back later
      return {503, http::W3CErrorBody(taken.error)};
    case TakeOutcome::kFailed:
    case TakeOutcome::kUnknown:
    case TakeOutcome::kWrongToken:
      break;
  }
  return {http::HttpStatus(taken.error.code), http::W3CErrorBody(taken.error)};
}

}  // namespace gridhub::hub
