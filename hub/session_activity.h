#pragma once

// What the console shows of a session's life that changes with every command: when its last
// command was proxied and its last session event (POST /se/event). One per live session,
// shared by the SessionMap's entry, every SessionRoute handed out for it and the snapshot's
// view of it, so the proxy path stamps it without Grid::mu_ and /ui/api/state reads it without
// a republished snapshot.
//
//   std::shared_ptr<SessionActivity> activity = route->activity;
//   activity->NoteCommand(clock.Now());      // the proxy's hot path: one relaxed store
//   std::optional<SteadyTime> last = activity->last_command();
//
// Thread-safe.

#include <atomic>
#include <chrono>
#include <limits>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"

namespace gridhub::hub {

class SessionActivity {
 public:
  struct Event {
    std::string type;
    SteadyTime at;
  };

  void NoteCommand(SteadyTime at) {
    last_command_.store(at.time_since_epoch().count(), std::memory_order_relaxed);
  }
  // A command another hub proxied (several hubs: ActivityRelay), reported late: kept only if
  // it is later than what is there, so it never hides a newer command proxied here.
  void NoteCommandIfLater(SteadyTime at) {
    const Duration::rep want = at.time_since_epoch().count();
    Duration::rep seen = last_command_.load(std::memory_order_relaxed);
    while (seen < want &&
           !last_command_.compare_exchange_weak(seen, want, std::memory_order_relaxed)) {
    }
  }
  std::optional<SteadyTime> last_command() const {
    const Duration::rep ticks = last_command_.load(std::memory_order_relaxed);
    if (ticks == kNever) return std::nullopt;
    return SteadyTime(Duration(ticks));
  }

  void NoteEvent(std::string type, SteadyTime at) {
    MutexLock lock(mu_);
    last_event_ = Event{std::move(type), at};
  }
  std::optional<Event> last_event() const {
    MutexLock lock(mu_);
    return last_event_;
  }

 private:
  static constexpr Duration::rep kNever = std::numeric_limits<Duration::rep>::min();
  std::atomic<Duration::rep> last_command_{kNever};
  mutable Mutex mu_;
  std::optional<Event> last_event_ GUARDED_BY(mu_);
};

}  // namespace gridhub::hub
