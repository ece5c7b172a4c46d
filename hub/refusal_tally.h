#pragma once

// The console's "refusals by reason" per label: how many new-session requests of each label
// ended without a session, by why (queue_full, run_limit, unsatisfiable, no_wait, timeout,
// cancelled, failed — the outcome names of gridhub_session_request_outcomes_total). Fed from
// the Grid's events in HubService::Execute; labels are the bounded metric labels the events
// carry, and Retain() drops those no slot or cap declares any more, so it follows the grid.
//
//   RefusalTally tally;
//   tally.Count("chrome", "queue_full");
//   RefusalTally::Counts counts = tally.Snapshot();  // counts["chrome"][0] == 1
//
// Thread-safe (its own mutex).

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/mutex.h"

namespace gridhub::hub {

class RefusalTally {
 public:
  static constexpr std::array<std::string_view, 7> kReasons = {
      "queue_full", "run_limit", "unsatisfiable", "no_wait", "timeout", "cancelled", "failed"};
  using PerReason = std::array<uint64_t, kReasons.size()>;  // in kReasons order
  using Counts = std::map<std::string, PerReason>;

  // A reason not in kReasons is ignored (false).
  bool Count(std::string_view label, std::string_view reason);
  Counts Snapshot() const;
  // Keeps `labels` (and "other") only.
  void Retain(const std::set<std::string>& labels);

 private:
  mutable Mutex mu_;
  Counts counts_ GUARDED_BY(mu_);
};

}  // namespace gridhub::hub
