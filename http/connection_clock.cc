#include "http/connection_clock.h"

namespace gridhub::http {

ConnectionClock::ConnectionClock(SteadyTime accepted)
    : accepted_(accepted), idle_since_(accepted), head_since_(accepted), window_start_(accepted) {}

void ConnectionClock::Observe(FramePhase phase, size_t body_wire_bytes, SteadyTime now) {
  if (phase == last_phase_) return;
  if (phase == FramePhase::kHead) {
    // The first head counts from the accept: a connection that dribbles nothing, then one
    // byte, does not get a fresh header timeout.
    head_since_ = first_request_ ? accepted_ : now;
  } else if (phase == FramePhase::kBody) {
    first_request_ = false;
    window_start_ = now;
    window_base_ = body_wire_bytes;
  } else {
    first_request_ = false;
    idle_since_ = now;
  }
  last_phase_ = phase;
}

void ConnectionClock::OnRequest(SteadyTime now) {
  first_request_ = false;
  last_phase_ = FramePhase::kIdle;
  idle_since_ = now;
}

Expiry ConnectionClock::Check(FramePhase phase, size_t body_wire_bytes, bool held, SteadyTime now,
                              const TimeLimits& limits) {
  Observe(phase, body_wire_bytes, now);
  if (held) {
    idle_since_ = now;
    return Expiry::kNone;
  }
  switch (phase) {
    case FramePhase::kIdle: {
      if (first_request_) {
        return now - accepted_ > limits.header_timeout ? Expiry::kClose : Expiry::kNone;
      }
      return now - idle_since_ > limits.idle_timeout ? Expiry::kClose : Expiry::kNone;
    }
    case FramePhase::kHead:
      return now - head_since_ > limits.header_timeout ? Expiry::kTimeout : Expiry::kNone;
    case FramePhase::kBody: {
      if (limits.min_body_rate == 0 || now - window_start_ < limits.header_timeout) {
        return Expiry::kNone;
      }
      const double seconds = std::chrono::duration<double>(now - window_start_).count();
      const double wanted = seconds * static_cast<double>(limits.min_body_rate);
      if (static_cast<double>(body_wire_bytes - window_base_) < wanted) return Expiry::kTimeout;
      window_start_ = now;
      window_base_ = body_wire_bytes;
      return Expiry::kNone;
    }
  }
  return Expiry::kNone;
}

}  // namespace gridhub::http
