#include "hub/grid.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <unordered_set>

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

namespace {

queue::QueueOptions ToQueueOptions(const config::QueueSettings& q) {
  queue::QueueOptions options;
  options.timeout = q.timeout;
  options.max_per_label = q.max_per_label;
  options.max_per_run = q.max_per_run;
  options.concurrency_default = q.concurrency_default;
  options.concurrency_caps = q.concurrency_caps;
  options.reject_unsatisfiable = q.reject_unsatisfiable;
  options.registration_grace = q.registration_grace;
  options.retry_limit = q.retry_limit;
  return options;
}

TicketBook::Limits TicketLimits(const config::QueueSettings& q) {
  return {.abandon_after = q.abandon_after, .ready_ttl = q.ready_ttl};
}

NodeRegistry::Timing NodeTiming(const config::HubSettings& h) {
  return {.node_timeout = h.node_timeout, .health_check_period = h.health_check_period};
}

matching::LabelMatchOptions ToMatchOptions(const config::MatchingSettings& m) {
  return {.prefix_expand = m.prefix_expand,
          .wildcards = m.wildcards,
          .trailing_fallback = m.trailing_fallback};
}

std::string Seconds(Duration d) { return config::FormatDuration(d); }

// Unix seconds for a steady time point, for display only.
double WallSeconds(SteadyTime t, SteadyTime now) {
  auto wall = std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(now - t);
  return std::chrono::duration<double>(wall.time_since_epoch()).count();
}

// How much longer than its request's deadline a node may take to answer POST /session. The
// hub keeps listening so that it learns the id of a late session and can delete it, instead of
// leaving it behind on the node; the client is answered at its deadline regardless.
constexpr auto kCreationGrace = std::chrono::seconds(60);

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

void Effects::Append(Effects other) {
  for (auto& r : other.replies) replies.push_back(std::move(r));
  for (auto& c : other.creates) creates.push_back(std::move(c));
  for (auto& d : other.deletes) deletes.push_back(std::move(d));
  for (auto& p : other.probes) probes.push_back(std::move(p));
  reschedule = reschedule || other.reschedule;
}

struct Grid::Waiter {
  RequestId id = 0;
  matching::NewSessionSpec spec;
  std::optional<matching::LabelKey> restriction;
  std::string label;
  std::string run_id;
  bool has_responder = false;  // a held client request (W3C) waits for `target`
  ReplyTarget target;
  std::string ticket_id;
  uint64_t connection_id = 0;
  bool creating = false;
  bool abandoned = false;  // client gone while its session was being created
  std::string node_id;     // while creating
  std::string slot_id;
  std::set<std::string> failed_nodes;
  std::string last_failure;
  SteadyTime enqueued_at;
  SteadyTime deadline;
  std::shared_ptr<const std::string> caps_string;  // for GraphQL's sessionQueueRequests
  std::string metric_label;                        // fixed at arrival ("other" if undeclared)
  bool wait_observed = false;                      // gridhub_queue_wait_seconds, first grant
  bool outcome_recorded = false;
};

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
  waiter.creating = true;
  queue_view_dirty_ = true;
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
       .timeout = std::max(remaining, std::chrono::milliseconds(1000)) + kCreationGrace});
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
    metrics_.RecordOutcome(metric_label, metrics::Outcome::kFailed, Duration::zero());
    return Error{ErrorCode::kSessionNotCreated, "the hub is shutting down"};
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
    Error error{ErrorCode::kQueueFull, refused->message};
    switch (refused->reason) {
      case queue::Refusal::kQueueFull:
        if (waiter->label == kUndeclaredLabel) {
          error.message = "queue full: " + std::to_string(settings_.queue.max_per_label) +
                          " requests whose label no slot or cap declares (this one: '" +
                          waiter->spec.label.str() +
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
                 refused->message + ": " + matcher_.ExplainNoMatch(waiter->spec, pool)};
        break;
    }
    metrics_.RecordOutcome(metric_label, metrics::OutcomeFor(error.code), Duration::zero());
    return error;
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
  waiters_.emplace(id, std::move(waiter));
  queue_view_dirty_ = true;
  return id;
}

