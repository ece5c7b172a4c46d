#pragma once

// The time limits of one inbound connection, as a value: http_server.cc tells it what the
// connection is doing and asks, on each tick, whether it has overstayed. Pure (the time is
// passed in), so every limit is tested without sockets or sleeps.
//
//   ConnectionClock clock(now);                       // accepted
//   clock.Observe(framer.phase(), framer.body_wire_bytes(), now);  // after each read
//   switch (clock.Check(framer.phase(), framer.body_wire_bytes(), held, now, limits)) { ... }

#include <chrono>
#include <cstddef>

#include "http/request_head.h"

namespace gridhub::http {

using SteadyTime = std::chrono::steady_clock::time_point;

struct TimeLimits {
  // A request head must be complete this long after its first byte; a new connection must
  // have sent its first head this long after it was accepted.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(30);
  // A body must bring at least this many bytes per second, measured over consecutive windows
  // of header_timeout that start when its head is complete. 0 = no minimum.
  size_t min_body_rate = 4096;
  // A connection with no request in progress and none awaiting its answer is closed after
  // this long.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(300);
};

enum class Expiry {
  kNone,
  kClose,    // idle: close without a word (a 408 could race with the client's next request)
  kTimeout,  // part of a request arrived, too slowly: answer 408 and close
};

class ConnectionClock {
 public:
  explicit ConnectionClock(SteadyTime accepted);

  // After input was consumed: notes when a head or body began.
  void Observe(FramePhase phase, size_t body_wire_bytes, SteadyTime now);
  // A whole request was read (and handed on); the next one starts from idle.
  void OnRequest(SteadyTime now);
  // `held`: a request of this connection awaits its answer (a long-polled POST /session);
  // nothing expires then, and the idle time starts again once it is answered.
  Expiry Check(FramePhase phase, size_t body_wire_bytes, bool held, SteadyTime now,
               const TimeLimits& limits);

 private:
  SteadyTime accepted_;
  bool first_request_ = true;  // no head has been completed on this connection yet
  FramePhase last_phase_ = FramePhase::kIdle;
  SteadyTime idle_since_;
  SteadyTime head_since_;
  SteadyTime window_start_;
  size_t window_base_ = 0;  // body_wire_bytes at window_start_
};

}  // namespace gridhub::http
