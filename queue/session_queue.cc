#include "queue/session_queue.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace gridhub::queue {

std::string_view RefusalName(Refusal reason) {
  switch (reason) {
    case Refusal::kQueueFull:
      return "queue_full";
    case Refusal::kRunLimit:
      return "run_limit";
    case Refusal::kUnsatisfiable:
      return "unsatisfiable";
    case Refusal::kNoWait:
      return "no_wait";
  }
  return "unknown";
}

SessionQueue::SessionQueue(const Clock& clock, QueueOptions options)
    : clock_(clock), options_(std::move(options)), created_at_(clock.Now()) {
  for (const auto& [name, cap] : options_.concurrency_caps) LabelFor(name);
}

SessionQueue::~SessionQueue() = default;

SessionQueue::Label& SessionQueue::LabelFor(const std::string& name) {
  auto it = labels_.find(name);
  if (it == labels_.end()) {
    it = labels_.emplace(name, Label{}).first;
    it->second.name = it->first;
    it->second.cap = CapFromOptions(name);
    label_list_.push_back(&it->second);
  }
  return it->second;
}

void SessionQueue::PruneIfIdle(Label& label) {
  if (label.requests > 0 || label.active > 0 || label.waiting > 0) return;
  auto it = labels_.find(label.name);
  if (it == labels_.end() || options_.concurrency_caps.count(it->first) > 0) return;
  label_list_.erase(std::find(label_list_.begin(), label_list_.end(), &label));
  // The slot indexes hold label pointers and positions in label_list_: rebuilt on demand.
  slot_index_.clear();
  labels_.erase(it);
}

void SessionQueue::EraseRequest(std::unordered_map<RequestId, Request>::iterator it) {
  Label& label = *it->second.label;
  --label.requests;
  requests_.erase(it);
  PruneIfIdle(label);
}

int SessionQueue::ConcurrencyCap(std::string_view label) const {
  auto it = labels_.find(label);
  return it != labels_.end() ? it->second.cap : CapFromOptions(label);
}

int SessionQueue::CapFromOptions(std::string_view label) const {
  auto it = options_.concurrency_caps.find(std::string(label));
  int cap = it != options_.concurrency_caps.end() ? it->second : options_.concurrency_default;
  return cap > 0 ? cap : 0;
}

bool SessionQueue::LabelAtCap(const Label& label) const {
  return label.cap > 0 && label.active >= static_cast<size_t>(label.cap);
}

bool SessionQueue::AtCap(std::string_view label) const {
  auto it = labels_.find(label);
  if (it == labels_.end()) return false;
  return LabelAtCap(it->second);
}

std::optional<Refusal> SessionQueue::Admission(const EnqueueRequest& request,
                                               const Label& label) const {
  // Before the grace ends nodes may still be registering, so "nobody could serve it" is not
  // yet known to be permanent.
  if (!request.satisfiable && options_.reject_unsatisfiable &&
      clock_.Now() - created_at_ >= options_.registration_grace) {
    return Refusal::kUnsatisfiable;
  }
  if (request.no_wait && (!request.servable_now || LabelAtCap(label))) return Refusal::kNoWait;
  if (label.waiting >= options_.max_per_label) return Refusal::kQueueFull;
  if (!request.run_id.empty()) {
    auto it = run_waiters_.find(request.run_id);
    const size_t run_waiting = it == run_waiters_.end() ? 0 : it->second;
    if (run_waiting >= options_.max_per_run) return Refusal::kRunLimit;
  }
  return std::nullopt;
}

std::string SessionQueue::RefusalMessage(Refusal reason, const EnqueueRequest& request) const {
  switch (reason) {
    case Refusal::kQueueFull:
      return "queue full: label '" + request.label + "' already has " +
             std::to_string(options_.max_per_label) + " waiters (queue.max-per-label)";
    case Refusal::kRunLimit:
      return "run limit: run '" + request.run_id + "' already has " +
             std::to_string(options_.max_per_run) + " waiters (queue.max-per-run)";
    case Refusal::kUnsatisfiable:
      return "unsatisfiable: no registered slot could ever serve label '" + request.label + "'";
    case Refusal::kNoWait: {
      std::string message = "no wait: no free slot can serve label '" + request.label + "' now";
      // Name the cap only when it is what refused the request.
      if (AtCap(request.label)) {
        message += " (label at its concurrency cap of " +
                   std::to_string(ConcurrencyCap(request.label)) + ")";
      }
      return message;
    }
  }
  return "refused";
}

