#pragma once

// The routes of sessions this hub does not run itself, in a grid of several hubs (DESIGN §8):
// a session created through another hub, or before this hub became the dispatcher, is found
// in the shared store (cluster/cluster_state.h) on its first command and kept here, so later
// commands cost no store round trip. A session that ends anywhere in the grid is dropped
// (Forget, from the store's session-ended message), so a route is never used after its end.
//
//   RouteCache routes(state);
//   std::optional<SessionRoute> route = routes.Find(SessionId(id));  // cache, else the store
//   routes.Forget(SessionId(id));                                    // on_session_ended
//
// Thread-safe. A store that cannot be reached answers nullopt (the session is unknown here).

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "cluster/cluster_state.h"
#include "common/mutex.h"
#include "common/strong_id.h"
#include "hub/session_record.h"

namespace gridhub::hub {

class RouteCache {
 public:
  // `state` must outlive the cache.
  explicit RouteCache(cluster::ClusterState& state) : state_(state) {}

  std::optional<SessionRoute> Find(const SessionId& session);
  void Forget(const SessionId& session);
  // A route another hub stored (on_route_stored), as JSON; ignored when it does not check out.
  void Put(const std::string& route_json);
  // Every cached route goes (the store was emptied, or this hub's view may be stale).
  void Clear();
  size_t size() const;

 private:
  // Bounded: a flood of ids never grows the cache past what is live. Beyond this many entries
  // the cache is emptied and refilled from the store on demand.
  static constexpr size_t kMaxEntries = 65536;

  cluster::ClusterState& state_;
  mutable Mutex mu_;
  std::unordered_map<std::string, SessionRoute> routes_ GUARDED_BY(mu_);
  uint64_t forgets_ GUARDED_BY(mu_) = 0;  // Forget and Clear calls so far (see Find)
};

}  // namespace gridhub::hub
