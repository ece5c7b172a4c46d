#include "redis/redis_connection.h"

#include <utility>

namespace gridhub::redis {

RedisConnection::RedisConnection(RedisOptions options) : options_(std::move(options)) {}

Status RedisConnection::Connect() { return EnsureConnected(); }

Status RedisConnection::EnsureConnected() {
  if (context_) return Status::Ok();
  Result<internal::ContextPtr> c = internal::OpenContext(
      options_.url, {.connect = options_.connect_timeout, .command = options_.command_timeout});
  if (!c.ok()) return c.error();
  context_ = std::move(*c);
  return Status::Ok();
}

Error RedisConnection::Fail(std::string_view doing) {
  Error error = internal::ContextError(*context_, options_.url, doing, options_.command_timeout);
  context_.reset();
  return error;
}

Result<Reply> RedisConnection::Command(const Args& args) {
  Result<std::vector<Reply>> replies = Pipeline({args});
  if (!replies.ok()) return replies.error();
  return std::move(replies->front());
}

Result<std::vector<Reply>> RedisConnection::Pipeline(const std::vector<Args>& commands) {
  if (commands.empty()) return std::vector<Reply>{};
  for (const Args& args : commands) {
    if (args.empty()) return InvalidArgument("a Redis command needs at least its name");
  }
  if (Status s = EnsureConnected(); !s.ok()) return s.error();
  for (const Args& args : commands) internal::Append(*context_, args);
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    // The first redisGetReply flushes the output buffer, so a write failure shows here too.
    if (redisGetReply(context_.get(), &raw) != REDIS_OK) {
      return Fail(commands.size() == 1
                      ? "running " + commands[0].front()
                      : "running a pipeline of " + std::to_string(commands.size()) + " commands");
    }
    internal::ReplyPtr reply(static_cast<redisReply*>(raw));
    replies.push_back(internal::ToReply(*reply));
  }
  return replies;
}

Result<Reply> RedisConnection::Eval(const Script& script, const Args& keys, const Args& args) {
  // EVALSHA sha numkeys key... arg...; the same tail serves EVAL.
  Args command = {"EVALSHA", script.sha1(), std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  Result<Reply> reply = Command(command);
  if (!reply.ok() || !reply->is_error() || !reply->str().starts_with("NOSCRIPT")) return reply;
  command[0] = "EVAL";
  command[1] = script.text();
  return Command(command);
}

}  // namespace gridhub::redis
