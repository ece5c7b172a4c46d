// Grid: what several hubs need of the dispatcher (DESIGN §8) — the store journal that the
// leader writes to the shared store, and abdication when it stops being the leader.

#include <algorithm>
#include <chrono>
#include <utility>

#include "hub/grid.h"
#include "hub/grid_internal.h"

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

namespace {

// The instant on the grid's clock that was Unix time `seconds` (WallSeconds' inverse): how a
// ticket's enqueue time, written by another hub, is shown and measured here.
SteadyTime SteadyFromWall(double seconds, SteadyTime now) {
  const double wall_now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now - std::chrono::duration_cast<Duration>(
                   std::chrono::duration<double>(std::max(0.0, wall_now - seconds)));
}

// A waiting ticket's request as the store keeps it: its candidates, each already merged.
json StoredCapabilities(const matching::NewSessionSpec& spec) {
  json first = json::array();
  for (const matching::Candidate& candidate : spec.candidates) first.push_back(candidate.json());
  return {{"firstMatch", std::move(first)}};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Store journal

void Grid::JournalLocked(StoreChange change) {
  if (journal_on_) journal_.push_back(std::move(change));
}

void Grid::JournalSessionLocked(const SessionEntry& session, const Node& node) {
  if (!journal_on_) return;  // a single hub copies nothing
  journal_.push_back({.kind = StoreChange::Kind::kSessionPut,
                      .session = {.id = session.id,
                                  .node_id = session.node,
                                  .node_uri = node.uri,
                                  .bare_node = node.probe,
                                  .sockets = session.sockets,
                                  .label = session.label,
                                  .run_id = session.run_id,
                                  .slot_id = session.slot,
                                  .capabilities = session.capabilities}});
}

void Grid::JournalNodeLocked(const Node& node) {
  // A node registered without its body cannot be registered again from the store.
  if (!journal_on_ || node.registration_json.empty()) return;
  journal_.push_back({.kind = StoreChange::Kind::kNodePut,
                      .node_id = NodeId(node.id),
                      .registration = node.registration_json});
}

void Grid::JournalTicketLocked(const std::string& id) {
  if (!journal_on_) return;  // a single hub copies nothing
  const TicketBook::Ticket* ticket = tickets_.Get(id);
  if (ticket == nullptr) return;
  const SteadyTime now = clock_.Now();
  TicketRecord record{.id = ticket->id,
                      .token = ticket->token,
                      .sequence = ticket->sequence,
                      .label = ticket->label,
                      .state = ticket->state,
                      .enqueued_at = WallSeconds(ticket->enqueued_at, now),
                      .deadline = WallSeconds(ticket->deadline, now),
                      .session = ticket->session,
                      .body = ticket->body,
                      .error = ticket->error};
  if (auto w = waiters_.find(ticket->request); w != waiters_.end()) {
    record.run_id = w->second->run_id;
    if (ticket->state == TicketState::kWaiting) {
      record.capabilities = StoredCapabilities(w->second->spec);
      record.public_base = w->second->public_base;
    }
  }
  journal_.push_back({.kind = StoreChange::Kind::kTicketPut, .ticket = std::move(record)});
}

void Grid::JournalTicketGoneLocked(const std::string& id) {
  if (!journal_on_ || id.empty()) return;
  journal_.push_back({.kind = StoreChange::Kind::kTicketRemoved, .ticket = {.id = id}});
}

void Grid::StartStoreJournal() {
  MutexLock lock(mu_);
  journal_on_ = true;
  journal_.clear();
  for (const auto& [id, node] : nodes_.nodes()) {
    JournalNodeLocked(*node);
    for (const SessionId& session : sessions_.OnNode(NodeId(id))) {
      JournalSessionLocked(*sessions_.Find(session), *node);
    }
  }
  for (const auto& [id, ticket] : tickets_.tickets()) JournalTicketLocked(id);
}

std::vector<StoreChange> Grid::TakeStoreChanges() {
  MutexLock lock(mu_);
  return std::exchange(journal_, {});
}

// ---------------------------------------------------------------------------------------------
// Tickets a previous dispatcher opened

size_t Grid::AdoptTickets(std::vector<TicketRecord> tickets, Effects* effects) {
  MutexLock lock(mu_);
  std::stable_sort(
      tickets.begin(), tickets.end(),
      [](const TicketRecord& a, const TicketRecord& b) { return a.sequence < b.sequence; });
  const SteadyTime now = clock_.Now();
  size_t skipped = 0;
  for (TicketRecord& record : tickets) {
    if (!AdoptTicketLocked(std::move(record), now)) ++skipped;
  }
  effects->reschedule = true;  // new waiters' deadlines, the tickets' own
  effects->Append(DispatchLocked());
  PublishLocked();
  FlushEventsLocked(effects);
  return skipped;
}

bool Grid::AdoptTicketLocked(TicketRecord record, SteadyTime now) {
  if (tickets_.Get(record.id) != nullptr) return false;
  TicketBook::Ticket ticket{.id = std::move(record.id),
                            .token = std::move(record.token),
                            .sequence = record.sequence,
                            .label = std::move(record.label),
                            .state = record.state,
                            .enqueued_at = SteadyFromWall(record.enqueued_at, now),
                            .deadline = SteadyFromWall(record.deadline, now),
                            .body = std::move(record.body),
                            .error = std::move(record.error),
                            .session = std::move(record.session)};
  if (ticket.state == TicketState::kWaiting) {
    Result<matching::NewSessionSpec> spec =
        matching::ProcessNewSession(json{{"capabilities", std::move(record.capabilities)}});
    if (!spec.ok()) return false;
    SteadyTime deadline;
    Result<RequestId> admitted =
        AdmitLocked(std::move(*spec), std::move(record.run_id), /*no_wait=*/false, &deadline);
    if (admitted.ok()) {
      Waiter& waiter = *waiters_[*admitted];
      waiter.public_base = std::move(record.public_base);
      waiter.enqueued_at = ticket.enqueued_at;  // its wait counts from its first admission
      waiter.ticket_id = ticket.id;
      ticket.request = waiter.id;
      ticket.label = waiter.label;
      ticket.deadline = deadline;
    } else {
      ticket.state = TicketState::kFailed;  // its holder hears why on take
      ticket.error = admitted.error();
    }
  }
  tickets_.Adopt(std::move(ticket));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Abdication

Effects Grid::Abdicate(const Error& why) {
  MutexLock lock(mu_);
  Effects effects;
  journal_on_ = false;  // a deposed hub writes nothing more, not even what is pending
  journal_.clear();
  AbdicateWaitersLocked(why, &effects);
  ForgetGridLocked();
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

void Grid::AbdicateWaitersLocked(const Error& why, Effects* effects) {
  std::vector<RequestId> ids;
  ids.reserve(waiters_.size());
  for (const auto& [id, waiter] : waiters_) ids.push_back(id);
  for (RequestId id : ids) {
    Waiter& waiter = *waiters_[id];
    waiter.outcome_recorded = true;  // not an outcome: the request goes to the new dispatcher
    if (waiter.has_responder) {
      effects->replies.push_back({std::move(waiter.target), why, SessionId()});
      waiter.has_responder = false;
    }
    waiter.ticket_id.clear();
    if (waiter.creating && !waiter.orphaned) {
      // Its creation's answer still comes: the session is deleted then (nobody may use it).
      waiter.abandoned = true;
      waiter.orphaned = true;
      queue_.OnGrantCancelled(id);
    } else if (!waiter.creating) {
      queue_.Cancel(id);
      RemoveWaiterLocked(id);
    }
  }
  // Every ticket goes from here: waiting ones with their waiters, finished ones (whose sessions
  // this hub no longer routes) too. The store keeps them all for the next dispatcher.
  tickets_.Clear();
}

void Grid::ForgetGridLocked() {
  // The sessions live on: no DeleteJob, no session_ended event, nothing for
  // TakeEndedSessions; only this hub's count of them against the caps goes.
  for (const auto& [id, node] : nodes_.nodes()) {
    for (const SessionId& session : sessions_.OnNode(NodeId(id))) {
      queue_.OnSessionEnded(sessions_.Find(session)->label);
    }
  }
  sessions_ = SessionMap();
  nodes_ = NodeRegistry(NodeTiming(settings_.hub));
  PoolChangedLocked();  // every slot left the pool
  queue_view_dirty_ = true;
}

}  // namespace gridhub::hub
