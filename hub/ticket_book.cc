#include "hub/ticket_book.h"

#include <algorithm>
#include <utility>

namespace gridhub::hub {

namespace {

Error Unknown(const std::string& id) {
  return {ErrorCode::kNotFound, "no ticket " + id + " (unknown, expired or taken)"};
}

}  // namespace

TicketBook::TicketBook(const Clock& clock, IdSource& ids, Limits limits)
    : clock_(clock), ids_(ids), limits_(limits) {}

const TicketBook::Ticket& TicketBook::Open(queue::RequestId request, std::string label,
                                           SteadyTime enqueued_at, SteadyTime deadline) {
  Ticket ticket;
  ticket.id = ids_.NewId();
  ticket.token = ids_.NewId();
  ticket.sequence = ++last_sequence_;
  ticket.request = request;
  ticket.label = std::move(label);
  ticket.last_activity = clock_.Now();
  ticket.enqueued_at = enqueued_at;
  ticket.deadline = deadline;
  std::string id = ticket.id;
  return tickets_.insert_or_assign(std::move(id), std::move(ticket)).first->second;
}

const TicketBook::Ticket* TicketBook::Adopt(Ticket ticket) {
  if (tickets_.count(ticket.id) > 0) return nullptr;
  last_sequence_ = std::max(last_sequence_, ticket.sequence);
  ticket.last_activity = clock_.Now();
  ticket.finished_at = ticket.last_activity;
  std::string id = ticket.id;
  return &tickets_.emplace(std::move(id), std::move(ticket)).first->second;
}

const TicketBook::Ticket* TicketBook::Get(const std::string& id) const {
  auto t = tickets_.find(id);
  return t == tickets_.end() ? nullptr : &t->second;
}

Result<TicketBook::Ticket*> TicketBook::Find(const std::string& id, std::string_view token) {
  auto t = tickets_.find(id);
  if (t == tickets_.end()) return Unknown(id);
  if (!ConstantTimeEquals(token, t->second.token)) {
    return Error{ErrorCode::kForbidden, "wrong or missing X-Queue-Token for ticket " + id};
  }
  t->second.last_activity = clock_.Now();
  return &t->second;
}

void TicketBook::Finish(const std::string& id, SessionId session, std::string body) {
  auto t = tickets_.find(id);
  if (t == tickets_.end()) return;
  t->second.state = TicketState::kReady;
  t->second.session = std::move(session);
  t->second.body = std::move(body);
  t->second.finished_at = clock_.Now();
}

void TicketBook::Fail(const std::string& id, Error error) {
  auto t = tickets_.find(id);
  if (t == tickets_.end()) return;
  t->second.state = TicketState::kFailed;
  t->second.error = std::move(error);
  t->second.finished_at = clock_.Now();
}

TicketBook::Taken TicketBook::Take(const std::string& id, std::string_view token) {
  Result<Ticket*> found = Find(id, token);
  if (!found.ok()) {
    TakeOutcome outcome = found.error().code == ErrorCode::kForbidden ? TakeOutcome::kWrongToken
                                                                      : TakeOutcome::kUnknown;
    return {outcome, "", found.error()};
  }
  Ticket& ticket = **found;
  if (ticket.state == TicketState::kWaiting) {
    return {
        TakeOutcome::kWaiting, "", {ErrorCode::kUnavailable, "ticket " + id + " is still waiting"}};
  }
  Taken taken{ticket.state == TicketState::kReady ? TakeOutcome::kSession : TakeOutcome::kFailed,
              std::move(ticket.body), std::move(ticket.error)};
  tickets_.erase(id);
  return taken;
}

SteadyTime TicketBook::DeadlineOf(const Ticket& ticket) const {
  return ticket.state == TicketState::kWaiting ? ticket.last_activity + limits_.abandon_after
                                               : ticket.finished_at + limits_.ready_ttl;
}

std::vector<TicketBook::Lapsed> TicketBook::ExpireDue() {
  const SteadyTime now = clock_.Now();
  std::vector<Lapsed> lapsed;
  for (auto t = tickets_.begin(); t != tickets_.end();) {
    const Ticket& ticket = t->second;
    if (now < DeadlineOf(ticket)) {
      ++t;
      continue;
    }
    lapsed.push_back({ticket.id, ticket.request, ticket.state, ticket.session});
    t = tickets_.erase(t);
  }
  return lapsed;
}

std::optional<SteadyTime> TicketBook::NextDeadline() const {
  std::optional<SteadyTime> next;
  for (const auto& [id, ticket] : tickets_) {
    SteadyTime due = DeadlineOf(ticket);
    if (!next.has_value() || due < *next) next = due;
  }
  return next;
}

}  // namespace gridhub::hub