Effects Grid::SubmitNewSession(matching::NewSessionSpec spec, std::string run_id, bool no_wait,
                               ReplyTarget target) {
  MutexLock lock(mu_);
  Effects effects;
  SteadyTime deadline;
  Result<RequestId> admitted = AdmitLocked(std::move(spec), std::move(run_id), no_wait, &deadline);
  if (!admitted.ok()) {
    effects.replies.push_back({std::move(target), admitted.error(), SessionId()});
    return effects;
  }
  effects.reschedule = true;  // a new deadline
  Waiter& waiter = *waiters_[*admitted];
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
  return effects;
}

void Grid::DeliverFailureLocked(Waiter& waiter, const Error& error, Effects* effects) {
  if (waiter.has_responder) {
    effects->replies.push_back({std::move(waiter.target), error, SessionId()});
    waiter.has_responder = false;
    return;
  }
  tickets_.Fail(waiter.ticket_id, error);
}

void Grid::DeliverSessionLocked(Waiter& waiter, const SessionId& session, std::string body,
                                Effects* effects) {
  if (waiter.has_responder) {
    effects->replies.push_back({std::move(waiter.target), std::move(body), session});
    waiter.has_responder = false;
    return;
  }
  tickets_.Finish(waiter.ticket_id, session, std::move(body));
}

void Grid::FailWaiterLocked(Waiter& waiter, const Error& error, Effects* effects) {
  RecordOutcomeLocked(waiter, metrics::OutcomeFor(error.code));
  if (error.code == ErrorCode::kTimeout && !waiter.has_responder && !waiter.ticket_id.empty()) {
    // An expired ticket is simply gone (DESIGN §4: 404 on GET and take); only a request that
    // failed otherwise (node failures, unsatisfiable, cleared) keeps its error for one take.
    tickets_.Erase(waiter.ticket_id);
    waiter.ticket_id.clear();
    return;
  }
  DeliverFailureLocked(waiter, error, effects);
}

void Grid::RecordOutcomeLocked(Waiter& waiter, metrics::Outcome outcome) {
  if (waiter.outcome_recorded) return;
  waiter.outcome_recorded = true;
  metrics_.RecordOutcome(waiter.metric_label, outcome, clock_.Now() - waiter.enqueued_at);
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
  waiters_.erase(it);
  queue_view_dirty_ = true;
}

Effects Grid::OnCreateResult(RequestId request, const NodeId& node_id, const std::string& node_uri,
                             const SlotId& slot_id, CreateAnswer answer) {
  MutexLock lock(mu_);
  Effects effects;
  effects.reschedule = true;  // a retried waiter's deadline, or a ticket's ready-ttl
  nodes_.ReleaseReservation(node_id, slot_id);
  const SteadyTime now = clock_.Now();
  auto w = waiters_.find(request);
  Waiter* waiter = w == waiters_.end() ? nullptr : w->second.get();
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
                       .started = now};
  if (body.contains("value") && body["value"].is_object()) {
    json& value = body["value"];
    if (!value.contains("capabilities") || !value["capabilities"].is_object()) {
      value["capabilities"] = json::object();
    }
    value["capabilities"]["se:gridhubNode"] = node.id;
    session.capabilities = value["capabilities"];
  }
  slot.sessions.push_back(session.id);
  sessions_.Add(std::move(session));
  DeliverSessionLocked(waiter, *answer.session_id, Dump(body), effects);
  RemoveWaiterLocked(waiter.id);
}

void Grid::RetryOrFailLocked(Waiter& waiter, const NodeId& failed_node, SteadyTime now,
                             Effects* effects) {
  // Back to the head of its label, preferably on another node.
  waiter.creating = false;
  queue_view_dirty_ = true;
  waiter.failed_nodes.insert(failed_node.str());
  if (queue_.OnCreateFailed(waiter.id)) {
    // Waiting again: the pool may have changed while its creation was in flight.
    if (waiter.spec.explicit_label) ResolveRestrictionLocked(waiter);
    // Only avoid the failed nodes while some other node could serve the request.
    if (!OtherNodeCouldServeLocked(waiter)) waiter.failed_nodes.clear();
    return;
  }
  const bool late = now > waiter.deadline;
  if (late) RecordOutcomeLocked(waiter, metrics::Outcome::kTimeout);
  std::string message = late ? "timed out after queue.timeout; last attempt: " + waiter.last_failure
                             : waiter.last_failure + " (gave up after queue.retry-limit = " +
                                   std::to_string(settings_.queue.retry_limit) + " retries)";
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
  if (CancelWaiterLocked(id)) PublishLocked();
  return effects;
}

