#include "hub/grid.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_set>

#include "hub/grid_internal.h"

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

namespace {

// How much longer than its request's deadline a node may take to answer POST /session. The
// hub keeps listening so that it learns the id of a late session and can delete it, instead of
// leaving it behind on the node; the client is answered at its deadline regardless.
constexpr auto kCreationGrace = std::chrono::seconds(60);

}  // namespace

void Effects::Append(Effects other) {
  for (auto& r : other.replies) replies.push_back(std::move(r));
  for (auto& c : other.creates) creates.push_back(std::move(c));
  for (auto& d : other.deletes) deletes.push_back(std::move(d));
  for (auto& p : other.probes) probes.push_back(std::move(p));
  for (auto& e : other.events) events.push_back(std::move(e));
  reschedule = reschedule || other.reschedule;
}

// Answers the queue's "can this waiter use this free slot unit?" with the matcher.
class Grid::Compatibility final : public queue::SlotCompatibility {
 public:
  Compatibility(const Grid& grid, const std::unordered_map<std::string, Offer>& units)
      : grid_(grid), units_(units) {}

  bool CanServe(RequestId request, const queue::SlotId& unit) const override
      NO_THREAD_SAFETY_ANALYSIS {  // called inside DispatchLocked, under mu_
    auto w = grid_.waiters_.find(request);
    auto u = units_.find(unit);
    if (w == grid_.waiters_.end() || u == units_.end()) return false;
    const Waiter& waiter = *w->second;
    if (waiter.failed_nodes.count(u->second.node->id) > 0) return false;
    const matching::LabelKey* restriction =
        waiter.restriction.has_value() ? &*waiter.restriction : nullptr;
    return grid_.matcher_.Match(waiter.spec, restriction, u->second.slot->stereotype).has_value();
  }

  // Asked per (label, slot); remembered per slot and label for the Dispatch() call.
  bool LabelCanUse(std::string_view label, const queue::SlotId& unit) const override
      NO_THREAD_SAFETY_ANALYSIS {  // called inside DispatchLocked, under mu_
    auto u = units_.find(unit);
    if (u == units_.end()) return true;
    const Slot* slot = u->second.slot;
    auto [it, fresh] = memo_.try_emplace({slot, label}, false);
    if (fresh) it->second = grid_.LabelCanUseLocked(label, *slot);
    return it->second;
  }

  uint64_t Generation() const override NO_THREAD_SAFETY_ANALYSIS {
    return grid_.compat_generation_;
  }

 private:
  const Grid& grid_;
  const std::unordered_map<std::string, Offer>& units_;
  // The queue's label names outlive the Dispatch() call this object serves.
  mutable std::map<std::pair<const Slot*, std::string_view>, bool> memo_;
};

Grid::Grid(const Clock& clock, IdSource& ids, const config::Settings& settings)
    : clock_(clock),
      settings_(settings),
      matcher_(ToMatchOptions(settings.matching)),
      queue_(clock, ToQueueOptions(settings.queue)),
      nodes_(NodeTiming(settings.hub)),
      tickets_(clock, ids, TicketLimits(settings.queue)),
      metrics_(std::string(metrics::GridhubVersion())) {
  MutexLock lock(mu_);
  created_at_ = clock_.Now();  // the queue counts its registration grace from the same instant
  PublishLocked();
}

Grid::~Grid() = default;

// ---------------------------------------------------------------------------------------------
// Dispatch

std::vector<const matching::Stereotype*> Grid::PoolLocked() { return nodes_.Pool(); }

void Grid::ResolveRestrictionLocked(Waiter& waiter) {
  std::vector<const matching::Stereotype*> pool = PoolLocked();
  waiter.restriction = matcher_.ResolveRestriction(waiter.spec, pool);
}

void Grid::PoolChangedLocked() {
  ++compat_generation_;
  for (auto& [id, waiter] : waiters_) {
    if (waiter->spec.explicit_label && !waiter->creating) ResolveRestrictionLocked(*waiter);
  }
}

