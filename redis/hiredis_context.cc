#include "redis/hiredis_context.h"

#include <fcntl.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace gridhub::redis::internal {
namespace {

timeval ToTimeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

Error RedisError(const RedisUrl& url, std::string_view what,
                 ErrorCode code = ErrorCode::kUnavailable) {
  return Error{code, "Redis at " + url.Address() + ": " + std::string(what)};
}

// AUTH and SELECT, whose error replies become Errors: a connection that is not logged in or
// is on the wrong database must not be used.
Status LogIn(redisContext& c, const RedisUrl& url, std::chrono::milliseconds timeout) {
  if (!url.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!url.username.empty()) auth.push_back(url.username);
    auth.push_back(url.password);
    Result<Reply> reply = RoundTrip(c, url, timeout, auth);
    if (!reply.ok()) return reply.error();
    // The reply text ("WRONGPASS invalid username-password pair") never holds the password.
    // kForbidden, not kUnavailable: a wrong password is the configuration's fault, and waiting
    // for Redis to come back will not mend it.
    if (reply->is_error()) {
      return RedisError(url, "AUTH refused: " + reply->str(), ErrorCode::kForbidden);
    }
  }
  if (url.db != 0) {
    Result<Reply> reply = RoundTrip(c, url, timeout, {"SELECT", std::to_string(url.db)});
    if (!reply.ok()) return reply.error();
    if (reply->is_error()) {
      return RedisError(url, "SELECT " + std::to_string(url.db) + " refused: " + reply->str(),
                        ErrorCode::kForbidden);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ContextPtr> OpenContext(const RedisUrl& url, const Timeouts& timeouts) {
  ContextPtr c(redisConnectWithTimeout(url.host.c_str(), url.port, ToTimeval(timeouts.connect)));
  if (!c) return RedisError(url, "out of memory creating a connection");
  if (c->err) return ContextError(*c, url, "connecting", timeouts.connect);
  // hiredis 0.14 opens its socket without close-on-exec; a child process (a driver, a test's
  // redis-server) must not hold our connection open after we close it.
  ::fcntl(c->fd, F_SETFD, ::fcntl(c->fd, F_GETFD) | FD_CLOEXEC);
  if (redisSetTimeout(c.get(), ToTimeval(timeouts.command)) != REDIS_OK) {
    return ContextError(*c, url, "setting the command timeout", timeouts.command);
  }
  if (Status s = LogIn(*c, url, timeouts.command); !s.ok()) return s.error();
  return c;
}

Error ContextError(const redisContext& c, const RedisUrl& url, std::string_view doing,
                   std::chrono::milliseconds timeout) {
  // hiredis 0.14 reports a socket timeout as an I/O error with EAGAIN's text.
  const bool timed_out =
      (c.err == REDIS_ERR_IO && std::strcmp(c.errstr, std::strerror(EAGAIN)) == 0) ||
      std::strstr(c.errstr, "timed out") != nullptr;
  if (timed_out) {
    return Error{ErrorCode::kTimeout, "Redis at " + url.Address() + ": no answer within " +
                                          std::to_string(timeout.count()) + " ms " +
                                          std::string(doing)};
  }
  const std::string why = c.err == REDIS_ERR_EOF ? "connection closed by Redis" : c.errstr;
  return RedisError(url, std::string(doing) + ": " + why);
}

Reply ToReply(const redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      return Reply::Integer(reply.integer);
    case REDIS_REPLY_STRING:
      return Reply::String(std::string(reply.str, reply.len));
    case REDIS_REPLY_STATUS:
      return Reply::Status(std::string(reply.str, reply.len));
    case REDIS_REPLY_ERROR:
      return Reply::Error(std::string(reply.str, reply.len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) elements.push_back(ToReply(*reply.element[i]));
      return Reply::Array(std::move(elements));
    }
    default:
      return Reply::Nil();
  }
}

void Append(redisContext& c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  redisAppendCommandArgv(&c, static_cast<int>(args.size()), argv.data(), lengths.data());
}

Result<Reply> RoundTrip(redisContext& c, const RedisUrl& url, std::chrono::milliseconds timeout,
                        const std::vector<std::string>& args) {
  Append(c, args);
  void* raw = nullptr;
  if (redisGetReply(&c, &raw) != REDIS_OK) return ContextError(c, url, "reading a reply", timeout);
  ReplyPtr reply(static_cast<redisReply*>(raw));
  return ToReply(*reply);
}

}  // namespace gridhub::redis::internal
