#pragma once

// TicketBook: the tickets of the asynchronous queue API (POST /queue/tickets) and their state
// machine. A ticket is opened WAITING for a queued request; the request's end makes it READY
// (a session, waiting to be taken) or FAILED (an error, kept for one take); taking it or
// letting it lapse removes it:
//
//   waiting --session--> ready  --take--> (gone)          waiting --abandon_after--> (gone)
//   waiting --error----> failed --take--> (gone)          ready/failed --ready_ttl--> (gone)
//
// A waiting ticket lapses when nobody asked about it for abandon_after; a finished one
// ready_ttl after it finished. Every call names the ticket's token, compared in constant time.
//
//   TicketBook tickets(clock, ids, {.abandon_after = 60s, .ready_ttl = 30s});
//   const TicketBook::Ticket& t = tickets.Open(request, "chrome", enqueued_at, deadline);
//   tickets.Finish(t.id, SessionId("s1"), body);
//   TicketBook::Taken taken = tickets.Take(t.id, t.token);   // kSession, taken.body
//   for (const TicketBook::Lapsed& lapsed : tickets.ExpireDue()) ...   // the caller cleans up
//
// Not thread-safe: the Grid uses it under Grid::mu_. Outcomes are values; hub/outcome_http.h
// decides what HTTP status each gets.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/result.h"
#include "common/strong_id.h"
#include "queue/session_queue.h"

namespace gridhub::hub {

enum class TicketState { kWaiting, kReady, kFailed };

// What taking a ticket gave.
enum class TakeOutcome {
  kSession,     // READY: `body` is the W3C new-session response; the ticket is gone
  kFailed,      // FAILED: `error` says why the request failed; the ticket is gone
  kWaiting,     // still WAITING; nothing changed but its last activity
  kUnknown,     // no such ticket (never, expired or taken)
  kWrongToken,  // the ticket exists, the token is not its own
};

class TicketBook {
 public:
  struct Limits {
    Duration abandon_after{0};  // a WAITING ticket nobody asked about lapses after this
    Duration ready_ttl{0};      // a READY or FAILED ticket lapses this long after it finished
  };

  struct Ticket {
    std::string id;
    std::string token;
    // The order tickets were opened in (1, 2, ...): a new dispatcher queues the waiting ones
    // again in this order (Adopt).
    uint64_t sequence = 0;
    queue::RequestId request = 0;  // 0: none (a ticket adopted ready or failed)
    std::string label;
    TicketState state = TicketState::kWaiting;
    SteadyTime last_activity;
    SteadyTime enqueued_at;
    SteadyTime deadline;
    SteadyTime finished_at;
    std::string body;                       // READY: the W3C new-session response
    Error error{ErrorCode::kInternal, ""};  // FAILED: why
    SessionId session;                      // READY: the session it holds
  };

  struct Taken {
    TakeOutcome outcome;
    std::string body;  // kSession
    Error error;       // every other outcome: what to tell the caller
  };

  // A ticket that lapsed and is gone; the caller cancels its waiter or ends its session.
  struct Lapsed {
    std::string id;
    queue::RequestId request = 0;
    TicketState state = TicketState::kWaiting;
    SessionId session;  // state kReady
  };

  // `ids` makes ticket ids and tokens; clock and ids must outlive the book.
  TicketBook(const Clock& clock, IdSource& ids, Limits limits);

  void set_limits(Limits limits) { limits_ = limits; }

  // A new WAITING ticket for `request`, with a fresh id and token.
  const Ticket& Open(queue::RequestId request, std::string label, SteadyTime enqueued_at,
                     SteadyTime deadline);
  // A ticket another dispatcher opened (its id, token, sequence, state and outcome as given),
  // as if it had just been asked about or finished: its abandon-after or ready-ttl restarts
  // now. Later tickets get later sequence numbers. Null if `ticket.id` is already open.
  const Ticket* Adopt(Ticket ticket);
  // The ticket `id` if `token` is its own (its last activity is now): kNotFound for an
  // unknown id, else kForbidden for a wrong token.
  Result<Ticket*> Find(const std::string& id, std::string_view token);
  // READY with `session`; or FAILED with `error`. No-ops for an unknown id.
  void Finish(const std::string& id, SessionId session, std::string body);
  void Fail(const std::string& id, Error error);
  // Hands a finished ticket's outcome over once and forgets it.
  Taken Take(const std::string& id, std::string_view token);
  void Erase(const std::string& id) { tickets_.erase(id); }
  // The ticket `id` without touching it (no token: for the hub's own bookkeeping), or null.
  const Ticket* Get(const std::string& id) const;
  // Every open ticket, by id.
  const std::map<std::string, Ticket>& tickets() const { return tickets_; }
  // Every ticket goes, whatever its state (the hub stops being the dispatcher).
  void Clear() { tickets_.clear(); }

  // Removes every ticket whose deadline (see Limits) has come; returns them.
  std::vector<Lapsed> ExpireDue();
  // The earliest instant ExpireDue() has something to do; nullopt with no tickets.
  std::optional<SteadyTime> NextDeadline() const;

  size_t size() const { return tickets_.size(); }

 private:
  SteadyTime DeadlineOf(const Ticket& ticket) const;

  const Clock& clock_;
  IdSource& ids_;
  Limits limits_;
  std::map<std::string, Ticket> tickets_;
  uint64_t last_sequence_ = 0;
};

}  // namespace gridhub::hub
