#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "common/clock.h"

namespace gridhub::queue {

// Assigned by the queue, increasing from 1, never reused.
using RequestId = uint64_t;
// A slot as the hub names it ("node-1/0"); opaque to the queue.
using SlotId = std::string;

// Limits of DESIGN §3 (the `queue:` section). Labels are canonical label strings as produced by
// the hub's label parser; the queue compares them byte for byte, so the hub must normalise the
// keys of `concurrency_caps` the same way as request labels.
struct QueueOptions {
  Duration timeout = std::chrono::seconds(300);
  size_t max_per_label = 100;
  size_t max_per_run = 5;
  int concurrency_default = 0;                  // 0 (or less) = unlimited
  std::map<std::string, int> concurrency_caps;  // canonical label -> cap; 0 = unlimited
  bool reject_unsatisfiable = true;
  Duration registration_grace = std::chrono::seconds(30);  // counted from the queue's construction
  int retry_limit = 3;
};

// What the hub knows about a new request. The queue never sees capabilities: the hub has
// already matched them and summarises the answers in the two booleans.
struct EnqueueRequest {
  std::string label;          // canonical request label (fairness and caps count by it)
  std::string run_id;         // "" = none (no per-run cap)
  bool no_wait = false;       // fail fast unless it can be served now
  bool satisfiable = true;    // could some registered slot ever serve it (ignoring load)?
  bool servable_now = false;  // is some FREE slot able to serve it right now?
};

enum class Refusal { kQueueFull, kRunLimit, kUnsatisfiable, kNoWait };

// Stable lower-case name of a refusal, as used in metric outcome labels ("queue_full").
std::string_view RefusalName(Refusal reason);

// A typed refusal; `message` names the label or run and the limit, for the client.
struct Refused {
  Refusal reason;
  std::string message;
};

// An admitted request: its id and the instant it times out.
struct Enqueued {
  RequestId id;
  SteadyTime deadline;
};

// A decision of Dispatch(): `request` gets `slot`. `waited` is the time from the request's
// first enqueue to this grant (a retried request keeps its original enqueue time); the hub
// observes it in gridhub_queue_wait_seconds — the queue keeps no histogram of its own.
struct Assignment {
  RequestId request;
  SlotId slot;
  std::string label;
  Duration waited;
};

// One waiter as listed by Snapshot(); `position` is 1-based within its label (1 = next).
struct WaiterInfo {
  RequestId id;
  std::string label;
  std::string run_id;
  size_t position;
  SteadyTime enqueued_at;
  SteadyTime deadline;
};

// Plain per-label numbers for metrics/ (cumulative counters and current gauges).
struct LabelCounters {
  size_t waiting = 0;  // waiters now
  size_t active = 0;   // granted and not yet ended (includes grants still being created)
  uint64_t granted = 0;
  uint64_t timed_out = 0;
  uint64_t cancelled = 0;
  std::map<Refusal, uint64_t> refused;
};

// The hub's answer to "can waiter `request` use free slot `slot`?" — it matches the request's
// capabilities against the slot's stereotype and label. Must not call back into the queue.
class SlotCompatibility {
 public:
  virtual ~SlotCompatibility() = default;
  virtual bool CanServe(RequestId request, const SlotId& slot) const = 0;

  // Optional pruning, asked once per label and slot in a Dispatch() call: false promises that
  // CanServe() is false for every waiter of `label` on `slot` (e.g. the slot's label does not
  // match the request label), so the queue skips that label's waiters without asking each.
  // This keeps a slot only one label can use from costing a scan of every other label's
  // waiters. The default makes no promise.
  virtual bool LabelCanUse(std::string_view label, const SlotId& slot) const { return true; }

  // Optional: a non-zero number that changes whenever some LabelCanUse() answer may change
  // (a node registered or replaced, matching toggles changed). While it stays the same, the
  // queue remembers per slot which labels can use it, so dispatching one freed slot costs
  // O(log L) plus the labels that can use it, instead of one LabelCanUse() per label with
  // waiters. 0 (the default) means answers may change at any time and are never remembered.
  virtual uint64_t Generation() const { return 0; }
};

// The new-session queue of DESIGN §3: admission limits, fair dispatch (round-robin over labels
// in label order, FCFS within a label), per-label concurrency caps, deadlines, retries.
// A pure decision core: no threads, no I/O, time from the injected clock. Not thread-safe; the
// hub keeps it under its own mutex. See docs/queue.md for the algorithm and costs.
//
//   SessionQueue queue(clock, options);
//   auto admitted = queue.Enqueue({.label = "chrome", .run_id = "run-7"});
//   for (const Assignment& a : queue.Dispatch(free_slots, matcher)) StartCreation(a);
//   queue.OnSessionCreated(id);           // or OnCreateFailed(id): back to the head, or fail
//   queue.OnSessionEnded("chrome");       // frees a unit of the label's concurrency cap
//   queue.OnSessionAdopted("chrome");     // a live session found on a node: takes a unit
//
// Life of a request: waiting -> (Dispatch) granted -> (OnSessionCreated) forgotten, counted
// active until OnSessionEnded(label). A granted request leaves the waiting set and no longer
// counts towards max-per-run or max-per-label.
class SessionQueue {
 public:
  // `clock` must outlive the queue. The registration grace is counted from now.
  SessionQueue(const Clock& clock, QueueOptions options);
  SessionQueue(const SessionQueue&) = delete;
  SessionQueue& operator=(const SessionQueue&) = delete;
  ~SessionQueue();