std::variant<Enqueued, Refused> SessionQueue::Enqueue(const EnqueueRequest& request) {
  Label& label = LabelFor(request.label);
  if (std::optional<Refusal> reason = Admission(request, label)) {
    ++label.counters.refused[*reason];
    Refused refused{*reason, RefusalMessage(*reason, request)};
    PruneIfIdle(label);  // a refused request leaves nothing behind
    return refused;
  }
  const RequestId id = next_id_++;
  Request& r = requests_[id];
  r.id = id;
  r.label = &label;
  ++label.requests;
  r.run_id = request.run_id;
  r.enqueued_at = clock_.Now();
  r.deadline = r.enqueued_at + options_.timeout;
  LinkWaiter(r, /*at_head=*/false);
  return Enqueued{id, r.deadline};
}

void SessionQueue::LinkWaiter(Request& r, bool at_head) {
  Label& label = *r.label;
  if (at_head) {
    r.prev = nullptr;
    r.next = label.head;
    (label.head ? label.head->prev : label.tail) = &r;
    label.head = &r;
  } else {
    r.next = nullptr;
    r.prev = label.tail;
    (label.tail ? label.tail->next : label.head) = &r;
    label.tail = &r;
  }
  if (label.waiting++ == 0) {
    const auto at = static_cast<std::ptrdiff_t>(ReadyIndexAfter(label.name));
    ready_.insert(ready_.begin() + at, &label);
  }
  waiters_by_deadline_.emplace(r.deadline, r.id);
  if (!r.run_id.empty()) ++run_waiters_[r.run_id];
}

void SessionQueue::UnlinkWaiter(Request& r) {
  Label& label = *r.label;
  (r.prev ? r.prev->next : label.head) = r.next;
  (r.next ? r.next->prev : label.tail) = r.prev;
  r.prev = r.next = nullptr;
  if (--label.waiting == 0) {
    auto it =
        std::lower_bound(ready_.begin(), ready_.end(), label.name,
                         [](const Label* l, std::string_view name) { return l->name < name; });
    assert(it != ready_.end() && *it == &label);
    ready_.erase(it);
  }
  waiters_by_deadline_.erase({r.deadline, r.id});
  if (!r.run_id.empty()) {
    auto it = run_waiters_.find(r.run_id);
    assert(it != run_waiters_.end());
    if (--it->second == 0) run_waiters_.erase(it);
  }
}

size_t SessionQueue::ReadyIndexAfter(std::string_view name) const {
  auto it = std::upper_bound(ready_.begin(), ready_.end(), name,
                             [](std::string_view name, const Label* l) { return name < l->name; });
  return static_cast<size_t>(it - ready_.begin());
}

SessionQueue::Request* SessionQueue::FirstServable(Label& label, std::span<const SlotId> slots,
                                                   const std::vector<int>& left,
                                                   const SlotCompatibility& compat,
                                                   size_t* slot_index) {
  if (label.scan_epoch != dispatch_epoch_) {
    label.scan_epoch = dispatch_epoch_;
    label.scan_from = label.head;
    label.usable.clear();
    for (size_t i = 0; i < slots.size(); ++i) {
      if (left[i] > 0 && compat.LabelCanUse(label.name, slots[i])) label.usable.push_back(i);
    }
    label.exhausted = label.usable.empty();
    if (label.exhausted) return nullptr;
  }
  for (Request* r = label.scan_from; r != nullptr; r = r->next) {
    for (size_t i : label.usable) {
      if (left[i] > 0 && compat.CanServe(r->id, slots[i])) {
        label.scan_from = r;
        *slot_index = i;
        return r;
      }
    }
  }
  // Nobody here can use what is left, and slots only disappear until the call ends.
  label.exhausted = true;
  return nullptr;
}

std::vector<Assignment> SessionQueue::Dispatch(std::span<const SlotId> free_slots,
                                               const SlotCompatibility& compat) {
  const std::vector<int> ones(free_slots.size(), 1);
  return Dispatch(free_slots, ones, compat);
}

