#pragma once

// One child process (a WebDriver server such as chromedriver) in its own process group, with
// stdout/stderr going to a log file instead of the node's console.
//
//   Result<std::unique_ptr<DriverProcess>> p = DriverProcess::Spawn(
//       {"/usr/bin/chromedriver", "--port=9515"}, "/tmp/gridhub-node/s1.log",
//       [](int status) { /* runs on the reaper thread when the process exits */ });
//   ...
//   (*p)->Terminate(std::chrono::seconds(5));   // SIGTERM to the group, SIGKILL after grace
//
// Each process has a reaper thread blocked in waitpid() on its pid, so exited children never
// linger as zombies and an unexpected exit (a crashed or killed driver) is reported at once.
// Only that pid is waited for, so other children of the process are left alone. Thread-safe.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/result.h"

namespace gridhub::node {

class DriverProcess {
 public:
  // Called once, on the reaper thread, with the waitpid() status, before exited() turns true.
  // Must not destroy the DriverProcess it belongs to nor wait for its exit.
  using ExitCallback = std::function<void(int wait_status)>;

  // Starts argv[0] (looked up on PATH when it has no '/') with argv, in a new process group,
  // stdin from /dev/null and stdout+stderr appended to `log_path`.
  static Result<std::unique_ptr<DriverProcess>> Spawn(const std::vector<std::string>& argv,
                                                      const std::string& log_path,
                                                      ExitCallback on_exit);

  // Kills the whole group (SIGKILL) if it still runs, and waits for the reaper.
  ~DriverProcess();
  DriverProcess(const DriverProcess&) = delete;
  DriverProcess& operator=(const DriverProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const EXCLUDES(mu_);

  // Replaces the exit callback (a spare driver, started before its session, gets the
  // session's here). False, and `on_exit` dropped, once the exit is being reported.
  bool SetExitCallback(ExitCallback on_exit) EXCLUDES(mu_);

  // SIGTERM to the process group, then SIGKILL to the group if the leader has not exited
  // within `grace`. Returns once the leader has been reaped. Idempotent.
  void Terminate(std::chrono::milliseconds grace) EXCLUDES(mu_);

  // Waits up to `timeout` for the process to exit; true if it has.
  bool WaitExit(std::chrono::milliseconds timeout) EXCLUDES(mu_);

 private:
  DriverProcess(pid_t pid, ExitCallback on_exit);
  void Reap();

  const pid_t pid_;
  mutable Mutex mu_;
  ExitCallback on_exit_ GUARDED_BY(mu_);
  std::condition_variable_any exited_cv_;
  bool reaped_ GUARDED_BY(mu_) = false;  // the callback has been taken to run
  bool exited_ GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace gridhub::node