bool Grid::LabelCanUseLocked(std::string_view label, const Slot& slot) const {
  // A request naming no browser (label "any") fits slots of every label.
  if (label == matching::LabelKey::Any().str()) return true;
  matching::LabelKey parsed;
  const matching::LabelKey* key = &parsed;
  if (auto it = label_use_.find(std::string(label)); it != label_use_.end()) {
    if (it->second.wide) return true;
    key = &it->second.key;
  } else {  // a label only a cap declared so far: its first waiter is noted before dispatch
    Result<matching::LabelKey> result = matching::LabelKey::Parse(label);
    if (!result.ok()) return true;
    parsed = std::move(*result);
  }
  // A request by browser name fits only slots of that browser (it is not wide).
  if (key->size() == 1 && slot.browser_label == label) return true;
  // A request with gridhub:label is restricted to that label or, by trailing fallback, one of
  // its parents. Every parent is tried whatever the toggle says, so that a restriction resolved
  // under other settings (a waiter whose creation was in flight) is covered too.
  for (matching::LabelKey accepted = *key; !accepted.empty(); accepted = accepted.Parent()) {
    if (matching::LabelAccepts(accepted, slot.stereotype.label(), matcher_.options())) return true;
  }
  return false;
}

void Grid::NoteLabelUseLocked(const Waiter& waiter) {
  auto [it, inserted] = label_use_.try_emplace(waiter.label, LabelUse{waiter.spec.label, false});
  it->second.waiters++;
  if (it->second.wide) return;
  if (waiter.label != waiter.spec.label.str()) {
    // Counted under a parent or the undeclared bucket: its own restriction may later reach
    // slots the queue label alone would not, so this label promises nothing.
    it->second.wide = true;
    ++compat_generation_;
    return;
  }
  if (waiter.spec.explicit_label) return;
  for (const matching::Candidate& candidate : waiter.spec.candidates) {
    const std::string& browser = candidate.digest().browser_name;
    if (browser.empty() || matching::LabelKey::FromBrowserName(browser).str() != waiter.label) {
      it->second.wide = true;
      ++compat_generation_;  // earlier "cannot use" answers for this label no longer hold
      return;
    }
  }
}

Effects Grid::DispatchLocked() {
  Effects effects;
  if (shutting_down_ || queue_.size() == 0) return effects;
  // One dispatch entry per slot with room, offered with a count, never one per session unit:
  // a call costs O(slots + grants) however large maxSessions is.
  const SteadyTime now = clock_.Now();
  std::vector<Offer> offer = nodes_.FreeOffers(now);
  std::unordered_map<std::string, Offer> by_id;
  for (const Offer& o : offer) by_id.emplace(o.slot->unit_id, o);
  Compatibility compat(*this, by_id);
  const bool pack = settings_.hub.slot_selection == config::SlotSelection::kPack;
  while (!offer.empty() && queue_.size() > 0) {
    std::unordered_set<const Slot*> granted;
    for (const queue::Assignment& a : DispatchRoundLocked(offer, pack, compat)) {
      if (const Slot* slot = StartCreationLocked(a, by_id, now, &effects)) granted.insert(slot);
    }
    // pack offers every free unit in one round. spread offers one unit per slot per round so
    // that grants interleave across equally loaded nodes. A slot nobody took in a round is
    // of use to no remaining waiter (the queue stops only then, and waiters and headroom under
    // the caps only shrink within this call), so the next round offers only the slots just
    // granted that still have room.
    if (pack || granted.empty()) break;
    std::erase_if(
        offer, [&](const Offer& o) { return granted.count(o.slot) == 0 || o.slot->Free() == 0; });
  }
  // No publishing here: every public operation that dispatches publishes once at its end.
  return effects;
}

