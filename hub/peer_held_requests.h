#pragma once

// The new-session requests this hub holds for its own clients while they are forwarded to the
// leader (DESIGN §8): when the leader is lost they are re-submitted to the next one in the
// order this hub admitted them. A pure container; the forwarding itself is peer_forwarder.h.
//
//   held.Add({.order = n, .method = "POST", .path = "/session", ...}, responder);
//   held.Remove(n);                       // answered
//   held.RemoveConnection(connection);    // the client left
//   for (HeldRequest& r : held.TakeAllInOrder()) forwarder.Forward(...);
//
// Thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "http/http_server.h"
#include "http/http_types.h"

namespace gridhub::hub {

struct HeldRequest {
  uint64_t order = 0;  // this hub's admission sequence (X-Gridhub-Order)
  // A copy of what the client sent (the ServerRequest is gone once its handler returned).
  http::ServerRequest request;
  http::Responder responder;
};

class HeldRequests {
 public:
  // False (and nothing changes) when `order` is already held.
  bool Add(HeldRequest held);
  // The request held under `order`, taken out; nullopt when none.
  std::optional<HeldRequest> Remove(uint64_t order);
  // Every request of `connection_id` (its client left), taken out in order.
  std::vector<HeldRequest> RemoveConnection(uint64_t connection_id);
  // Everything held, lowest order first; the container is empty afterwards.
  std::vector<HeldRequest> TakeAllInOrder();
  size_t size() const;

 private:
  mutable Mutex mu_;
  std::map<uint64_t, HeldRequest> held_ GUARDED_BY(mu_);
};

}  // namespace gridhub::hub
