#include "node-agent/spare_drivers.h"

#include <filesystem>
#include <system_error>
#include <utility>

namespace gridhub::node {

SpareDrivers::SpareDrivers(Starter start) : start_(std::move(start)) {}

SpareDrivers::~SpareDrivers() { Stop(std::chrono::milliseconds(0)); }

std::optional<StartedDriver> SpareDrivers::Take(const Command& command) {
  std::optional<StartedDriver> taken;
  {
    MutexLock lock(mu_);
    auto it = ready_.find(command);
    if (it == ready_.end()) return std::nullopt;
    taken = std::move(it->second);
    ready_.erase(it);
  }
  if (taken->process->exited()) {
    std::error_code ec;
    std::filesystem::remove(taken->log_path, ec);
    return std::nullopt;  // died while it waited: the reaper has cleaned up its group
  }
  return taken;
}

bool SpareDrivers::Has(const Command& command) const {
  MutexLock lock(mu_);
  return ready_.count(command) != 0;
}

void SpareDrivers::Refill(const Command& command) {
  {
    MutexLock lock(mu_);
    if (stopped_ || ready_.count(command) != 0 || !starting_.insert(command).second) return;
  }
  refills_.Run([this, command] { Fill(command); });
}

void SpareDrivers::Fill(const Command& command) {
  Result<StartedDriver> started = start_(command, [this] {
    MutexLock lock(mu_);
    return stopped_;
  });
  std::optional<StartedDriver> unwanted;
  {
    MutexLock lock(mu_);
    starting_.erase(command);
    if (!started.ok()) return;
    if (!stopped_) {
      ready_[command] = std::move(*started);
      return;
    }
    unwanted = std::move(*started);
  }
  // Stopped while it started: Stop() no longer sees it, so it goes here.
  unwanted->process->Terminate(std::chrono::milliseconds(0));
  std::error_code ec;
  std::filesystem::remove(unwanted->log_path, ec);
}

void SpareDrivers::Stop(std::chrono::milliseconds grace) {
  {
    MutexLock lock(mu_);
    stopped_ = true;
  }
  refills_.JoinAll();
  std::map<Command, StartedDriver> spares;
  {
    MutexLock lock(mu_);
    spares.swap(ready_);
  }
  for (auto& [command, spare] : spares) {
    spare.process->Terminate(grace);
    std::error_code ec;
    std::filesystem::remove(spare.log_path, ec);
  }
}

}  // namespace gridhub::node
