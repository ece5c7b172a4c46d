// Grid: the asynchronous queue API (tickets, TicketBook) and the queue's administration and
// listings.

#include <algorithm>
#include <unordered_set>

#include "hub/grid.h"
#include "hub/grid_internal.h"

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

// ---------------------------------------------------------------------------------------------
// Tickets

Result<json> Grid::CreateTicket(matching::NewSessionSpec spec, std::string run_id, Effects* effects,
                                std::string public_base) {
  MutexLock lock(mu_);
  SteadyTime deadline;
  bool no_wait = spec.no_wait;
  Result<RequestId> admitted = AdmitLocked(std::move(spec), std::move(run_id), no_wait, &deadline);
  if (!admitted.ok()) {
    FlushEventsLocked(effects);
    return admitted.error();
  }
  Waiter& waiter = *waiters_[*admitted];
  waiter.public_base = std::move(public_base);
  const TicketBook::Ticket& ticket =
      tickets_.Open(waiter.id, waiter.label, waiter.enqueued_at, waiter.deadline);
  waiter.ticket_id = ticket.id;
  JournalTicketLocked(ticket.id);
  json result = {{"id", ticket.id},
                 {"token", ticket.token},
                 {"status", "waiting"},
                 {"position", queue_.Position(waiter.id).value_or(0)},
                 {"label", ticket.label}};
  effects->reschedule = true;
  effects->Append(DispatchLocked());
  PublishLocked();
  FlushEventsLocked(effects);
  return result;
}

Result<json> Grid::TicketStatus(const std::string& id, std::string_view token) {
  MutexLock lock(mu_);
  Result<TicketBook::Ticket*> found = tickets_.Find(id, token);
  if (!found.ok()) return found.error();
  const TicketBook::Ticket& ticket = **found;
  // A failed ticket is no longer waiting nor ready: GET knows it no more (its error is kept
  // for one take only).
  if (ticket.state == TicketState::kFailed) {
    return Error{ErrorCode::kNotFound, "no ticket " + id + " (unknown, expired or taken)"};
  }
  const SteadyTime now = clock_.Now();
  std::string status = ticket.state == TicketState::kWaiting ? "waiting" : "ready";
  return json{{"id", ticket.id},
              {"status", status},
              {"position", queue_.Position(ticket.request).value_or(0)},
              {"label", ticket.label},
              {"enqueuedAt", WallSeconds(ticket.enqueued_at, now)},
              {"deadline", WallSeconds(ticket.deadline, now)}};
}

TicketBook::Taken Grid::TakeTicket(const std::string& id, std::string_view token) {
  MutexLock lock(mu_);
  TicketBook::Taken taken = tickets_.Take(id, token);
  if (taken.outcome == TakeOutcome::kSession || taken.outcome == TakeOutcome::kFailed) {
    JournalTicketGoneLocked(id);
    PublishLocked();
  }
  return taken;
}

Status Grid::TicketHeartbeat(const std::string& id, std::string_view token) {
  MutexLock lock(mu_);
  Result<TicketBook::Ticket*> found = tickets_.Find(id, token);
  if (!found.ok()) return found.error();
  return Status::Ok();
}

Status Grid::DeleteTicket(const std::string& id, std::string_view token, Effects* effects) {
  MutexLock lock(mu_);
  Result<TicketBook::Ticket*> found = tickets_.Find(id, token);
  if (!found.ok()) return found.error();
  const TicketBook::Ticket& ticket = **found;
  if (ticket.state == TicketState::kWaiting) {
    CancelWaiterLocked(ticket.request, "its ticket was deleted");
  } else if (ticket.state == TicketState::kReady) {
    EndSessionLocked(ticket.session, effects, /*delete_on_node=*/true, "ticket_deleted");
    effects->Append(DispatchLocked());
  }
  tickets_.Erase(id);
  JournalTicketGoneLocked(id);
  PublishLocked();
  FlushEventsLocked(effects);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Queue administration

json Grid::QueueJson() {
  MutexLock lock(mu_);
  const SteadyTime now = clock_.Now();
  json list = json::array();
  for (const queue::WaiterInfo& info : queue_.Snapshot()) {
    auto w = waiters_.find(info.id);
    if (w == waiters_.end()) continue;
    const Waiter& waiter = *w->second;
    json caps =
        waiter.spec.candidates.empty() ? json::object() : waiter.spec.candidates.front().json();
    // The request id, never a ticket's id: a ticket is its holder's (with its token) alone.
    list.push_back({{"id", std::to_string(waiter.id)},
                    {"label", info.label},
                    {"runId", info.run_id},
                    {"position", info.position},
                    {"capabilities", caps},
                    {"enqueuedAt", WallSeconds(info.enqueued_at, now)},
                    {"deadline", WallSeconds(info.deadline, now)}});
  }
  return {{"value", list}};
}

json Grid::SeleniumQueueJson() {
  MutexLock lock(mu_);
  json list = json::array();
  for (const queue::WaiterInfo& info : queue_.Snapshot()) {
    auto w = waiters_.find(info.id);
    if (w == waiters_.end()) continue;
    json caps = json::array();
    for (const auto& candidate : w->second->spec.candidates) caps.push_back(candidate.json());
    list.push_back({{"requestId", std::to_string(info.id)}, {"capabilities", caps}});
  }
  return {{"value", list}};
}

size_t Grid::ClearQueue(Effects* effects) {
  MutexLock lock(mu_);
  std::vector<RequestId> cleared = queue_.Clear();
  for (RequestId id : cleared) {
    auto w = waiters_.find(id);
    if (w == waiters_.end()) continue;
    const Error cleared_error{ErrorCode::kSessionNotCreated,
                              "the queue was cleared by an administrator"};
    RecordOutcomeLocked(*w->second, metrics::Outcome::kCancelled, cleared_error.message);
    FailWaiterLocked(*w->second, cleared_error, effects);
    RemoveWaiterLocked(id);
  }
  PublishLocked();
  FlushEventsLocked(effects);
  return cleared.size();
}

Status Grid::CancelWaiter(const std::string& id, Effects* effects) {
  MutexLock lock(mu_);
  const Error unknown{ErrorCode::kNotFound, "no waiting request " + id};
  RequestId request = 0;
  for (char c : id) {
    // The ids are the decimal request ids GET /queue shows; anything else names none.
    if (c < '0' || c > '9' || request > (UINT64_MAX - 9) / 10) return unknown;
    request = request * 10 + static_cast<RequestId>(c - '0');
  }
  auto w = waiters_.find(request);
  if (id.empty() || w == waiters_.end() || w->second->creating) return unknown;
  Waiter& waiter = *w->second;
  const Error cancelled{ErrorCode::kSessionNotCreated, "cancelled by an operator"};
  RecordOutcomeLocked(waiter, metrics::Outcome::kCancelled, cancelled.message);
  queue_.Cancel(request);
  FailWaiterLocked(waiter, cancelled, effects);
  RemoveWaiterLocked(request);
  PublishLocked();
  FlushEventsLocked(effects);
  return Status::Ok();
}

}  // namespace gridhub::hub
