#pragma once

// A dedicated Redis connection on its own thread, subscribed to channels (SUBSCRIBE) and
// patterns (PSUBSCRIBE), calling on_message for each message. When Redis goes away (closed,
// killed, or silent past a PING) it reports kDown, reconnects with exponential backoff,
// subscribes again and reports kUp; messages published while it was down are lost (pub/sub
// keeps none), so a user re-reads state on kUp.
//
//   RedisSubscriber events({.url = url, .channels = {"gridhub:queue"},
//                           .on_message = [&](const PubSubMessage& m) { Wake(m.payload); },
//                           .on_state = [&](LinkState s, std::string_view why) { ... }});
//   if (Status s = events.Start(); !s.ok()) return s;
//   ...
//   events.Stop();  // joins within a moment (a connect in progress: connect_timeout at most)
//
// Callbacks run on the subscriber's thread, one at a time; they must not call Stop() (it joins
// that thread). Start() and Stop() are for one owning thread; the destructor stops.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "redis/hiredis_context.h"
#include "redis/redis_url.h"

namespace gridhub::redis {

struct PubSubMessage {
  std::string pattern;  // the PSUBSCRIBE pattern that matched; empty for a SUBSCRIBE channel
  std::string channel;
  std::string payload;
};

enum class LinkState { kUp, kDown };

struct SubscriberOptions {
  RedisUrl url;
  std::vector<std::string> channels;
  std::vector<std::string> patterns;
  std::function<void(const PubSubMessage&)> on_message;
  // Transitions only: kUp once subscribed, kDown (with the reason) when that is lost or the
  // first attempt fails.
  std::function<void(LinkState, std::string_view why)> on_state;
  std::chrono::milliseconds connect_timeout{1000};
  // Silence this long sends a PING; no answer within as long again means the link is down.
  std::chrono::milliseconds ping_interval{1000};
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
};

class RedisSubscriber {
 public:
  explicit RedisSubscriber(SubscriberOptions options);
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  // Starts the thread (again after a Stop()); an Error only when no eventfd can be made.
  Status Start();
  void Stop();

 private:
  void Run();
  // Connects and subscribes; the Error says why not.
  Result<internal::ContextPtr> Subscribe();
  // Reads messages until the link fails (returns why) or Stop() (returns nothing).
  std::string Listen(redisContext& c);
  // Handles one reply in subscribed mode; false for one that makes no sense there.
  bool Dispatch(const Reply& reply, size_t& pending_confirmations, bool& ping_outstanding);
  // Waits up to `d` for Stop(); true when stopping.
  bool WaitForStop(std::chrono::milliseconds d);
  void Report(LinkState state, std::string_view why);

  SubscriberOptions options_;
  int wake_fd_ = -1;  // eventfd: Stop() makes it readable, which ends any wait of the thread
  std::thread thread_;
  bool have_state_ = false;  // thread-only
  LinkState state_ = LinkState::kDown;
};

}  // namespace gridhub::redis