bool Grid::CancelWaiterLocked(RequestId id) {
  auto w = waiters_.find(id);
  if (w == waiters_.end()) return false;
  Waiter& waiter = *w->second;
  RecordOutcomeLocked(waiter, metrics::Outcome::kCancelled);
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
  EndSessionLocked(session, &effects, /*delete_on_node=*/true);
  effects.Append(DispatchLocked());
  PublishLocked();
  return effects;
}

// ---------------------------------------------------------------------------------------------
// Sessions

std::optional<SessionRoute> Grid::FindSession(const SessionId& id) {
  MutexLock lock(mu_);
  const SessionEntry* session = sessions_.Find(id);
  if (session == nullptr) return std::nullopt;
  const Node* node = nodes_.Find(session->node);
  if (node == nullptr) return std::nullopt;
  return SessionRoute{session->node, node->uri};
}

Effects Grid::EndSession(const SessionId& session) {
  MutexLock lock(mu_);
  Effects effects;
  EndSessionLocked(session, &effects, /*delete_on_node=*/false);
  effects.Append(DispatchLocked());
  PublishLocked();
  return effects;
}

void Grid::EndSessionLocked(const SessionId& session_id, Effects* effects, bool delete_on_node) {
  std::optional<SessionEntry> session = sessions_.Remove(session_id);
  if (!session.has_value()) return;
  queue_.OnSessionEnded(session->label);
  if (Node* found = nodes_.Find(session->node)) {
    Node& node = *found;
    if (Slot* slot = node.FindSlot(session->slot)) std::erase(slot->sessions, session->id);
    if (delete_on_node) effects->deletes.push_back({node.uri, session_id});
    if (node.Active() == 0) node.idle_since = clock_.Now();
  }
  RemoveNodeIfDrainedLocked(session->node);
}

void Grid::DropNodeSessionsLocked(Node& node, Effects* effects, bool delete_on_node) {
  std::vector<SessionId> ids;
  for (const Slot& slot : node.slots) {
    ids.insert(ids.end(), slot.sessions.begin(), slot.sessions.end());
  }
  for (const SessionId& id : ids) {
    std::optional<SessionEntry> session = sessions_.Remove(id);
    if (!session.has_value()) continue;
    queue_.OnSessionEnded(session->label);
    if (delete_on_node) effects->deletes.push_back({node.uri, id});
  }
  for (Slot& slot : node.slots) slot.sessions.clear();
}

void Grid::RemoveNodeIfDrainedLocked(const NodeId& node_id) {
  if (nodes_.RemoveIfDrained(node_id)) {
    ++compat_generation_;  // its unit ids may come back with other stereotypes
  }
}

// ---------------------------------------------------------------------------------------------
// Nodes

namespace {

// See ReconcileSessionsLocked: a session younger than this is never ended by a heartbeat.
constexpr auto kHeartbeatGrace = std::chrono::seconds(10);

}  // namespace

void Grid::SetSelfAddress(SelfAddress self) {
  MutexLock lock(mu_);
  self_ = std::move(self);
}

std::unique_ptr<Grid::Node> Grid::NodeFrom(NodeRegistration& registration) {
  auto node = std::make_unique<Node>();
  node->id = registration.id.str();
  node->uri = std::move(registration.uri);
  node->parsed_uri = std::move(registration.parsed_uri);
  node->probe = registration.health_check == HealthCheck::kStatus;
  node->slots.reserve(registration.slots.size());
  for (SlotRegistration& s : registration.slots) {
    Slot& slot = node->slots.emplace_back(s.id.str(), std::move(s.stereotype), s.max_sessions);
    slot.unit_id = node->id + '\x1f' + slot.id;
  }
  if (registration.draining) {
    node->drain_requested = true;
    node->availability = Availability::kDraining;
  }
  return node;
}

