#include "redis/redis_subscriber.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>

namespace gridhub::redis {
namespace {

// Writes the context's output buffer out (subscribed mode has no redisGetReply to do it).
bool Flush(redisContext& c) {
  int done = 0;
  while (!done) {
    if (redisBufferWrite(&c, &done) != REDIS_OK) return false;
  }
  return true;
}

int Millis(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

}  // namespace

RedisSubscriber::RedisSubscriber(SubscriberOptions options) : options_(std::move(options)) {}

RedisSubscriber::~RedisSubscriber() { Stop(); }

Status RedisSubscriber::Start() {
  if (thread_.joinable()) return Status::Ok();
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  // Without it Stop() could not wake the thread: refuse rather than start one that cannot end.
  if (wake_fd_ < 0) return Error{ErrorCode::kInternal, "Redis subscriber: eventfd failed"};
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void RedisSubscriber::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of overflowing its counter, which one Stop cannot.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
  wake_fd_ = -1;
}

bool RedisSubscriber::WaitForStop(std::chrono::milliseconds d) {
  pollfd wake{.fd = wake_fd_, .events = POLLIN, .revents = 0};
  while (true) {
    const int n = ::poll(&wake, 1, Millis(d));
    if (n >= 0 || errno != EINTR) return n > 0;
  }
}

void RedisSubscriber::Report(LinkState state, std::string_view why) {
  if (have_state_ && state_ == state) return;
  have_state_ = true;
  state_ = state;
  if (options_.on_state) options_.on_state(state, why);
}

void RedisSubscriber::Run() {
  std::chrono::milliseconds backoff = options_.min_backoff;
  while (!WaitForStop(std::chrono::milliseconds(0))) {
    Result<internal::ContextPtr> c = Subscribe();
    std::string why;
    if (c.ok()) {
      why = Listen(**c);
      if (why.empty()) return;  // Stop()
      // It was up: the next attempt comes quickly, as after a restart Redis is back soon.
      if (have_state_ && state_ == LinkState::kUp) backoff = options_.min_backoff;
    } else {
      why = c.error().message;
    }
    Report(LinkState::kDown, why);
    if (WaitForStop(backoff)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

Result<internal::ContextPtr> RedisSubscriber::Subscribe() {
  Result<internal::ContextPtr> c = internal::OpenContext(
      options_.url, {.connect = options_.connect_timeout, .command = options_.connect_timeout});
  if (!c.ok()) return c.error();
  if (!options_.channels.empty()) {
    std::vector<std::string> args = {"SUBSCRIBE"};
    args.insert(args.end(), options_.channels.begin(), options_.channels.end());
    internal::Append(**c, args);
  }
  if (!options_.patterns.empty()) {
    std::vector<std::string> args = {"PSUBSCRIBE"};
    args.insert(args.end(), options_.patterns.begin(), options_.patterns.end());
    internal::Append(**c, args);
  }
  if (!Flush(**c)) {
    return internal::ContextError(**c, options_.url, "subscribing", options_.connect_timeout);
  }
  return c;
}

std::string RedisSubscriber::Listen(redisContext& c) {
  size_t pending = options_.channels.size() + options_.patterns.size();
  if (pending == 0) Report(LinkState::kUp, "");
  bool ping_outstanding = false;
  while (true) {
    void* raw = nullptr;
    while (redisGetReplyFromReader(&c, &raw) == REDIS_OK && raw != nullptr) {
      internal::ReplyPtr reply(static_cast<redisReply*>(raw));
      const Reply value = internal::ToReply(*reply);
      if (!Dispatch(value, pending, ping_outstanding)) {
        return "Redis at " + options_.url.Address() +
               ": unexpected reply while subscribed: " + value.ToString();
      }
    }
    if (c.err)
      return internal::ContextError(c, options_.url, "reading", options_.connect_timeout).message;
    pollfd fds[2] = {{.fd = c.fd, .events = POLLIN, .revents = 0},
                     {.fd = wake_fd_, .events = POLLIN, .revents = 0}};
    const int n = ::poll(fds, 2, Millis(options_.ping_interval));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "poll failed on the Redis subscription";
    if (fds[1].revents != 0) return "";
    if (n == 0) {
      // Silence: a Redis that is stopped or cut off sends nothing, not even a close.
      if (ping_outstanding) {
        return "Redis at " + options_.url.Address() + ": no answer to PING within " +
               std::to_string(options_.ping_interval.count()) + " ms";
      }
      internal::Append(c, {"PING"});
      if (!Flush(c))
        return internal::ContextError(c, options_.url, "sending PING", options_.connect_timeout)
            .message;
      ping_outstanding = true;
      continue;
    }
    if (redisBufferRead(&c) != REDIS_OK) {
      return internal::ContextError(c, options_.url, "reading", options_.connect_timeout).message;
    }
    ping_outstanding = false;  // anything read shows the link is alive
  }
}

bool RedisSubscriber::Dispatch(const Reply& reply, size_t& pending, bool& ping_outstanding) {
  if (!reply.is_array() || reply.elements().empty()) return false;
  const std::vector<Reply>& e = reply.elements();
  const std::string& kind = e[0].str();
  if (kind == "message" && e.size() == 3) {
    if (options_.on_message) options_.on_message({"", e[1].str(), e[2].str()});
  } else if (kind == "pmessage" && e.size() == 4) {
    if (options_.on_message) options_.on_message({e[1].str(), e[2].str(), e[3].str()});
  } else if (kind == "subscribe" || kind == "psubscribe") {
    if (pending > 0 && --pending == 0) Report(LinkState::kUp, "");
  } else if (kind == "pong") {
    ping_outstanding = false;
  }
  return true;
}

}  // namespace gridhub::redis
