#include "node-agent/driver_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "node-agent/spawn.h"

namespace gridhub::node {

Result<std::unique_ptr<DriverProcess>> DriverProcess::Spawn(const std::vector<std::string>& argv,
                                                            const std::string& log_path,
                                                            ExitCallback on_exit) {
  if (argv.empty()) return Error{ErrorCode::kInvalidArgument, "empty driver command"};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // The node's sockets (its listening port above all) must not live on in a driver that
  // outlives it.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);

  pid_t pid = SpawnInOwnGroup(argv, actions);
  posix_spawn_file_actions_destroy(&actions);
  if (pid < 0) {
    return Error{ErrorCode::kSessionNotCreated,
                 "cannot start driver " + argv[0] + ": " + std::strerror(-pid)};
  }
  return std::unique_ptr<DriverProcess>(new DriverProcess(pid, std::move(on_exit)));
}

DriverProcess::DriverProcess(pid_t pid, ExitCallback on_exit) : pid_(pid) {
  {
    MutexLock lock(mu_);
    on_exit_ = std::move(on_exit);
  }
  reaper_ = std::thread([this] { Reap(); });
}

DriverProcess::~DriverProcess() {
  if (!exited()) {
    ::kill(-pid_, SIGKILL);
  }
  reaper_.join();
}

void DriverProcess::Reap() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  // The leader is gone; whatever it left in its group (a browser it started) goes too, so a
  // crashed driver does not leak a browser.
  ::kill(-pid_, SIGKILL);
  // The callback runs before waiters wake, so whoever saw the exit also sees its effects.
  ExitCallback on_exit;
  {
    MutexLock lock(mu_);
    reaped_ = true;
    on_exit = std::move(on_exit_);
  }
  if (on_exit) on_exit(status);
  {
    MutexLock lock(mu_);
    exited_ = true;
  }
  exited_cv_.notify_all();
}

bool DriverProcess::exited() const {
  MutexLock lock(mu_);
  return exited_;
}

bool DriverProcess::SetExitCallback(ExitCallback on_exit) {
  MutexLock lock(mu_);
  if (reaped_) return false;
  on_exit_ = std::move(on_exit);
  return true;
}

bool DriverProcess::WaitExit(std::chrono::milliseconds timeout) {
  MutexLock lock(mu_);
  return exited_cv_.wait_for(mu_, timeout, [this]() NO_THREAD_SAFETY_ANALYSIS { return exited_; });
}

void DriverProcess::Terminate(std::chrono::milliseconds grace) {
  if (exited()) return;
  ::kill(-pid_, SIGTERM);
  if (WaitExit(grace)) return;
  ::kill(-pid_, SIGKILL);
  WaitExit(std::chrono::hours(1));
}

}  // namespace gridhub::node
