#include "hub/peer_waiters.h"

#include <set>
#include <utility>
#include <vector>

#include "common/log.h"
#include "http/w3c_error.h"

namespace gridhub::hub {

PeerWaiters::PeerWaiters(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

PeerWaiters::~PeerWaiters() { Stop(); }

void PeerWaiters::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeerWaiters::Hold(std::string hub_id, http::Responder responder) {
  const uint64_t connection = responder.connection_id();
  {
    MutexLock lock(mu_);
    held_[connection] = Entry{std::move(hub_id), std::move(responder)};
  }
  cv_.notify_all();
}

void PeerWaiters::Forget(uint64_t connection_id) {
  MutexLock lock(mu_);
  held_.erase(connection_id);
}

size_t PeerWaiters::held() const {
  MutexLock lock(mu_);
  return held_.size();
}

void PeerWaiters::Loop() {
  for (;;) {
    {
      MutexLock lock(mu_);
      while (!stopping_ && held_.empty()) cv_.wait(mu_);
      // A full period after the first hold: a hub that forwarded a moment ago is alive.
      const auto due = std::chrono::steady_clock::now() + options_.period;
      while (!stopping_ && std::chrono::steady_clock::now() < due) cv_.wait_until(mu_, due);
      if (stopping_) return;
    }
    CheckNow();
  }
}

size_t PeerWaiters::CheckNow() {
  std::set<std::string> hubs;
  {
    MutexLock lock(mu_);
    for (auto it = held_.begin(); it != held_.end();) {
      // Answered, or its connection closed: nothing to watch any more.
      if (it->second.responder.sent() || !it->second.responder.PeerConnected()) {
        it = held_.erase(it);
        continue;
      }
      hubs.insert(it->second.hub_id);
      ++it;
    }
  }
  std::set<std::string> dead;
  for (const std::string& hub : hubs) {
    if (!options_.alive(hub)) dead.insert(hub);
  }
  if (dead.empty()) return 0;
  std::vector<Entry> lost;
  {
    MutexLock lock(mu_);
    for (auto it = held_.begin(); it != held_.end();) {
      if (dead.count(it->second.hub_id) == 0) {
        ++it;
        continue;
      }
      lost.push_back(std::move(it->second));
      it = held_.erase(it);
    }
  }
  for (Entry& entry : lost) {
    // Withdrawn first, so that the Grid cannot serve the waiter between the two steps.
    options_.withdraw(entry.responder.connection_id());
    const Error error{ErrorCode::kSessionNotCreated,
                      "hub " + entry.hub_id +
                          " forwarded this request and was not seen within "
                          "hub.peer-timeout"};
    entry.responder.Send(http::HttpStatus(error.code), http::W3CErrorBody(error));
  }
  for (const std::string& hub : dead) {
    log::Warn("cluster.peer_lost",
              "hub " + hub + " was not seen within hub.peer-timeout: its waiters leave the queue");
  }
  return lost.size();
}

}  // namespace gridhub::hub