  // Admits a request as a waiter at the tail of its label, or refuses it. Checks, in order:
  // unsatisfiable (only once the grace has passed), no-wait (refused unless servable_now and
  // the label is under its cap), label backlog full, run backlog full. An admitted no-wait
  // request is an ordinary waiter: the hub dispatches at once and cancels it if not granted.
  std::variant<Enqueued, Refused> Enqueue(const EnqueueRequest& request);

  // Every grant that can be made now with `free_slots` (in the hub's preference order):
  // repeatedly take the next label with waiters after the last one served (label order,
  // wrapping) that is under its cap, grant its first waiter that some remaining slot can serve,
  // giving it the first such slot. Stops when no label can use any remaining slot.
  std::vector<Assignment> Dispatch(std::span<const SlotId> free_slots,
                                   const SlotCompatibility& compat);
  // The same with counted slots: free_slots[i] may be granted up to counts[i] times in this
  // call and keeps its place in the order while it has units left, so a slot offering N
  // sessions costs one entry, not N. REQUIRES: counts.size() == free_slots.size().
  std::vector<Assignment> Dispatch(std::span<const SlotId> free_slots, std::span<const int> counts,
                                   const SlotCompatibility& compat);

  // The granted request's creation succeeded: forget it; its label stays active until
  // OnSessionEnded(label). Returns false if `id` is not a pending grant.
  bool OnSessionCreated(RequestId id);

  // The granted request's creation failed on the node. Releases its active count; if it has
  // failed at most retry_limit times and its deadline has not passed, it goes back to the head
  // of its label (original enqueue time and deadline) and this returns true. Otherwise it is
  // forgotten and this returns false: the hub fails it. Unknown ids return false.
  bool OnCreateFailed(RequestId id);

  // The granted request's client went away before its session was created (or the hub gave
  // up on it for another reason): release its active count and forget it, no retry. Counted
  // as cancelled. Returns false if `id` is not a pending grant.
  bool OnGrantCancelled(RequestId id);

  // A session of `label` ended: releases one unit of the label's active count (never below 0).
  void OnSessionEnded(const std::string& label);

  // A live session the queue never granted — a node re-registering after a hub restart reports
  // it — counts towards `label`'s concurrency cap from now on, exactly like a granted one, until
  // OnSessionEnded(label). It may take the label past its cap (the session exists either way);
  // the label then gets no grant until it is below the cap again. Not counted as granted.
  void OnSessionAdopted(const std::string& label);

  // Removes a waiter (client gone, ticket deleted or abandoned); the others keep their order.
  // Returns false for unknown ids and for granted requests (use OnGrantCancelled for those).
  bool Cancel(RequestId id);

  // Removes every waiter (admin DELETE /queue), counted as cancelled; returns their ids in
  // Snapshot() order. Pending grants are untouched.
  std::vector<RequestId> Clear();

  // Removes and returns the waiters whose deadline is now or earlier, earliest deadline first.
  // Costs O(k log n) for k expired waiters, whatever the number still waiting.
  std::vector<RequestId> ExpireDue();

  // The earliest deadline of any waiter, for the hub's timer; nullopt when nobody waits.
  std::optional<SteadyTime> NextDeadline() const;

  // 1-based position of a waiter within its label; nullopt if it is not waiting.
  std::optional<size_t> Position(RequestId id) const;

  // All waiters in service order: labels in round-robin order starting with the next label to
  // be served, each label's waiters first-come first-served.
  std::vector<WaiterInfo> Snapshot() const;
  // The same walk without copying anything: `visit(id, label, position)` for every waiter, in
  // Snapshot() order. For the hub's snapshot, rebuilt under its lock whenever a waiter comes
  // or goes. `visit` must not change the queue.
  void ForEachWaiter(
      const std::function<void(RequestId, std::string_view label, size_t position)>& visit) const;

  // Applies new limits at once, keeping every waiter, grant and active count. A raised cap
  // lets waiters be granted at the next Dispatch; a lowered cap or max-per-label evicts nothing.
  // A changed timeout applies to requests admitted from now on; existing deadlines stand (they
  // were promised to clients). registration_grace stays counted from construction.
  void Reconfigure(const QueueOptions& options);
  const QueueOptions& options() const { return options_; }

  // The concurrency cap in force for `label` (0 = unlimited) and whether it is reached.
  int ConcurrencyCap(std::string_view label) const;
  bool AtCap(std::string_view label) const;

