#pragma once

// Internal to redis/: what RedisConnection and RedisSubscriber share about a raw hiredis
// context — opening one (connect, timeouts, AUTH, SELECT), turning its failures into Errors
// that name Redis and the address, and copying replies into owned Reply values. Not for use
// outside this folder: callers see Reply and Result only.

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "redis/redis_url.h"
#include "redis/reply.h"

namespace gridhub::redis::internal {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

struct ReplyFree {
  void operator()(void* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

struct Timeouts {
  std::chrono::milliseconds connect;
  std::chrono::milliseconds command;
};

// Connects within timeouts.connect, sets timeouts.command on reads and writes, then logs in and
// selects url.db. The Error names the Redis ("Redis at 10.0.0.5:6379: ..."), never the password.
Result<ContextPtr> OpenContext(const RedisUrl& url, const Timeouts& timeouts);

// The Error for a context whose err is set: kTimeout when a read or write ran out of time,
// kUnavailable otherwise. `doing` says what was under way ("reading a reply").
Error ContextError(const redisContext& c, const RedisUrl& url, std::string_view doing,
                   std::chrono::milliseconds timeout);

Reply ToReply(const redisReply& reply);

// Sends one command and reads its reply on a blocking context.
Result<Reply> RoundTrip(redisContext& c, const RedisUrl& url, std::chrono::milliseconds timeout,
                        const std::vector<std::string>& args);

// Queues one command in the context's output buffer (nothing is sent yet).
void Append(redisContext& c, const std::vector<std::string>& args);

}  // namespace gridhub::redis::internal