std::vector<queue::Assignment> Grid::DispatchRoundLocked(std::span<const Offer> offer, bool pack,
                                                         const Compatibility& compat) {
  struct Entry {
    double load;
    SteadyTime idle_since;
    const std::string* node_id;
    int k;
    const Offer* offer;
  };
  std::vector<Entry> entries;
  entries.reserve(offer.size());
  const Node* node = nullptr;
  int k = 0;
  double active = 0;
  double capacity = 1;
  for (const Offer& o : offer) {  // grouped by node, in node order
    if (o.node != node) {
      node = o.node;
      k = 0;
      active = node->Active();
      capacity = node->Capacity();
    }
    // spread: the k-th slot offered by a node counts as if k more sessions ran there, so a
    // round's grants interleave across equally loaded nodes. pack: the busiest node first.
    double load = pack ? -(active / capacity) : (active + k) / capacity;
    entries.push_back({load, node->idle_since, &node->id, k++, &o});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.load, a.idle_since, *a.node_id, a.k) <
           std::tie(b.load, b.idle_since, *b.node_id, b.k);
  });
  std::vector<queue::SlotId> ids;
  std::vector<int> counts;
  ids.reserve(entries.size());
  counts.reserve(entries.size());
  for (const Entry& e : entries) {
    ids.push_back(e.offer->slot->unit_id);
    counts.push_back(pack ? e.offer->slot->Free() : 1);
  }
  return queue_.Dispatch(ids, counts, compat);
}

const Grid::Slot* Grid::StartCreationLocked(const queue::Assignment& a,
                                            const std::unordered_map<std::string, Offer>& by_id,
                                            SteadyTime now, Effects* effects) {
  auto w = waiters_.find(a.request);
  auto u = by_id.find(a.slot);
  if (w == waiters_.end() || u == by_id.end()) {
    queue_.OnGrantCancelled(a.request);
    return nullptr;
  }
  Waiter& waiter = *w->second;
  auto [node, slot] = u->second;
  const matching::LabelKey* restriction =
      waiter.restriction.has_value() ? &*waiter.restriction : nullptr;
  std::optional<size_t> candidate = matcher_.Match(waiter.spec, restriction, slot->stereotype);
  if (!candidate.has_value()) {  // impossible: the queue asked CanServe first
    queue_.OnGrantCancelled(a.request);
    return nullptr;
  }
  if (!waiter.wait_observed) {
    waiter.wait_observed = true;
    metrics_.RecordQueueWait(waiter.metric_label, a.waited);
  }
  slot->reserved++;
  nodes_.Touch(*node);
  waiter.creating = true;
  CountWaitingLocked(waiter.label, -1);
  creating_deadlines_.emplace(waiter.deadline, waiter.id);
  waiter.node_id = node->id;
  waiter.slot_id = slot->id;
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(waiter.deadline - now);
  effects->creates.push_back(
      {.request = waiter.id,
       .node_id = NodeId(node->id),
       .node_uri = node->uri,
       .slot_id = SlotId(slot->id),
       .capabilities =
           matching::CapabilitiesForNode(waiter.spec.candidates[*candidate], slot->stereotype),
       .timeout = std::max(remaining, std::chrono::milliseconds(1000)) + kCreationGrace,
       .public_base = waiter.public_base,
       .bare_node = node->probe});
  return slot;
}

bool Grid::CanEverServeLocked(const Waiter& waiter,
                              std::span<const matching::Stereotype* const> pool) const {
  const matching::LabelKey* restriction =
      waiter.restriction.has_value() ? &*waiter.restriction : nullptr;
  for (const matching::Stereotype* s : pool) {
    if (matcher_.Match(waiter.spec, restriction, *s)) return true;
  }
  return false;
}

