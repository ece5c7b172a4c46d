#pragma once

// A named lease in Redis: at most one owner holds it at a time, for `ttl` unless renewed.
// Issue 13 uses it so a status-probed node is probed by one hub at a time, and (if chosen) for
// a dispatcher hub. Acquire is SET NX PX; Renew and Release are Lua compare-and-set scripts,
// so only the holder extends or frees it — an owner whose lease lapsed and was taken by
// another cannot renew or release the new holder's.
//
//   RedisLease probe(redis, "gridhub:lease:probe:node-7", "hub-a", std::chrono::seconds(3));
//   Result<bool> mine = probe.Acquire();
//   if (mine.ok() && *mine) { Probe(); probe.Renew(); ... probe.Release(); }
//
// Clock skew does not matter: the TTL runs on the Redis server. A holder must renew well
// within ttl (a third of it, say) and stop acting as holder once a Renew says false or fails
// for longer than the ttl. Uses the RedisConnection it is given, so it is as thread-safe as
// that connection (not at all): one thread at a time.

#include <chrono>
#include <optional>
#include <string>

#include "common/result.h"
#include "redis/redis_connection.h"

namespace gridhub::redis {

class RedisLease {
 public:
  // REQUIRES: connection outlives the lease; owner is not empty; ttl >= 1 ms.
  RedisLease(RedisConnection& connection, std::string key, std::string owner,
             std::chrono::milliseconds ttl);

  // True when this owner holds the lease now (newly, or already: then the TTL starts again).
  Result<bool> Acquire();
  // True when this owner held it and its TTL starts again; false when someone else (or no
  // one) holds it.
  Result<bool> Renew();
  // True when this owner held it and it is now free; false when it was not this owner's.
  Result<bool> Release();
  // Who holds it now; nullopt when no one does.
  Result<std::optional<std::string>> Holder();

  const std::string& key() const { return key_; }
  const std::string& owner() const { return owner_; }

 private:
  // 1 or 0 from a script or SET: anything else (an error reply) becomes an Error.
  Result<bool> ToBool(Result<Reply> reply, std::string_view what) const;

  RedisConnection& connection_;
  std::string key_;
  std::string owner_;
  std::chrono::milliseconds ttl_;
};

}  // namespace gridhub::redis