Result<json> Grid::RegisterNode(NodeRegistration registration, Effects* effects) {
  std::unique_ptr<Node> node = NodeFrom(registration);

  MutexLock lock(mu_);
  if (shutting_down_) return Error{ErrorCode::kUnavailable, "the hub is shutting down"};
  if (IsOwnAddress(node->parsed_uri, self_)) {
    return Error{ErrorCode::kInvalidArgument,
                 "uri " + node->uri + " is this hub's own address; a node must be another server"};
  }
  // Taking over a live node's id from elsewhere would route its sessions' commands to the
  // new URI. Its own agent restarting (same uri) or a hub restart are fine.
  if (Status replace = nodes_.CheckReplace(*node); !replace.ok()) return replace.error();
  const SteadyTime now = clock_.Now();
  const NodeId node_id(node->id);
  Node& added = *node;
  // Re-registration (agent or hub restarted): sessions whose slot is gone end.
  for (const SessionId& dropped : nodes_.Put(std::move(node), now)) {
    if (std::optional<SessionEntry> s = sessions_.Remove(dropped)) queue_.OnSessionEnded(s->label);
  }
  AdoptSessionsLocked(added, registration.sessions, now);
  PoolChangedLocked();
  json result = NodeRegistry::NodeJson(added, now);
  effects->reschedule = true;  // its node-timeout or first probe
  effects->Append(DispatchLocked());
  RemoveNodeIfDrainedLocked(node_id);
  PublishLocked();
  return result;
}

void Grid::AdoptSessionsLocked(Node& node, const std::vector<AdoptedSession>& adopted,
                               SteadyTime now) {
  // Sessions the agent reports that the hub does not know (the hub restarted): adopt them. A
  // session id live anywhere already keeps its route.
  for (const AdoptedSession& entry : adopted) {
    if (sessions_.Contains(entry.id)) continue;
    Slot* slot = entry.slot.has_value() ? node.FindSlot(*entry.slot) : nullptr;
    if (slot == nullptr || slot->Free() == 0) {
      slot = nullptr;
      for (Slot& candidate : node.slots) {
        if (candidate.Free() > 0) {
          slot = &candidate;
          break;
        }
      }
    }
    if (slot == nullptr) continue;
    // The request label it was granted under is gone with the old hub (gridhub:* keys never
    // reach the node), so it counts under its slot's label: the label a request by browser
    // name has on an unlabelled slot, and the exact label of a labelled one.
    SessionEntry session{.id = entry.id,
                         .node = NodeId(node.id),
                         .slot = SlotId(slot->id),
                         .label = slot->stereotype.label().str(),
                         .capabilities = entry.capabilities,
                         .started = now};
    slot->sessions.push_back(session.id);
    queue_.OnSessionAdopted(session.label);  // released by EndSession like any other
    sessions_.Add(std::move(session));
  }
}

std::optional<HeartbeatAnswer> Grid::Heartbeat(const NodeId& id, const HeartbeatReport& report,
                                               Effects* effects) {
  MutexLock lock(mu_);
  Node* found = nodes_.Find(id);
  if (found == nullptr) {
    if (nodes_.DepartedDrained(id))
      return HeartbeatAnswer{Availability::kDraining, UnknownSessionsLocked(id, report)};
    return std::nullopt;
  }
  Node& node = *found;
  const SteadyTime now = clock_.Now();
  NodeRegistry::Beat beat = NodeRegistry::Heartbeat(node, now);
  bool changed = false;
  if (beat.came_back) {
    if (node.drain_requested) PoolChangedLocked();  // a DRAINING node leaves the pool
    effects->reschedule = true;
    changed = true;
  } else if (report.sessions.has_value() && beat.previous.has_value()) {
    changed = ReconcileSessionsLocked(node, *report.sessions, *beat.previous, now);
  }
  found = nodes_.Find(id);  // ending its last session may have removed it
  if (report.draining && found != nullptr && !found->drain_requested) {
    DrainLocked(id);  // the agent drains on its own (signal, drain-after-sessions)
    changed = true;
  }
  if (changed) {
    effects->Append(DispatchLocked());
    PublishLocked();
  }
  found = nodes_.Find(id);  // ending its last session may have removed it
  return HeartbeatAnswer{found == nullptr ? Availability::kDraining : found->availability,
                         UnknownSessionsLocked(id, report)};
}

std::vector<SessionId> Grid::UnknownSessionsLocked(const NodeId& node,
                                                   const HeartbeatReport& report) const {
  // The hub changes nothing for these: a creation answer may still be on its way here.
  if (!report.sessions.has_value()) return {};
  return sessions_.NotRoutedTo(node, *report.sessions);
}

