#include "node-agent/slot_book.h"

#include <cassert>

namespace gridhub::node {

SlotBook::SlotBook(std::vector<SlotInfo> slots, SlotBookOptions options, const Clock& clock)
    : options_(options), clock_(clock) {
  slots_.reserve(slots.size());
  for (SlotInfo& info : slots) slots_.push_back(Slot{std::move(info)});
}

int SlotBook::FreePlaces(size_t index) const {
  const Slot& s = slots_[index];
  return s.info.max_sessions - s.sessions - s.reserved;
}

Status SlotBook::Reserve(size_t index) {
  if (index >= slots_.size()) return Error{ErrorCode::kSessionNotCreated, "no such slot"};
  if (draining()) return Error{ErrorCode::kSessionNotCreated, "node is draining"};
  if (FreePlaces(index) <= 0) {
    return Error{ErrorCode::kSessionNotCreated, "slot " + slots_[index].info.id.str() + " is full"};
  }
  // Reservations count against drain-after-sessions: the N-th session may be in creation
  // while another request arrives, and that one must not become session N+1.
  if (options_.drain_after_sessions > 0 &&
      started_ + reserved_total_ >= options_.drain_after_sessions) {
    return Error{ErrorCode::kSessionNotCreated, "node has served its drain-after-sessions quota"};
  }
  ++slots_[index].reserved;
  ++reserved_total_;
  return Status::Ok();
}

void SlotBook::CancelReservation(size_t index) {
  assert(slots_[index].reserved > 0);
  --slots_[index].reserved;
  --reserved_total_;
}

void SlotBook::Commit(size_t index, const SessionId& session_id) {
  CancelReservation(index);
  ++slots_[index].sessions;
  sessions_[session_id] = Session{index, clock_.Now(), 0};
  ++started_;
  if (options_.drain_after_sessions > 0 && started_ >= options_.drain_after_sessions &&
      !draining()) {
    drain_ = DrainReason::kAfterSessions;
  }
}

void SlotBook::SetOptions(SlotBookOptions options) {
  options_ = options;
  // A lowered drain-after-sessions that the node has already served drains it now, as the
  // next Commit would have.
  if (options_.drain_after_sessions > 0 && started_ >= options_.drain_after_sessions &&
      !draining()) {
    drain_ = DrainReason::kAfterSessions;
  }
}

bool SlotBook::Contains(const SessionId& session_id) const {
  return sessions_.count(session_id) != 0;
}

std::optional<size_t> SlotBook::SlotOf(const SessionId& session_id) const {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return std::nullopt;
  return it->second.slot;
}

bool SlotBook::BeginCommand(const SessionId& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return false;
  ++it->second.commands_in_flight;
  it->second.last_activity = clock_.Now();
  return true;
}

bool SlotBook::Touch(const SessionId& session_id) { return Touch(session_id, clock_.Now()); }

bool SlotBook::Touch(const SessionId& session_id, SteadyTime when) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return false;
  it->second.last_activity = std::max(it->second.last_activity, when);
  return true;
}

void SlotBook::EndCommand(const SessionId& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  if (it->second.commands_in_flight > 0) --it->second.commands_in_flight;
  // The idle time counts from the end of the last command, not its start.
  it->second.last_activity = clock_.Now();
}

std::optional<size_t> SlotBook::Remove(const SessionId& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return std::nullopt;
  size_t index = it->second.slot;
  --slots_[index].sessions;
  sessions_.erase(it);
  return index;
}

std::vector<SessionId> SlotBook::IdleSessions() const {
  std::vector<SessionId> idle;
  if (options_.session_timeout <= Duration::zero()) return idle;
  SteadyTime now = clock_.Now();
  for (const auto& [id, s] : sessions_) {
    if (s.commands_in_flight == 0 && now - s.last_activity >= options_.session_timeout) {
      idle.push_back(id);
    }
  }
  return idle;
}

std::optional<SteadyTime> SlotBook::NextIdleDeadline() const {
  std::optional<SteadyTime> next;
  if (options_.session_timeout <= Duration::zero()) return next;
  for (const auto& [id, s] : sessions_) {
    if (s.commands_in_flight > 0) continue;
    SteadyTime due = s.last_activity + options_.session_timeout;
    if (!next || due < *next) next = due;
  }
  return next;
}

void SlotBook::StartDrain(DrainReason reason) {
  if (drain_ == DrainReason::kNone) drain_ = reason;
}

std::vector<std::pair<SessionId, size_t>> SlotBook::Sessions() const {
  std::vector<std::pair<SessionId, size_t>> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) out.emplace_back(id, s.slot);
  return out;
}

}  // namespace gridhub::node