std::vector<Assignment> SessionQueue::Dispatch(std::span<const SlotId> free_slots,
                                               std::span<const int> counts,
                                               const SlotCompatibility& compat) {
  assert(counts.size() == free_slots.size());
  std::vector<Assignment> out;
  if (free_slots.empty() || ready_.empty()) return out;
  if (free_slots.size() == 1 && compat.Generation() != 0) {
    for (int k = 0; k < counts[0]; ++k) {
      std::vector<Assignment> one = DispatchOne(free_slots[0], compat);
      if (one.empty()) break;
      out.push_back(std::move(one.front()));
    }
    return out;
  }
  ++dispatch_epoch_;
  std::vector<int> left(counts.begin(), counts.end());
  size_t slots_left = 0;
  for (int& count : left) {
    count = std::max(count, 0);
    if (count > 0) ++slots_left;
  }
  while (slots_left > 0 && !ready_.empty()) {
    // One round: visit each label with waiters once, starting after the cursor, until one of
    // them is granted a slot. A round with no grant means nobody can use what is left.
    const size_t count = ready_.size();
    size_t index = ReadyIndexAfter(cursor_);
    Request* winner = nullptr;
    size_t slot = 0;
    for (size_t k = 0; k < count && winner == nullptr; ++k, ++index) {
      if (index == count) index = 0;
      Label& label = *ready_[index];
      const bool fresh = label.scan_epoch != dispatch_epoch_;
      if (!LabelAtCap(label) && (fresh || !label.exhausted)) {
        winner = FirstServable(label, free_slots, left, compat, &slot);
      }
    }
    if (winner == nullptr) break;
    winner->label->scan_from = winner->next;
    out.push_back(Grant(*winner, free_slots[slot]));
    if (--left[slot] == 0) --slots_left;
  }
  return out;
}

Assignment SessionQueue::Grant(Request& winner, const SlotId& slot) {
  Label& served = *winner.label;
  UnlinkWaiter(winner);
  winner.granted = true;
  ++served.active;  // acquired on grant, so the next grant in this call already sees it
  ++served.counters.granted;
  cursor_ = std::string(served.name);
  return Assignment{winner.id, slot, cursor_, clock_.Now() - winner.enqueued_at};
}

SessionQueue::SlotIndex& SessionQueue::SlotIndexFor(const SlotId& slot,
                                                    const SlotCompatibility& compat) {
  if (compat.Generation() != slot_index_generation_) {
    slot_index_.clear();
    slot_index_generation_ = compat.Generation();
  }
  SlotIndex& index = slot_index_[slot];
  for (; index.labels_asked < label_list_.size(); ++index.labels_asked) {
    Label* label = label_list_[index.labels_asked];
    if (!compat.LabelCanUse(label->name, slot)) continue;
    auto at =
        std::upper_bound(index.usable.begin(), index.usable.end(), label->name,
                         [](std::string_view name, const Label* l) { return name < l->name; });
    index.usable.insert(at, label);
  }
  return index;
}

// The one-slot case with remembered LabelCanUse() answers: the same round as Dispatch(), but
// walking only the labels that can use this slot. Labels it skips could not have won anyway.
std::vector<Assignment> SessionQueue::DispatchOne(const SlotId& slot,
                                                  const SlotCompatibility& compat) {
  const std::vector<Label*>& usable = SlotIndexFor(slot, compat).usable;
  const size_t count = usable.size();
  auto after =
      std::upper_bound(usable.begin(), usable.end(), std::string_view(cursor_),
                       [](std::string_view name, const Label* l) { return name < l->name; });
  size_t index = static_cast<size_t>(after - usable.begin());
  for (size_t k = 0; k < count; ++k, ++index) {
    if (index == count) index = 0;
    Label& label = *usable[index];
    if (label.waiting == 0 || LabelAtCap(label)) continue;
    for (Request* r = label.head; r != nullptr; r = r->next) {
      if (compat.CanServe(r->id, slot)) return {Grant(*r, slot)};
    }
  }
  return {};
}

bool SessionQueue::OnSessionCreated(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end() || !it->second.granted) return false;
  EraseRequest(it);
  return true;
}

bool SessionQueue::OnCreateFailed(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end() || !it->second.granted) return false;
  Request& r = it->second;
  Label& label = *r.label;
  if (label.active > 0) --label.active;
  ++r.failures;
  if (r.failures > options_.retry_limit || clock_.Now() >= r.deadline) {
    EraseRequest(it);
    return false;
  }
  // Back to the head of its label: it already waited its turn. It was admitted once, so the
  // backlog limits are not checked again.
  r.granted = false;
  LinkWaiter(r, /*at_head=*/true);
  return true;
}

