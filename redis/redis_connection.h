#pragma once

// One connection to Redis (hiredis, blocking, with timeouts): commands, pipelines and Lua
// scripts, each call returning an owned Reply or an Error that names Redis and its address.
//
//   RedisConnection redis({.url = *RedisUrl::Parse("redis://127.0.0.1:6379/1"),
//                          .command_timeout = std::chrono::milliseconds(500)});
//   Result<Reply> hits = redis.Command("INCR", "hits");
//   Result<std::vector<Reply>> both = redis.Pipeline({{"GET", "a"}, {"GET", "b"}});
//   Result<Reply> renewed = redis.Eval(kRenewScript, {"lease:x"}, {"hub-1", "3000"});
//
// It connects on the first call. A call that fails on I/O (Redis gone, a timeout) returns that
// Error and drops the connection; the next call connects again, so a Redis that comes back is
// used without anyone restarting anything. After a timeout the command may or may not have
// run on the server: callers that care make their writes idempotent (scripts that compare and
// set). Not thread-safe: one thread at a time, or one connection per thread.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "redis/hiredis_context.h"
#include "redis/redis_url.h"
#include "redis/reply.h"
#include "redis/script.h"

namespace gridhub::redis {

struct RedisOptions {
  RedisUrl url;
  // Bounds connecting (TCP connect, then AUTH and SELECT each get command_timeout).
  std::chrono::milliseconds connect_timeout{1000};
  // Bounds each read and write of a command's round trip.
  std::chrono::milliseconds command_timeout{1000};
};

class RedisConnection {
 public:
  using Args = std::vector<std::string>;

  explicit RedisConnection(RedisOptions options);
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects now (a call connects anyway when needed): for a clear error at start.
  Status Connect();
  bool connected() const { return context_ != nullptr; }
  const RedisOptions& options() const { return options_; }

  Result<Reply> Command(const Args& args);
  template <typename... T>
  Result<Reply> Command(std::string_view name, const T&... args) {
    return Command(Args{std::string(name), std::string(args)...});
  }

  // Sends every command, then reads every reply: one round trip. The replies come in order;
  // an error reply for one command does not stop the others.
  Result<std::vector<Reply>> Pipeline(const std::vector<Args>& commands);

  // EVALSHA, and on NOSCRIPT (a Redis flushed or restarted empty) EVAL, which also loads it.
  Result<Reply> Eval(const Script& script, const Args& keys, const Args& args);

 private:
  Status EnsureConnected();
  // Drops the connection after an I/O error (hiredis cannot use a context with err set).
  Error Fail(std::string_view doing);

  RedisOptions options_;
  internal::ContextPtr context_;
};

}  // namespace gridhub::redis