bool Grid::ReconcileSessionsLocked(Node& node, const std::vector<SessionId>& listed,
                                   SteadyTime previous_heartbeat, SteadyTime now) {
  // A heartbeat is composed before it is sent, so it may lack a session the node created just
  // before the hub recorded it. The node agent sends one heartbeat at a time, the next only
  // after the previous was answered: this heartbeat was composed after the previous one was
  // received here. A session recorded before that instant existed on the node when this list
  // was made, so if it is missing the node no longer has it; a younger one is left for the
  // next heartbeat. kHeartbeatGrace guards against a heartbeat delivered late and out of
  // order (composed before a session existed, received after a newer heartbeat): a session
  // must also have existed that long. No DELETE is sent: the node says it has no such session.
  std::unordered_set<std::string_view> present;
  present.reserve(listed.size());
  for (const SessionId& id : listed) present.insert(id.str());
  std::vector<SessionId> gone;
  for (const SessionId& id : sessions_.OnNode(NodeId(node.id))) {
    const SessionEntry& s = *sessions_.Find(id);
    if (present.count(id.str()) > 0) continue;
    if (s.started < previous_heartbeat && now - s.started >= kHeartbeatGrace) gone.push_back(id);
  }
  for (const SessionId& id : gone) EndSessionLocked(id, nullptr, /*delete_on_node=*/false);
  return !gone.empty();
}

bool Grid::Deregister(const NodeId& node_id, Effects* effects) {
  MutexLock lock(mu_);
  std::unique_ptr<Node> node = nodes_.Remove(node_id);
  if (node == nullptr) return false;
  DropNodeSessionsLocked(*node, effects, /*delete_on_node=*/false);
  PoolChangedLocked();  // its labels may leave the pool: trailing fallback may now apply
  effects->Append(DispatchLocked());  // caps of the dropped sessions' labels were released
  PublishLocked();
  return true;
}

bool Grid::Drain(const NodeId& node_id, Effects* effects) {
  MutexLock lock(mu_);
  if (nodes_.Find(node_id) == nullptr) return false;
  DrainLocked(node_id);
  effects->Append(DispatchLocked());
  PublishLocked();
  return true;
}

void Grid::DrainLocked(const NodeId& node_id) {
  NodeRegistry::Drain(*nodes_.Find(node_id));
  RemoveNodeIfDrainedLocked(node_id);
  // Its slots left the pool: a waiter only it could serve may now fall back to a parent label.
  PoolChangedLocked();
}

Effects Grid::OnProbeResult(const NodeId& node_id, bool answered) {
  MutexLock lock(mu_);
  Effects effects;
  if (nodes_.Find(node_id) == nullptr) return effects;
  effects.reschedule = true;  // its next probe
  if (nodes_.OnProbeResult(node_id, answered, clock_.Now())) {
    effects.Append(DispatchLocked());
    PublishLocked();
  }
  return effects;
}

json Grid::NodesJson() {
  MutexLock lock(mu_);
  return nodes_.NodesJson(clock_.Now());
}

// ---------------------------------------------------------------------------------------------
// Tickets

Result<json> Grid::CreateTicket(matching::NewSessionSpec spec, std::string run_id,
                                Effects* effects) {
  MutexLock lock(mu_);
  SteadyTime deadline;
  bool no_wait = spec.no_wait;
  Result<RequestId> admitted = AdmitLocked(std::move(spec), std::move(run_id), no_wait, &deadline);
  if (!admitted.ok()) return admitted.error();
  Waiter& waiter = *waiters_[*admitted];
  const TicketBook::Ticket& ticket =
      tickets_.Open(waiter.id, waiter.label, waiter.enqueued_at, waiter.deadline);
  waiter.ticket_id = ticket.id;
  json result = {{"id", ticket.id},
                 {"token", ticket.token},
                 {"status", "waiting"},
                 {"position", queue_.Position(waiter.id).value_or(0)},
                 {"label", ticket.label}};
  effects->reschedule = true;
  effects->Append(DispatchLocked());
  PublishLocked();
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
    CancelWaiterLocked(ticket.request);
  } else if (ticket.state == TicketState::kReady) {
    EndSessionLocked(ticket.session, effects, /*delete_on_node=*/true);
    effects->Append(DispatchLocked());
  }
  tickets_.Erase(id);
  PublishLocked();
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
    RecordOutcomeLocked(*w->second, metrics::Outcome::kCancelled);
    FailWaiterLocked(*w->second,
                     {ErrorCode::kSessionNotCreated, "the queue was cleared by an administrator"},
                     effects);
    RemoveWaiterLocked(id);
  }
  PublishLocked();
  return cleared.size();
}

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
    DropNodeSessionsLocked(*down, &effects, /*delete_on_node=*/true);
    changed = true;
  }
  for (ProbeJob& probe : nodes_.DueProbes(now)) effects.probes.push_back(std::move(probe));
  changed = ExpireTicketsLocked(&effects) || changed;
  if (changed) {
    effects.Append(DispatchLocked());
    PublishLocked();
  }
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
    if (ticket.state == TicketState::kWaiting) {
      CancelWaiterLocked(ticket.request);
      continue;
    }
    if (ticket.state == TicketState::kReady) {
      EndSessionLocked(ticket.session, effects, /*delete_on_node=*/true);
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
  return effects;
}