bool Grid::RejectUnsatisfiableLocked(Effects* effects) {
  if (!settings_.queue.reject_unsatisfiable) return false;
  std::vector<const matching::Stereotype*> pool = PoolLocked();
  std::vector<RequestId> hopeless;
  for (auto& [id, waiter] : waiters_) {
    if (waiter->creating) continue;
    if (waiter->spec.explicit_label) ResolveRestrictionLocked(*waiter);
    if (!CanEverServeLocked(*waiter, pool)) hopeless.push_back(id);
  }
  for (RequestId id : hopeless) {
    Waiter& waiter = *waiters_[id];
    queue_.Cancel(id);
    FailWaiterLocked(
        waiter,
        {ErrorCode::kUnsatisfiable, "unsatisfiable: no registered slot could ever serve label '" +
                                        waiter.spec.label.str() +
                                        "' (checked when queue.registration-grace ended): " +
                                        matcher_.ExplainNoMatch(waiter.spec, pool)},
        effects);
    RemoveWaiterLocked(id);
  }
  return !hopeless.empty();
}

// ---------------------------------------------------------------------------------------------
// New sessions

std::string Grid::CountingLabelLocked(const Waiter& waiter,
                                      std::span<const matching::Stereotype* const> pool) const {
  const std::string requested = waiter.spec.label.str();
  const std::map<std::string, int>& caps = settings_.queue.concurrency_caps;
  if (requested == matching::LabelKey::Any().str() || caps.count(requested) > 0) return requested;
  // The label that would serve it: its own, or the parent trailing fallback resolved it to.
  const matching::LabelKey& target = waiter.restriction ? *waiter.restriction : waiter.spec.label;
  if (caps.count(target.str()) > 0) return target.str();
  for (const matching::Stereotype* slot : pool) {
    if (matching::LabelAccepts(target, slot->label(), matcher_.options())) return target.str();
    const std::string& browser = slot->digest().browser_name;
    if (!waiter.spec.explicit_label && !browser.empty() &&
        matching::LabelKey::FromBrowserName(browser).str() == requested) {
      return requested;
    }
  }
  return std::string(kUndeclaredLabel);
}

void Grid::SyncMetricLabelsLocked() {
  std::set<std::string> declared = nodes_.DeclaredLabels();
  for (const auto& [label, cap] : settings_.queue.concurrency_caps) declared.insert(label);
  metrics_.SetDeclaredLabels(declared);
  declared_labels_ = std::make_shared<const std::set<std::string>>(std::move(declared));
}

Error Grid::RefusalLocked(const queue::Refused& refused, const Waiter& waiter,
                          std::span<const matching::Stereotype* const> pool) const {
  Error error{ErrorCode::kQueueFull, refused.message};
  switch (refused.reason) {
    case queue::Refusal::kQueueFull:
      if (waiter.label == kUndeclaredLabel) {
        error.message = "queue full: " + std::to_string(settings_.queue.max_per_label) +
                        " requests whose label no slot or cap declares (this one: '" +
                        waiter.spec.label.str() +
                        "') are already waiting (queue.max-per-label); declare the label "
                        "with a slot or in queue.concurrency-caps";
      }
      break;
    case queue::Refusal::kRunLimit:
      error.code = ErrorCode::kRunLimit;
      break;
    case queue::Refusal::kNoWait:
      error.code = ErrorCode::kNoWait;
      break;
    case queue::Refusal::kUnsatisfiable:
      error = {ErrorCode::kUnsatisfiable,
               refused.message + ": " + matcher_.ExplainNoMatch(waiter.spec, pool)};
      break;
  }
  return error;
}

