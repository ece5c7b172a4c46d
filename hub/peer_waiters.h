#pragma once

// The forwarded new-session calls the dispatcher holds for the clients of other hubs, by the
// hub that forwarded each (X-Gridhub-Peer). A front hub whose process dies closes its
// connections, and its waiters leave at once. One whose machine is lost, or that is stopped,
// keeps them open for as long as TCP does. So, while it holds any, the dispatcher asks once per
// `period` whether their hubs are alive (ClusterState::PeerAlive: the presence key, which
// lapses hub.peer-timeout after the hub last refreshed it). The calls of a hub that is not are
// withdrawn (`withdraw`: the Grid drops the waiter as for a client that left, so the slot goes
// to the next waiter) and answered `session not created` naming the lost hub, which a hub that
// was only stopped relays to its clients when it resumes.
//
//   PeerWaiters waiters({.period = peer_timeout / 2,
//                        .alive = [&](const std::string& id) { return state.PeerAlive(id); },
//                        .withdraw = [&](uint64_t connection) { grid.OnDisconnect(...); }});
//   waiters.Hold(peer.hub_id, responder);   // a forwarded POST /session, at the dispatcher
//   waiters.Forget(connection_id);          // the server's disconnect callback
//
// Thread-safe. One thread of its own, which sleeps while nothing is held; Stop() (or the
// destructor) joins it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/mutex.h"
#include "http/http_server.h"

namespace gridhub::hub {

class PeerWaiters {
 public:
  struct Options {
    std::chrono::milliseconds period{1000};
    // Whether a hub is alive; called without the lock, may block for a store round trip.
    std::function<bool(const std::string& hub_id)> alive;
    // Drops the waiter of the call on `connection_id` before it is answered.
    std::function<void(uint64_t connection_id)> withdraw;
  };

  explicit PeerWaiters(Options options);
  ~PeerWaiters();
  PeerWaiters(const PeerWaiters&) = delete;
  PeerWaiters& operator=(const PeerWaiters&) = delete;

  // `responder` (a copy of the held call's) answers a call forwarded by `hub_id`.
  void Hold(std::string hub_id, http::Responder responder);
  void Forget(uint64_t connection_id);
  // One check now, as the thread makes every period; how many calls it withdrew.
  size_t CheckNow();
  // Calls still held (answered ones are dropped at the next check).
  size_t held() const;
  void Stop();

 private:
  struct Entry {
    std::string hub_id;
    http::Responder responder;
  };
  void Loop();

  const Options options_;
  mutable Mutex mu_;
  std::condition_variable_any cv_;
  std::unordered_map<uint64_t, Entry> held_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace gridhub::hub
