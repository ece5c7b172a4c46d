#pragma once

// Decides which failures of a repeated call (registration with the hub, heartbeats) are worth a
// log line: the first, each error not seen before in this run of failures (numbers in it
// aside: "after 3 ms" is no news), and otherwise at most one per `quiet` period, so an
// unreachable hub gives a steady trickle that shows the node is still trying, not a flood.
//
//   RetryReport report("registration with hub http://h:4444", std::chrono::seconds(10));
//   if (auto line = report.Failed(clock.Now(), "Couldn't connect to server", backoff)) Log(*line);
//   if (auto line = report.Succeeded()) Log(*line);   // "... ok after 7 attempts"
//
// Pure and not thread-safe; the caller's loop owns it.

#include <optional>
#include <set>
#include <string>

#include "common/clock.h"

namespace gridhub::node {

class RetryReport {
 public:
  RetryReport(std::string what, Duration quiet) : what_(std::move(what)), quiet_(quiet) {}

  // Records a failed attempt at `now`; the line to log, or nullopt to stay quiet. `next` is
  // when the caller tries again: "<what> failed (<error>); attempt 3, retrying in 1s".
  std::optional<std::string> Failed(SteadyTime now, const std::string& error, Duration next);

  // Records a success; a line when it ends a run of failures ("<what> ok after 4 attempts").
  std::optional<std::string> Succeeded();

  int failures() const { return failures_; }

 private:
  std::string what_;
  Duration quiet_;
  int failures_ = 0;  // in a row
  static constexpr size_t kMaxKinds = 16;
  std::set<std::string> seen_kinds_;  // errors of this run of failures, numbers masked
  std::optional<SteadyTime> last_logged_;
};

// "0.25s", "5s", "1.5s": a short duration for log lines.
std::string ShortSeconds(Duration d);

}  // namespace gridhub::node
