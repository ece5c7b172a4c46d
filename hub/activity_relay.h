#pragma once

// On a hub that is not the dispatcher, in a grid of several hubs (docs/scale-out.md): when
// this hub last proxied a command for each session, gathered between two flushes and sent to
// the dispatcher in one call, at most once per `interval`, so the console's "since last
// command" (which the dispatcher builds) counts the commands of every hub. The proxy's cost is
// one short lock and one map entry per command; a session's entry is only its latest time.
//
//   ActivityRelay relay(std::chrono::seconds(1));
//   if (relay.Note(session_id, clock.Now())) Poke();   // a batch opened: wake the timer
//   ... the timer thread, at relay.NextDue():
//   for (auto& [session, ago] : relay.TakeIfDue(clock.Now())) ...  // one call to the dispatcher
//
// Thread-safe. Only sessions with a live route are noted (the proxy found one), so a batch is
// bounded by the grid's live sessions.

#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace gridhub::hub {

class ActivityRelay {
 public:
  explicit ActivityRelay(Duration interval) : interval_(interval) {}

  // A command for `session` was proxied at `at`. True when this opened a batch (none was
  // due): the caller wakes whoever waits for NextDue.
  bool Note(const std::string& session, SteadyTime at);
  // When the open batch is due; nullopt when there is none.
  std::optional<SteadyTime> NextDue() const;
  // The open batch, when due at `now` (else empty): each session with how long before `now`
  // its last command was.
  std::vector<std::pair<std::string, Duration>> TakeIfDue(SteadyTime now);

 private:
  const Duration interval_;
  mutable Mutex mu_;
  std::unordered_map<std::string, SteadyTime> last_ GUARDED_BY(mu_);
  std::optional<SteadyTime> due_ GUARDED_BY(mu_);
  std::optional<SteadyTime> sent_ GUARDED_BY(mu_);  // the last flush
};

}  // namespace gridhub::hub
