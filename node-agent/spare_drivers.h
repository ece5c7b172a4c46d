#pragma once

// Keeps one started, ready driver process per driver command, so that a new session waits only
// for its browser, not for its driver too: chromedriver takes ~10 ms from spawn to its first
// /status on an idle machine and 60 ms or more on a busy one. A spare has served no session:
// it becomes a session's own driver when taken (one driver per session, as before) and the
// next spare starts in the background after that session's start.
//
//   SpareDrivers spares(start);           // start: spawns a driver and waits for its /status
//   spares.Refill(command);               // begins starting a spare, on a thread of its own
//   std::optional<StartedDriver> d = spares.Take(command);   // nullopt: start one inline
//   spares.Stop(grace);                   // cancels refills and terminates every spare
//
// A spare that exits while it waits (killed, crashed) is dropped when next taken. Thread-safe.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"
#include "node-agent/driver_process.h"
#include "node-agent/task_threads.h"

namespace gridhub::node {

// A driver process that has answered /status with 200.
struct StartedDriver {
  std::unique_ptr<DriverProcess> process;
  std::string url;       // http://127.0.0.1:PORT
  std::string log_path;  // its output so far
};

class SpareDrivers {
 public:
  using Command = std::vector<std::string>;
  // Starts `command` and waits until it is ready, giving up when `cancelled` turns true. On
  // failure it stops whatever it started itself.
  using Starter =
      std::function<Result<StartedDriver>(const Command&, const std::function<bool()>& cancelled)>;

  explicit SpareDrivers(Starter start);
  ~SpareDrivers();  // Stop(0 ms) if not stopped yet
  SpareDrivers(const SpareDrivers&) = delete;
  SpareDrivers& operator=(const SpareDrivers&) = delete;

  // The command's spare if one is ready and still running. Its exit callback is none: the
  // taker sets the session's (DriverProcess::SetExitCallback).
  std::optional<StartedDriver> Take(const Command& command) EXCLUDES(mu_);

  // Whether a spare for `command` is ready (it may still have exited since).
  bool Has(const Command& command) const EXCLUDES(mu_);

  // Starts a spare for `command` in the background unless one is ready or starting, or the
  // spares are stopped. A start that fails leaves no spare; the next Refill tries again.
  void Refill(const Command& command) EXCLUDES(mu_);

  // Stops refilling, waits for the refills under way (cancelled), then terminates every spare
  // (SIGTERM, SIGKILL after `grace`) and removes its log. Idempotent.
  void Stop(std::chrono::milliseconds grace) EXCLUDES(mu_);

 private:
  void Fill(const Command& command) EXCLUDES(mu_);

  const Starter start_;
  mutable Mutex mu_;
  std::map<Command, StartedDriver> ready_ GUARDED_BY(mu_);
  std::set<Command> starting_ GUARDED_BY(mu_);
  bool stopped_ GUARDED_BY(mu_) = false;
  TaskThreads refills_;  // last: joined before the members it uses go
};

}  // namespace gridhub::node