bool SessionQueue::OnGrantCancelled(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end() || !it->second.granted) return false;
  Label& label = *it->second.label;
  if (label.active > 0) --label.active;
  ++label.counters.cancelled;
  EraseRequest(it);
  return true;
}

void SessionQueue::OnSessionEnded(const std::string& label) {
  auto it = labels_.find(label);
  if (it == labels_.end()) return;
  if (it->second.active > 0) --it->second.active;
  PruneIfIdle(it->second);
}

void SessionQueue::OnSessionAdopted(const std::string& label) {
  // The session already runs, so it is counted even at or past the cap: refusing to count it
  // would let the label exceed its cap by as many sessions again.
  ++LabelFor(label).active;
}

bool SessionQueue::Cancel(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second.granted) return false;
  Request& r = it->second;
  ++r.label->counters.cancelled;
  UnlinkWaiter(r);
  EraseRequest(it);
  return true;
}

std::vector<RequestId> SessionQueue::Clear() {
  std::vector<RequestId> ids;
  ids.reserve(size());
  for (const WaiterInfo& w : Snapshot()) ids.push_back(w.id);
  for (RequestId id : ids) Cancel(id);
  return ids;
}

std::vector<RequestId> SessionQueue::ExpireDue() {
  std::vector<RequestId> expired;
  const SteadyTime now = clock_.Now();
  while (!waiters_by_deadline_.empty() && waiters_by_deadline_.begin()->first <= now) {
    const RequestId id = waiters_by_deadline_.begin()->second;
    auto it = requests_.find(id);
    Request& r = it->second;
    ++r.label->counters.timed_out;
    UnlinkWaiter(r);  // also erases the index entry
    EraseRequest(it);
    expired.push_back(id);
  }
  return expired;
}

std::optional<SteadyTime> SessionQueue::NextDeadline() const {
  if (waiters_by_deadline_.empty()) return std::nullopt;
  return waiters_by_deadline_.begin()->first;
}

std::optional<size_t> SessionQueue::Position(RequestId id) const {
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second.granted) return std::nullopt;
  size_t position = 1;
  for (const Request* r = it->second.prev; r != nullptr; r = r->prev) ++position;
  return position;
}

std::vector<WaiterInfo> SessionQueue::Snapshot() const {
  std::vector<WaiterInfo> out;
  out.reserve(size());
  if (ready_.empty()) return out;
  // Round-robin order: the labels after the cursor first, then those up to and including it.
  const size_t start = ReadyIndexAfter(cursor_);
  auto emit = [&out](const Label& label) {
    size_t position = 1;
    for (const Request* r = label.head; r != nullptr; r = r->next) {
      out.push_back(WaiterInfo{r->id, std::string(label.name), r->run_id, position++,
                               r->enqueued_at, r->deadline});
    }
  };
  for (size_t k = 0; k < ready_.size(); ++k) emit(*ready_[(start + k) % ready_.size()]);
  return out;
}

void SessionQueue::ForEachWaiter(
    const std::function<void(RequestId, std::string_view, size_t)>& visit) const {
  if (ready_.empty()) return;
  const size_t start = ReadyIndexAfter(cursor_);
  for (size_t k = 0; k < ready_.size(); ++k) {
    const Label& label = *ready_[(start + k) % ready_.size()];
    size_t position = 1;
    for (const Request* r = label.head; r != nullptr; r = r->next) {
      visit(r->id, label.name, position++);
    }
  }
}

void SessionQueue::Reconfigure(const QueueOptions& options) {
  options_ = options;
  for (auto& [name, label] : labels_) label.cap = CapFromOptions(name);
  // Caps declared in the configuration are labels metrics must know from the start.
  for (const auto& [name, cap] : options_.concurrency_caps) LabelFor(name);
  // A label whose cap was removed is kept only while something refers to it.
  std::vector<Label*> all;
  for (auto& [name, label] : labels_) all.push_back(&label);
  for (Label* label : all) PruneIfIdle(*label);
}

std::map<std::string, LabelCounters> SessionQueue::Counters() const {
  std::map<std::string, LabelCounters> out;
  for (const auto& [name, label] : labels_) {
    LabelCounters c = label.counters;
    c.waiting = label.waiting;
    c.active = label.active;
    out.emplace(name, std::move(c));
  }
  return out;
}

}  // namespace gridhub::queue