// ---------------------------------------------------------------------------------------------
// Snapshot

void Grid::PublishLocked() {
  if (metrics_generation_ != compat_generation_) {  // nodes or caps changed
    SyncMetricLabelsLocked();
    metrics_generation_ = compat_generation_;
  }
  auto snapshot = std::make_shared<GridSnapshot>();
  const SteadyTime now = clock_.Now();
  snapshot->version = ++version_;
  snapshot->queue_size = queue_.size();
  if (queue_view_dirty_ || queue_view_ == nullptr) {
    auto view = std::make_shared<GridSnapshot::QueueView>();
    view->requests.reserve(waiters_.size());
    for (const auto& [id, waiter] : waiters_) {
      if (!waiter->creating && waiter->caps_string) {
        view->requests.push_back(waiter->caps_string);
        view->waiting_by_label[waiter->label]++;
      }
    }
    queue_view_ = std::move(view);
    queue_view_dirty_ = false;
  }
  snapshot->queue = queue_view_;
  snapshot->concurrency_caps = settings_.queue.concurrency_caps;
  snapshot->concurrency_default = settings_.queue.concurrency_default;
  snapshot->nodes.reserve(nodes_.nodes().size());
  for (const auto& [id, node] : nodes_.nodes()) {
    snapshot->nodes.push_back(NodeViewLocked(*node, now));
  }
  MutexLock lock(snapshot_mu_);
  snapshot_ = std::move(snapshot);
}

// The node's published view, rebuilt only if it no longer shows the node: a node's id and
// slots never change (re-registration makes a new Node) and a session never changes once
// started, so comparing the URI, the availability and each slot's session ids is enough.
std::shared_ptr<const GridSnapshot::NodeView> Grid::NodeViewLocked(Node& node, SteadyTime now) {
  if (node.view != nullptr && node.view->uri == node.uri &&
      node.view->availability == node.availability) {
    bool same = node.view->slots.size() == node.slots.size();
    for (size_t i = 0; same && i < node.slots.size(); ++i) {
      const std::vector<GridSnapshot::SessionView>& shown = node.view->slots[i].sessions;
      const std::vector<SessionId>& live = node.slots[i].sessions;
      same = shown.size() == live.size();
      for (size_t k = 0; same && k < live.size(); ++k) same = shown[k].id == live[k].str();
    }
    if (same) return node.view;
  }
  auto view = std::make_shared<GridSnapshot::NodeView>();
  view->id = node.id;
  view->uri = node.uri;
  view->availability = node.availability;
  for (const Slot& slot : node.slots) {
    GridSnapshot::SlotView slot_view{
        slot.id, slot.stereotype.label().str(), slot.stereotype.json(), slot.max_sessions, {}};
    for (const SessionId& session_id : slot.sessions) {
      const SessionEntry* s = sessions_.Find(session_id);
      // Not expected; such an id is not shown, and the view is simply rebuilt next time.
      if (s == nullptr) continue;
      slot_view.sessions.push_back(
          {session_id.str(), s->capabilities, WallSeconds(s->started, now), s->label});
    }
    view->slots.push_back(std::move(slot_view));
  }
  node.view = view;
  return view;
}

std::map<std::string, queue::LabelCounters> Grid::QueueCounters() {
  MutexLock lock(mu_);
  return queue_.Counters();
}

Grid::Footprint Grid::footprint() {
  MutexLock lock(mu_);
  return {.queue_labels = queue_.label_count(),
          .label_uses = label_use_.size(),
          .waiters = waiters_.size(),
          .tickets = tickets_.size(),
          .sessions = sessions_.size(),
          .metric_labels = metrics_.label_count()};
}

std::shared_ptr<const GridSnapshot> Grid::snapshot() const {
  MutexLock lock(snapshot_mu_);
  return snapshot_;
}

}  // namespace gridhub::hub