Result<RequestId> Grid::AdmitLocked(matching::NewSessionSpec spec, std::string run_id, bool no_wait,
                                    SteadyTime* deadline) {
  auto waiter = std::make_unique<Waiter>();
  waiter->spec = std::move(spec);
  waiter->run_id = std::move(run_id);
  ResolveRestrictionLocked(*waiter);
  std::vector<const matching::Stereotype*> pool = PoolLocked();
  // Fairness, max-per-label, caps and metrics count by a label some slot or cap declares.
  waiter->label = CountingLabelLocked(*waiter, pool);
  std::string metric_label = metrics_.RecordRequest(waiter->label);
  if (shutting_down_) {
    return RefuseLocked({ErrorCode::kSessionNotCreated, "the hub is shutting down"}, metric_label,
                        waiter->run_id);
  }
  const matching::LabelKey* restriction =
      waiter->restriction.has_value() ? &*waiter->restriction : nullptr;
  bool satisfiable = CanEverServeLocked(*waiter, pool);
  bool servable_now = false;
  for (const Offer& o : nodes_.FreeOffers(clock_.Now())) {
    if (matcher_.Match(waiter->spec, restriction, o.slot->stereotype)) {
      servable_now = true;
      break;
    }
  }
  auto admitted = queue_.Enqueue({.label = waiter->label,
                                  .run_id = waiter->run_id,
                                  .no_wait = no_wait,
                                  .satisfiable = satisfiable,
                                  .servable_now = servable_now});
  if (auto* refused = std::get_if<queue::Refused>(&admitted)) {
    return RefuseLocked(RefusalLocked(*refused, *waiter, pool), metric_label, waiter->run_id);
  }
  const auto& enqueued = std::get<queue::Enqueued>(admitted);
  NoteLabelUseLocked(*waiter);
  waiter->id = enqueued.id;
  waiter->metric_label = std::move(metric_label);
  waiter->caps_string = std::make_shared<const std::string>(Dump(
      waiter->spec.candidates.empty() ? json::object() : waiter->spec.candidates.front().json()));
  waiter->enqueued_at = clock_.Now();
  waiter->deadline = enqueued.deadline;
  *deadline = enqueued.deadline;
  RequestId id = waiter->id;
  CountWaitingLocked(waiter->label, +1);
  waiters_.emplace(id, std::move(waiter));
  return id;
}

Error Grid::RefuseLocked(Error error, const std::string& metric_label, const std::string& run_id) {
  const metrics::Outcome outcome = metrics::OutcomeFor(error.code);
  metrics_.RecordOutcome(metric_label, outcome, Duration::zero());
  NoteEventLocked({.kind = outcome == metrics::Outcome::kFailed ? GridEventKind::kFailed
                                                                : GridEventKind::kRefused,
                   .label = metric_label,
                   .run_id = run_id,
                   .reason = std::string(metrics::OutcomeName(outcome)),
                   .message = error.message});
  return error;
}

