#include "node-agent/task_threads.h"

#include <vector>

namespace gridhub::node {

void TaskThreads::Run(std::function<void()> job) {
  JoinFinished();
  auto task = std::make_shared<Task>();
  MutexLock lock(mu_);
  // The thread only starts after the task is listed, and marks itself done under the lock, so
  // JoinFinished never joins a thread that is still running its job.
  task->thread = std::thread([this, task, job = std::move(job)] {
    job();
    MutexLock done_lock(mu_);
    task->done = true;
  });
  tasks_.push_back(std::move(task));
}

void TaskThreads::JoinFinished() {
  std::vector<std::shared_ptr<Task>> finished;
  {
    MutexLock lock(mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if ((*it)->done) {
        finished.push_back(*it);
        it = tasks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& task : finished) task->thread.join();
}

void TaskThreads::JoinAll() {
  while (true) {
    std::shared_ptr<Task> task;
    {
      MutexLock lock(mu_);
      if (tasks_.empty()) return;
      task = tasks_.front();
      tasks_.pop_front();
    }
    task->thread.join();
  }
}

}  // namespace gridhub::node
