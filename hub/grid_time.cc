// Grid: configuration and time — Reconfigure, Tick and its steps, NextWake, Shutdown.

#include "hub/grid.h"
#include "hub/grid_internal.h"

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

// ---------------------------------------------------------------------------------------------
// Configuration and time

Effects Grid::Reconfigure(const config::Settings& settings) {
  MutexLock lock(mu_);
  settings_.queue = settings.queue;
  settings_.matching = settings.matching;
  // The hub section too (SIGHUP): tokens, secret, slot selection, node timeout and probe
  // period are all read from here when next needed.
  settings_.hub = settings.hub;
  queue_.Reconfigure(ToQueueOptions(settings.queue));
  tickets_.set_limits(TicketLimits(settings.queue));
  nodes_.set_timing(NodeTiming(settings.hub));
  matcher_ = matching::SlotMatcher(ToMatchOptions(settings.matching));
  PoolChangedLocked();  // the matching toggles may have changed; caps may declare labels
  Effects effects = DispatchLocked();
  effects.reschedule = true;
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

config::Settings Grid::settings() {
  MutexLock lock(mu_);
  return settings_;
}

Effects Grid::Tick() {
  MutexLock lock(mu_);
  Effects effects;
  const SteadyTime now = clock_.Now();
  bool changed = ExpireCreationsLocked(now, &effects);
  changed = ExpireWaitersLocked(&effects) || changed;
  if (!grace_checked_ && now >= created_at_ + settings_.queue.registration_grace) {
    grace_checked_ = true;
    changed = RejectUnsatisfiableLocked(&effects) || changed;
  }
  changed = nodes_.EndCooldowns(now) || changed;  // their slots are offered again
  // Silent for node-timeout: its slots leave the pool and its sessions are dropped; waiters
  // stay queued for other nodes.
  for (Node* down : nodes_.MarkSilentDown(now)) {
    NoteEventLocked({.kind = GridEventKind::kNodeDown,
                     .node_id = down->id,
                     .reason = "silent",
                     .message = "node " + down->id + " is DOWN: no heartbeat or probe answer for " +
                                Seconds(settings_.hub.node_timeout) + " (hub.node-timeout)"});
    DropNodeSessionsLocked(*down, &effects, /*delete_on_node=*/true, "node_down");
    changed = true;
  }
  for (ProbeJob& probe : nodes_.DueProbes(now)) effects.probes.push_back(std::move(probe));
  changed = ExpireTicketsLocked(&effects) || changed;
  if (changed) {
    effects.Append(DispatchLocked());
    PublishLocked();
  }
  FlushEventsLocked(&effects);
  return effects;
}

bool Grid::ExpireCreationsLocked(SteadyTime now, Effects* effects) {
  bool changed = false;
  while (!creating_deadlines_.empty() && creating_deadlines_.begin()->first <= now) {
    RequestId id = creating_deadlines_.begin()->second;
    creating_deadlines_.erase(creating_deadlines_.begin());
    auto w = waiters_.find(id);
    if (w == waiters_.end() || !w->second->creating || w->second->abandoned) continue;
    Waiter& waiter = *w->second;
    FailWaiterLocked(waiter,
                     {ErrorCode::kTimeout, "node " + waiter.node_id +
                                               " did not create the session within "
                                               "queue.timeout (" +
                                               Seconds(settings_.queue.timeout) +
                                               "); it is deleted if it still appears"},
                     effects);
    waiter.abandoned = true;  // OnCreateResult deletes the session and frees the slot
    changed = true;
  }
  return changed;
}

bool Grid::ExpireWaitersLocked(Effects* effects) {
  bool changed = false;
  for (RequestId id : queue_.ExpireDue()) {
    auto w = waiters_.find(id);
    if (w == waiters_.end()) continue;
    Waiter& waiter = *w->second;
    std::string message = "no slot for label '" + waiter.spec.label.str() +
                          "' within queue.timeout (" + Seconds(settings_.queue.timeout) + ")";
    if (!waiter.last_failure.empty()) message += "; last attempt: " + waiter.last_failure;
    FailWaiterLocked(waiter, {ErrorCode::kTimeout, message}, effects);
    RemoveWaiterLocked(id);
    changed = true;
  }
  return changed;
}

bool Grid::ExpireTicketsLocked(Effects* effects) {
  // Abandoned waiters, ready sessions nobody took, failures nobody read.
  std::vector<TicketBook::Lapsed> lapsed = tickets_.ExpireDue();
  for (const TicketBook::Lapsed& ticket : lapsed) {
    JournalTicketGoneLocked(ticket.id);
    if (ticket.state == TicketState::kWaiting) {
      CancelWaiterLocked(ticket.request,
                         "its ticket was abandoned (no call within "
                         "queue.abandon-after)");
      continue;
    }
    if (ticket.state == TicketState::kReady) {
      EndSessionLocked(ticket.session, effects, /*delete_on_node=*/true, "ticket_expired");
    }
    RemoveWaiterLocked(ticket.request);
  }
  return !lapsed.empty();
}

std::optional<SteadyTime> Grid::NextWake() {
  MutexLock lock(mu_);
  std::optional<SteadyTime> next = queue_.NextDeadline();
  auto consider = [&next](SteadyTime t) {
    if (!next.has_value() || t < *next) next = t;
  };
  if (!creating_deadlines_.empty()) consider(creating_deadlines_.begin()->first);
  if (!grace_checked_) consider(created_at_ + settings_.queue.registration_grace);
  if (std::optional<SteadyTime> node = nodes_.NextDeadline()) consider(*node);
  if (std::optional<SteadyTime> ticket = tickets_.NextDeadline()) consider(*ticket);
  return next;
}

Effects Grid::Shutdown() {
  MutexLock lock(mu_);
  Effects effects;
  shutting_down_ = true;
  std::vector<RequestId> ids;
  for (const auto& [id, waiter] : waiters_) ids.push_back(id);
  for (RequestId id : ids) {
    Waiter& waiter = *waiters_[id];
    FailWaiterLocked(waiter, {ErrorCode::kSessionNotCreated, "the hub is shutting down"}, &effects);
    if (waiter.creating) {
      waiter.abandoned = true;  // its creation result deletes the session
    } else {
      queue_.Cancel(id);
      RemoveWaiterLocked(id);
    }
  }
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

}  // namespace gridhub::hub
