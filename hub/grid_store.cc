// Grid: what several hubs need of the dispatcher (DESIGN §8) — the store journal that the
// leader writes to the shared store, and abdication when it stops being the leader.

#include <utility>

#include "hub/grid.h"
#include "hub/grid_internal.h"

namespace gridhub::hub {

using queue::RequestId;

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
}

std::vector<StoreChange> Grid::TakeStoreChanges() {
  MutexLock lock(mu_);
  return std::exchange(journal_, {});
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
  // Every ticket goes: waiting ones with their waiters, finished ones (whose sessions this hub
  // no longer routes) too.
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
