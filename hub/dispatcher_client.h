#pragma once

// Dispatcher calls of a hub in a grid of several hubs (DESIGN §8): which hub is the dispatcher
// now, and the calls held for this hub's clients while they wait there. A call goes out through
// PeerForwarder (peer_forwarder.h). A *held* call (a new session, which may wait minutes) that
// loses its dispatcher — the connection fails, or the dispatcher answers that it no longer is
// one — is not answered: it is parked, and sent again to the next dispatcher (SetLeader) in the
// order the calls first arrived here. While no dispatcher is known, held calls are parked;
// FailParked answers them (the store is unreachable: they fail at once).
//
//   DispatcherClient dispatcher(forwarder);
//   dispatcher.SetLeader(state.Leader());                          // on_leader_changed
//   dispatcher.Forward(request, std::move(call), std::move(responder));
//   dispatcher.OnDisconnect(connection_id);   // the client left: its call is abandoned
//
// On the dispatcher itself, a held call still goes out through HTTP, to this same hub: that
// costs one loopback connection (two descriptors) per waiter and a hop per answer, but no CPU
// while it waits (HttpClient waits in epoll on ready sockets only and reads `cancel` flags on
// a 250 ms sweep). An in-process path is not taken because a held call must survive this hub's
// deposition: Grid::Abdicate answers every waiter kUnavailable through the waiter's own
// responder, which for an in-process call is the client itself — the call would be failed,
// not re-submitted. Telling those replies apart and handing the request back here instead
// needs a change to the Grid's abdication and to the hub's take-over path, not to this class.
//
// Thread-safe.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "cluster/cluster_state.h"
#include "common/mutex.h"
#include "common/result.h"
#include "http/http_server.h"
#include "hub/peer_forwarder.h"

namespace gridhub::hub {

class DispatcherClient {
 public:
  // `forwarder` must outlive this object.
  explicit DispatcherClient(PeerForwarder& forwarder) : forwarder_(forwarder) {}

  // Sends every parked call to `leader` (when there is one).
  void SetLeader(const std::optional<cluster::PeerHub>& leader);
  std::optional<cluster::PeerHub> leader() const;

  // `call.resubmit_on_loss` marks a held call. Without a known dispatcher a held call is
  // parked; another is answered 503.
  void Forward(const http::ServerRequest& request, PeerCall call, http::Responder responder);
  void OnDisconnect(uint64_t connection_id);
  // Answers every parked call with `error` (HTTP status by its code).
  void FailParked(const Error& error);
  // Held calls in flight or parked.
  size_t held() const;

 private:
  struct Pending {
    uint64_t order = 0;
    http::ServerRequest request;  // kept for a re-submission
    PeerCall call;
    http::Responder responder;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  };
  void Send(std::shared_ptr<Pending> pending, const cluster::PeerHub& leader);
  void Done(std::shared_ptr<Pending> pending, ForwardOutcome outcome, http::Responder responder);

  PeerForwarder& forwarder_;
  mutable Mutex mu_;
  std::optional<cluster::PeerHub> leader_ GUARDED_BY(mu_);
  uint64_t next_order_ GUARDED_BY(mu_) = 1;
  // Held calls by arrival order, in flight or parked; parked_ holds the ones waiting for a
  // dispatcher, by_connection_ finds a client's call when it leaves.
  std::map<uint64_t, std::shared_ptr<Pending>> held_ GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<Pending>> parked_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, uint64_t> by_connection_ GUARDED_BY(mu_);
};

}  // namespace gridhub::hub
