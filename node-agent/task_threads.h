#pragma once

// Runs blocking jobs (starting a driver and waiting for it, stopping a process with a grace
// period) each on its own thread, so neither HTTP handler threads nor the HTTP client's
// callback thread ever wait for a browser. Finished threads are joined on the next Run();
// JoinAll() waits for every job. Thread-safe.
//
//   TaskThreads tasks;
//   tasks.Run([=] { StartDriverAndCreateSession(...); });

#include <functional>
#include <list>
#include <memory>
#include <thread>

#include "common/mutex.h"

namespace gridhub::node {

class TaskThreads {
 public:
  TaskThreads() = default;
  ~TaskThreads() { JoinAll(); }
  TaskThreads(const TaskThreads&) = delete;
  TaskThreads& operator=(const TaskThreads&) = delete;

  void Run(std::function<void()> job) EXCLUDES(mu_);
  // Waits for every job, including ones started by jobs while waiting.
  void JoinAll() EXCLUDES(mu_);

 private:
  struct Task {
    std::thread thread;
    bool done = false;
  };
  void JoinFinished() EXCLUDES(mu_);

  Mutex mu_;
  std::list<std::shared_ptr<Task>> tasks_ GUARDED_BY(mu_);
};

}  // namespace gridhub::node