  // Number of waiters, all labels.
  size_t size() const { return waiters_by_deadline_.size(); }

  // Every label the queue holds state for, with its numbers. A label is kept while it has
  // waiters, pending grants or active sessions, or a configured cap; once it has none of these
  // it is forgotten, its cumulative numbers with it, so the queue's memory follows what is live
  // rather than every label ever asked for (the hub's metrics keep the long-run counts).
  std::map<std::string, LabelCounters> Counters() const;

  // How many labels the queue holds state for now (see Counters()).
  size_t label_count() const { return labels_.size(); }

 private:
  struct Request;

  // Per-label state. Waiters form an intrusive doubly linked list in FCFS order, so removing
  // any waiter and putting a retried one back at the head are O(1).
  struct Label {
    std::string_view name;  // the key in labels_
    Request* head = nullptr;
    Request* tail = nullptr;
    size_t waiting = 0;
    size_t active = 0;
    size_t requests = 0;  // entries of requests_ (waiters and pending grants) pointing here
    int cap = 0;          // concurrency cap in force (0 = unlimited), refreshed by Reconfigure()
    // Scratch for one Dispatch() call (valid while scan_epoch == dispatch_epoch_): waiters
    // before scan_from were found unservable by every remaining slot, which stays true as
    // slots are only taken away during a call.
    uint64_t scan_epoch = 0;
    Request* scan_from = nullptr;
    bool exhausted = false;
    std::vector<size_t> usable;  // indexes of the call's slots LabelCanUse() allowed
    // Last: Dispatch() touches the fields above for every label it passes; these it does not.
    LabelCounters counters;
  };

  // A waiter, or a grant whose creation outcome the hub has not reported yet.
  struct Request {
    RequestId id = 0;
    Label* label = nullptr;
    std::string run_id;
    SteadyTime enqueued_at;
    SteadyTime deadline;
    int failures = 0;  // creation failures so far
    bool granted = false;
    Request* prev = nullptr;
    Request* next = nullptr;
  };

  Label& LabelFor(const std::string& name);
  // Forgets `label` if nothing refers to it any more (see Counters()).
  void PruneIfIdle(Label& label);
  // Drops request `it` and releases its label.
  void EraseRequest(std::unordered_map<RequestId, Request>::iterator it);
  bool LabelAtCap(const Label& label) const;
  std::optional<Refusal> Admission(const EnqueueRequest& request, const Label& label) const;
  std::string RefusalMessage(Refusal reason, const EnqueueRequest& request) const;
  void LinkWaiter(Request& request, bool at_head);
  void UnlinkWaiter(Request& request);
  // `left[i]`: how many more grants slots[i] can take in this call.
  Request* FirstServable(Label& label, std::span<const SlotId> slots, const std::vector<int>& left,
                         const SlotCompatibility& compat, size_t* slot_index);
  // Index in ready_ of the first label after `name` in label order, wrapping to 0.
  size_t ReadyIndexAfter(std::string_view name) const;
  std::vector<Assignment> DispatchOne(const SlotId& slot, const SlotCompatibility& compat);
  Assignment Grant(Request& winner, const SlotId& slot);
  int CapFromOptions(std::string_view label) const;

  const Clock& clock_;
  QueueOptions options_;
  const SteadyTime created_at_;  // the registration grace counts from here
  RequestId next_id_ = 1;
  uint64_t dispatch_epoch_ = 0;
  // Last label served; the next round starts strictly after it in label order.
  std::string cursor_;
  // Every label with state (see Counters()), by name (node-based: Label addresses are stable).
  std::map<std::string, Label, std::less<>> labels_;
  // Labels with at least one waiter, sorted by name. A flat vector because Dispatch() walks it
  // label after label; it changes only when a label gains its first or loses its last waiter.
  std::vector<Label*> ready_;
  // Every label in creation order, so a SlotIndex can ask only about labels new to it.
  std::vector<Label*> label_list_;
  // Labels that can use a slot, sorted by name: remembered LabelCanUse() answers, valid for
  // slot_index_generation_ (cleared when the hub's Generation() changes).
  struct SlotIndex {
    size_t labels_asked = 0;  // prefix of label_list_ already asked about
    std::vector<Label*> usable;
  };
  uint64_t slot_index_generation_ = 0;
  std::unordered_map<SlotId, SlotIndex> slot_index_;
  SlotIndex& SlotIndexFor(const SlotId& slot, const SlotCompatibility& compat);
  // Waiting and granted-but-not-created requests.
  std::unordered_map<RequestId, Request> requests_;
  // Waiters ordered by (deadline, id), for ExpireDue() and NextDeadline().
  std::set<std::pair<SteadyTime, RequestId>> waiters_by_deadline_;
  // Waiters per run id (runs with none are erased).
  std::unordered_map<std::string, size_t> run_waiters_;
};

}  // namespace gridhub::queue
