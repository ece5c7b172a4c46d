#include "redis/redis_lease.h"

#include <cassert>
#include <utility>

namespace gridhub::redis {
namespace {

// KEYS[1] lease, ARGV[1] owner, ARGV[2] ttl in ms. Compare and set in one step on the server:
// between a GET and a PEXPIRE sent apart, the lease could lapse and pass to another owner.
const Script kRenew(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n");

// KEYS[1] lease, ARGV[1] owner.
const Script kRelease(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n");

}  // namespace

RedisLease::RedisLease(RedisConnection& connection, std::string key, std::string owner,
                       std::chrono::milliseconds ttl)
    : connection_(connection), key_(std::move(key)), owner_(std::move(owner)), ttl_(ttl) {
  assert(!owner_.empty() && ttl_.count() >= 1);
}

Result<bool> RedisLease::ToBool(Result<Reply> reply, std::string_view what) const {
  if (!reply.ok()) return reply.error();
  if (reply->is_integer()) return reply->integer() == 1;
  if (reply->IsStatus("OK")) return true;
  if (reply->is_nil()) return false;
  return Error{ErrorCode::kUnavailable,
               "Redis lease " + key_ + ": " + std::string(what) + " answered " + reply->ToString()};
}

Result<bool> RedisLease::Acquire() {
  Result<bool> taken =
      ToBool(connection_.Command("SET", key_, owner_, "NX", "PX", std::to_string(ttl_.count())),
             "SET NX PX");
  if (!taken.ok() || *taken) return taken;
  // Held already; if by this owner, acquiring again is renewing.
  return Renew();
}

Result<bool> RedisLease::Renew() {
  return ToBool(connection_.Eval(kRenew, {key_}, {owner_, std::to_string(ttl_.count())}),
                "renewing");
}

Result<bool> RedisLease::Release() {
  return ToBool(connection_.Eval(kRelease, {key_}, {owner_}), "releasing");
}

Result<std::optional<std::string>> RedisLease::Holder() {
  Result<Reply> reply = connection_.Command("GET", key_);
  if (!reply.ok()) return reply.error();
  if (reply->is_nil()) return std::optional<std::string>();
  if (reply->is_string()) return std::optional<std::string>(reply->str());
  return Error{ErrorCode::kUnavailable,
               "Redis lease " + key_ + ": GET answered " + reply->ToString()};
}

}  // namespace gridhub::redis
