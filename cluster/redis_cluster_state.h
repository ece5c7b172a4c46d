#pragma once

// ClusterState on one Redis (`hub.state: redis://...`, DESIGN §8). Keys: cluster_keys.h.
//
//   std::unique_ptr<ClusterState> state = MakeRedisClusterState(
//       {.url = *redis::RedisUrl::Parse("redis://10.0.0.9:6379"),
//        .self = {.id = hub_id, .url = "http://10.0.0.5:4444"}});
//   if (Status s = state->Start(callbacks); !s.ok()) return s;  // the store is unreachable
//
// Timings, all derived from peer_timeout unless set (defaults for peer_timeout = 10 s):
// - lease_ttl (peer_timeout / 2 = 5 s): the leader lease's TTL. A leader that dies unclean is
//   replaced within lease_ttl + one round; a clean Stop() releases it at once.
// - a keeper round every lease_ttl / 3 (1.67 s), lease_ttl / 6 after a failed one: it
//   refreshes this hub's presence (PX peer_timeout), acquires or renews the lease and reads
//   the leader. A hub whose presence was not refreshed for peer_timeout is not alive.
// - command_timeout (lease_ttl / 10 = 500 ms, at most 1 s): bounds every Redis call (and
//   connecting).
// - A leader that cannot reach the store steps down (on_deposed) lease_ttl − 2 × command_timeout
//   (4 s) after the start of its last successful renewal: even a round blocked in a connect and
//   a command then ends before the lease can lapse on the server and pass to another hub. Every
//   hub forgets the leader (on_leader_changed(nullopt)) at the same moment.
//
// Start() fails (naming the store) when the store cannot be reached then, and starts nothing;
// after it, the store counts as up, and on_store_state reports changes only. The first round
// (and so on_elected) follows on the keeper thread at once. Stop() fires no callback.
//
// The epoch key detects a Redis that lost its data: each round compares it with the one this
// hub saw; missing or different means on_store_reset (once), a new epoch and, if needed, a new
// peer secret (SET NX, then read back: every hub ends up with the same). on_session_ended comes
// to every hub, the one that called EndRoute included; on_settings to every hub but the
// publisher. PeerAlive asks Redis (EXISTS on the presence key) and answers true when the store
// cannot be reached: unknown is not dead, and Health() says the store is down.

#include <chrono>
#include <memory>

#include "cluster/cluster_state.h"
#include "redis/redis_url.h"

namespace gridhub::cluster {

struct RedisClusterOptions {
  redis::RedisUrl url;
  PeerHub self;
  std::chrono::milliseconds peer_timeout{10000};
  // 0: peer_timeout / 2.
  std::chrono::milliseconds lease_ttl{0};
  // 0: lease_ttl / 10, at most 1 s. REQUIRES: command_timeout <= lease_ttl / 4 when set.
  std::chrono::milliseconds command_timeout{0};
};

// REQUIRES: self.id and self.url not empty and without spaces; peer_timeout >= 6 ms.
std::unique_ptr<ClusterState> MakeRedisClusterState(RedisClusterOptions options);

}  // namespace gridhub::cluster