Effects Grid::SubmitNewSession(matching::NewSessionSpec spec, std::string run_id, bool no_wait,
                               ReplyTarget target, std::string public_base) {
  MutexLock lock(mu_);
  Effects effects;
  SteadyTime deadline;
  Result<RequestId> admitted = AdmitLocked(std::move(spec), std::move(run_id), no_wait, &deadline);
  if (!admitted.ok()) {
    effects.replies.push_back({std::move(target), admitted.error(), SessionId()});
    FlushEventsLocked(&effects);
    return effects;
  }
  effects.reschedule = true;  // a new deadline
  Waiter& waiter = *waiters_[*admitted];
  waiter.public_base = std::move(public_base);
  waiter.has_responder = true;
  waiter.connection_id = target.connection_id;
  waiter.target = std::move(target);
  if (waiter.connection_id != 0) waiter_by_connection_[waiter.connection_id] = waiter.id;
  effects.Append(DispatchLocked());
  if (no_wait && !waiter.creating) {
    // Fail fast: a free slot existed at admission but fairness gave it to an older waiter.
    queue_.Cancel(waiter.id);
    FailWaiterLocked(waiter,
                     {ErrorCode::kNoWait, "no free slot for label '" + waiter.spec.label.str() +
                                              "' right now (no-wait request)"},
                     &effects);
    RemoveWaiterLocked(*admitted);
  }
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

void Grid::DeliverFailureLocked(Waiter& waiter, const Error& error, Effects* effects) {
  if (waiter.has_responder) {
    effects->replies.push_back({std::move(waiter.target), error, SessionId()});
    waiter.has_responder = false;
    return;
  }
  tickets_.Fail(waiter.ticket_id, error);
  JournalTicketLocked(waiter.ticket_id);
}

void Grid::DeliverSessionLocked(Waiter& waiter, const SessionId& session, std::string body,
                                Effects* effects) {
  if (waiter.has_responder) {
    effects->replies.push_back({std::move(waiter.target), std::move(body), session});
    waiter.has_responder = false;
    return;
  }
  tickets_.Finish(waiter.ticket_id, session, std::move(body));
  JournalTicketLocked(waiter.ticket_id);
}

void Grid::FailWaiterLocked(Waiter& waiter, const Error& error, Effects* effects) {
  RecordOutcomeLocked(waiter, metrics::OutcomeFor(error.code), error.message);
  if (error.code == ErrorCode::kTimeout && !waiter.has_responder && !waiter.ticket_id.empty()) {
    // An expired ticket is simply gone (DESIGN §4: 404 on GET and take); only a request that
    // failed otherwise (node failures, unsatisfiable, cleared) keeps its error for one take.
    tickets_.Erase(waiter.ticket_id);
    JournalTicketGoneLocked(waiter.ticket_id);
    waiter.ticket_id.clear();
    return;
  }
  DeliverFailureLocked(waiter, error, effects);
}

void Grid::RecordOutcomeLocked(Waiter& waiter, metrics::Outcome outcome, std::string_view message) {
  if (waiter.outcome_recorded) return;
  waiter.outcome_recorded = true;
  metrics_.RecordOutcome(waiter.metric_label, outcome, clock_.Now() - waiter.enqueued_at);
  GridEventKind kind = GridEventKind::kRefused;  // queue_full, run_limit, unsatisfiable, no_wait
  switch (outcome) {
    case metrics::Outcome::kSuccess:
      return;  // AcceptSessionLocked tells it, with the session and node
    case metrics::Outcome::kTimeout:
      kind = GridEventKind::kTimedOut;
      break;
    case metrics::Outcome::kCancelled:
      kind = GridEventKind::kCancelled;
      break;
    case metrics::Outcome::kFailed:
      kind = GridEventKind::kFailed;
      break;
    default:
      break;
  }
  NoteEventLocked({.kind = kind,
                   .label = waiter.metric_label,
                   .run_id = waiter.run_id,
                   .node_id = waiter.creating ? waiter.node_id : std::string(),
                   .reason = std::string(metrics::OutcomeName(outcome)),
                   .message = std::string(message)});
}

void Grid::NoteEventLocked(GridEvent event) {
  event.at = clock_.Now();
  events_.push_back(std::move(event));
}

void Grid::FlushEventsLocked(Effects* effects) {
  if (events_.empty()) return;
  if (effects == nullptr) {  // not expected: every public operation passes its own
    events_.clear();
    return;
  }
  for (GridEvent& event : events_) effects->events.push_back(std::move(event));
  events_.clear();
}

void Grid::RemoveWaiterLocked(RequestId id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  creating_deadlines_.erase({it->second->deadline, id});
  auto c = waiter_by_connection_.find(it->second->connection_id);
  if (c != waiter_by_connection_.end() && c->second == id) waiter_by_connection_.erase(c);
  // A label's entry lives as long as its waiters; a "cannot use" answer the queue remembered
  // for it stays true (without the entry the answer can only narrow).
  auto use = label_use_.find(it->second->label);
  if (use != label_use_.end() && --use->second.waiters == 0) label_use_.erase(use);
  if (!it->second->creating) CountWaitingLocked(it->second->label, -1);
  waiters_.erase(it);
  queue_view_dirty_ = true;
}

Effects Grid::OnCreateResult(RequestId request, const NodeId& node_id, const std::string& node_uri,
                             const SlotId& slot_id, CreateAnswer answer) {
  MutexLock lock(mu_);
  Effects effects;
  effects.reschedule = true;  // a retried waiter's deadline, or a ticket's ready-ttl
  const SteadyTime now = clock_.Now();
  auto w = waiters_.find(request);
  Waiter* waiter = w == waiters_.end() ? nullptr : w->second.get();
  if (waiter == nullptr || !waiter->orphaned) nodes_.ReleaseReservation(node_id, slot_id);
  if (waiter != nullptr) creating_deadlines_.erase({waiter->deadline, request});
  Node* node = nodes_.Find(node_id);
  Slot* slot = node == nullptr ? nullptr : node->FindSlot(slot_id);
  const std::string refused = RefusedSessionLocked(answer);
  if (!refused.empty()) answer.session_id.reset();
  const bool created = answer.session_id.has_value();
  const bool node_usable =
      node != nullptr && slot != nullptr && node->availability != Availability::kDown;
  const bool wanted =
      waiter != nullptr && !waiter->abandoned && !shutting_down_ && now <= waiter->deadline;
  if (created && node_usable && wanted) {
    AcceptSessionLocked(*waiter, *node, *slot, std::move(answer), now, &effects);
  } else {
    // Created, but nobody may use it: delete it on the node at once.
    if (created) effects.deletes.push_back({node_uri, *answer.session_id});
    if (waiter == nullptr || waiter->abandoned || shutting_down_) {
      queue_.OnGrantCancelled(request);
      if (waiter != nullptr) RemoveWaiterLocked(request);
    } else if (created && node_usable) {  // past its deadline
      queue_.OnGrantCancelled(request);
      FailWaiterLocked(*waiter,
                       {ErrorCode::kTimeout, "session created on node " + node_id.str() +
                                                 " only after the request's deadline "
                                                 "(queue.timeout); it was deleted"},
                       &effects);
      RemoveWaiterLocked(request);
    } else {
      if (node != nullptr && !created) nodes_.CoolDown(*node, now, answer.unreachable);
      std::string why = !refused.empty() ? refused
                        : created        ? std::string("node left the grid")
                                         : answer.failure;
      waiter->last_failure =
          "node " + node_id.str() + " (" + node_uri + ") could not create the session: " + why;
      RetryOrFailLocked(*waiter, node_id, now, &effects);
    }
  }
  effects.Append(DispatchLocked());
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

std::string Grid::RefusedSessionLocked(const CreateAnswer& answer) const {
  // A session id already live (on this or any other node) fails this creation (as one the hub
  // could not route does, see ClassifyCreateAnswer): routing it would hand the existing
  // session's commands to this node.
  // The existing route is untouched and the slot freed; the request is retried elsewhere.
  // Decision: no DELETE of the reported id is sent to this node. A genuine collision of two
  // 128-bit ids does not happen, so the node is lying or broken, and if it fronts (or shares
  // routes with) the node that owns the real session, a DELETE would end the real one. What
  // it may have started is its own to clean up (node.session-timeout on a gridhub node).
  if (!answer.session_id.has_value() || !sessions_.Contains(*answer.session_id)) return "";
  return "answered with sessionId " + answer.session_id->str() +
         ", which is already a live session";
}

void Grid::AcceptSessionLocked(Waiter& waiter, Node& node, Slot& slot, CreateAnswer answer,
                               SteadyTime now, Effects* effects) {
  queue_.OnSessionCreated(waiter.id);
  RecordOutcomeLocked(waiter, metrics::Outcome::kSuccess);
  NodeRegistry::OnCreated(node);
  json& body = answer.body;
  SessionEntry session{.id = *answer.session_id,
                       .node = NodeId(node.id),
                       .slot = SlotId(slot.id),
                       .label = waiter.label,
                       .capabilities = json(),
                       .started = now,
                       .run_id = waiter.run_id,
                       .sockets = std::move(answer.sockets)};
  if (body.contains("value") && body["value"].is_object()) {
    json& value = body["value"];
    if (!value.contains("capabilities") || !value["capabilities"].is_object()) {
      value["capabilities"] = json::object();
    }
    value["capabilities"]["se:gridhubNode"] = node.id;
    session.capabilities = value["capabilities"];
  }
  slot.sessions.push_back(session.id);
  nodes_.Touch(node);
  NoteEventLocked({.kind = GridEventKind::kGranted,
                   .label = waiter.metric_label,
                   .run_id = waiter.run_id,
                   .session_id = session.id.str(),
                   .node_id = node.id,
                   .message = "session on node " + node.id + ", slot " + slot.id});
  JournalSessionLocked(session, node);
  sessions_.Add(std::move(session));
  DeliverSessionLocked(waiter, *answer.session_id, Dump(body), effects);
  RemoveWaiterLocked(waiter.id);
}

void Grid::RetryOrFailLocked(Waiter& waiter, const NodeId& failed_node, SteadyTime now,
                             Effects* effects) {
  // Back to the head of its label, preferably on another node.
  waiter.creating = false;
  CountWaitingLocked(waiter.label, +1);
  waiter.failed_nodes.insert(failed_node.str());
  if (queue_.OnCreateFailed(waiter.id)) {
    // Waiting again: the pool may have changed while its creation was in flight.
    if (waiter.spec.explicit_label) ResolveRestrictionLocked(waiter);
    // Only avoid the failed nodes while some other node could serve the request.
    if (!OtherNodeCouldServeLocked(waiter)) waiter.failed_nodes.clear();
    return;
  }
  const bool late = now > waiter.deadline;
  std::string message = late ? "timed out after queue.timeout; last attempt: " + waiter.last_failure
                             : waiter.last_failure + " (gave up after queue.retry-limit = " +
                                   std::to_string(settings_.queue.retry_limit) + " retries)";
  if (late) RecordOutcomeLocked(waiter, metrics::Outcome::kTimeout, message);
  FailWaiterLocked(waiter, {late ? ErrorCode::kTimeout : ErrorCode::kSessionNotCreated, message},
                   effects);
  RemoveWaiterLocked(waiter.id);
}

bool Grid::OtherNodeCouldServeLocked(const Waiter& waiter) const {
  const matching::LabelKey* restriction =
      waiter.restriction.has_value() ? &*waiter.restriction : nullptr;
  for (const auto& [id, candidate] : nodes_.nodes()) {
    if (candidate->availability != Availability::kUp || waiter.failed_nodes.count(id) > 0) {
      continue;
    }
    for (const Slot& s : candidate->slots) {
      if (matcher_.Match(waiter.spec, restriction, s.stereotype)) return true;
    }
  }
  return false;
}

Effects Grid::OnDisconnect(uint64_t connection_id) {
  MutexLock lock(mu_);
  Effects effects;
  auto c = waiter_by_connection_.find(connection_id);
  if (c == waiter_by_connection_.end()) return effects;
  RequestId id = c->second;
  waiter_by_connection_.erase(c);
  auto w = waiters_.find(id);
  if (w == waiters_.end()) return effects;
  w->second->has_responder = false;
  if (CancelWaiterLocked(id, "the client disconnected while waiting")) PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

bool Grid::CancelWaiterLocked(RequestId id, std::string_view why) {
  auto w = waiters_.find(id);
  if (w == waiters_.end()) return false;
  Waiter& waiter = *w->second;
  RecordOutcomeLocked(waiter, metrics::Outcome::kCancelled, why);
  if (waiter.creating) {
    waiter.abandoned = true;  // the creation result deletes the session and frees the slot
    return false;
  }
  queue_.Cancel(id);
  RemoveWaiterLocked(id);
  return true;
}

Effects Grid::OnReplyUndelivered(const SessionId& session) {
  MutexLock lock(mu_);
  Effects effects;
  EndSessionLocked(session, &effects, /*delete_on_node=*/true, "undelivered");
  effects.Append(DispatchLocked());
  PublishLocked();
  FlushEventsLocked(&effects);
  return effects;
}

}  // namespace gridhub::hub
