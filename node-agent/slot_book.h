#pragma once

// The node's bookkeeping of slots and sessions: which slot has room, which sessions live where,
// which have been idle too long, and whether the node is draining. Pure: no threads, no I/O,
// time from an injected Clock, so idle and drain rules are tested without processes or HTTP.
//
//   SlotBook book(slots, {.session_timeout = 300s, .drain_after_sessions = 0}, clock);
//   if (book.Reserve(0).ok()) {          // room is held while the driver starts
//     ... create the session ...
//     book.Commit(0, session_id);        // or book.CancelReservation(0) on failure
//   }
//   for (const SessionId& id : book.IdleSessions()) EndSession(id);
//
// Not thread-safe: the NodeAgent owns it under its mutex.

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/strong_id.h"

namespace gridhub::node {

struct SlotInfo {
  SlotId id;          // unique within the node, e.g. "<node-id>-slot-0"
  std::string label;  // normalised label
  nlohmann::json stereotype = nlohmann::json::object();
  int max_sessions = 1;
};

// Why the node stopped taking sessions; kNone while it still takes them.
enum class DrainReason { kNone, kSignal, kHub, kAfterSessions };

struct SlotBookOptions {
  Duration session_timeout = std::chrono::seconds(300);  // 0 = sessions never idle out
  int drain_after_sessions = 0;                          // 0 = never
};

class SlotBook {
 public:
  SlotBook(std::vector<SlotInfo> slots, SlotBookOptions options, const Clock& clock);

  size_t slot_count() const { return slots_.size(); }
  const SlotInfo& slot(size_t index) const { return slots_[index].info; }
  // Places not taken by sessions or reservations.
  int FreePlaces(size_t index) const;

  // Holds a place in slot `index` for a session being created. kSessionNotCreated (with the
  // reason) when draining, when the slot is full, or when drain-after-sessions is used up.
  Status Reserve(size_t index);
  // REQUIRES: a Reserve(index) that was neither committed nor cancelled.
  void CancelReservation(size_t index);
  // The reserved place becomes `session_id`'s. May start a drain (drain-after-sessions).
  // REQUIRES: a Reserve(index) that was neither committed nor cancelled.
  void Commit(size_t index, const SessionId& session_id);

  // New idle timeout and drain-after-sessions (a SIGHUP): idle deadlines of running sessions
  // follow the new timeout at once; a quota already used up starts a drain.
  void SetOptions(SlotBookOptions options);
  const SlotBookOptions& options() const { return options_; }

  bool Contains(const SessionId& session_id) const;
  std::optional<size_t> SlotOf(const SessionId& session_id) const;
  // A command for the session starts / ends. Activity resets the idle timer, and a session with
  // a command in flight (a long script, a slow page load) is never idle. False when unknown.
  bool BeginCommand(const SessionId& session_id);
  void EndCommand(const SessionId& session_id);
  // Activity that is not a command (bytes on one of the session's WebSockets): resets the idle
  // timer like a command does, as of now or of `when` (kept only when later than the last
  // activity known). False when unknown.
  bool Touch(const SessionId& session_id);
  bool Touch(const SessionId& session_id, SteadyTime when);
  // Frees the session's place; its slot index, or nullopt when it was not (or no longer) known.
  std::optional<size_t> Remove(const SessionId& session_id);

  // Sessions with no command in flight and none started for session_timeout.
  std::vector<SessionId> IdleSessions() const;
  // When the next session could become idle; nullopt when none can.
  std::optional<SteadyTime> NextIdleDeadline() const;

  void StartDrain(DrainReason reason);
  bool draining() const { return drain_ != DrainReason::kNone; }
  DrainReason drain_reason() const { return drain_; }
  // No sessions and no reservations: a draining node may leave.
  bool empty() const { return sessions_.empty() && reserved_total_ == 0; }
  size_t session_count() const { return sessions_.size(); }
  // Session ids with their slot index, in id order.
  std::vector<std::pair<SessionId, size_t>> Sessions() const;

 private:
  struct Slot {
    SlotInfo info;
    int sessions = 0;
    int reserved = 0;
  };
  struct Session {
    size_t slot = 0;
    SteadyTime last_activity;
    int commands_in_flight = 0;
  };

  std::vector<Slot> slots_;
  SlotBookOptions options_;
  const Clock& clock_;
  std::map<SessionId, Session> sessions_;
  int reserved_total_ = 0;
  int started_ = 0;  // committed sessions, for drain-after-sessions
  DrainReason drain_ = DrainReason::kNone;
};

}  // namespace gridhub::node
