#include "app/signals.h"

#include <pthread.h>

#include <ctime>

namespace gridhub::app {

namespace {

// How often a command with a `done` condition looks at it between signals.
constexpr std::chrono::milliseconds kPollDone(200);

}  // namespace

ProcessSignals::ProcessSignals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int ProcessSignals::Wait(std::optional<std::chrono::milliseconds> timeout) const {
  if (!timeout.has_value()) {
    int signal_number = 0;
    return sigwait(&set_, &signal_number) == 0 ? signal_number : 0;
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*timeout);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout - seconds);
  timespec wait{static_cast<time_t>(seconds.count()), static_cast<long>(nanos.count())};
  const int signal_number = ::sigtimedwait(&set_, nullptr, &wait);
  return signal_number < 0 ? 0 : signal_number;
}

void WaitForStop(const ProcessSignals& signals, const SignalActions& actions) {
  std::optional<std::chrono::milliseconds> timeout;
  if (actions.done) timeout = kPollDone;
  while (!(actions.done && actions.done())) {
    const int signal_number = signals.Wait(timeout);
    if (signal_number == 0) continue;  // timed out, or interrupted
    if (signal_number == SIGHUP) {
      if (actions.reload) actions.reload();
      continue;
    }
    if (actions.stop(signal_number)) return;
  }
}

}  // namespace gridhub::app
