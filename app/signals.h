#pragma once

// How every gridhub command waits for its signals: SIGINT and SIGTERM stop it, SIGHUP reloads
// its settings. The signals are blocked in every thread and taken synchronously by the main
// thread (sigtimedwait), so what a signal does runs as ordinary code, never in a handler.
//
//   ProcessSignals signals;  // first, before any thread starts: threads inherit the mask
//   HubService hub(settings, clock);
//   ...
//   WaitForStop(signals, {.reload = [&] { Reload(hub); },
//                         .stop = [](int) { return true; }});
//   hub.Stop();
//
// Thread-compatible: one thread (the main one) constructs and waits.

#include <signal.h>

#include <chrono>
#include <functional>
#include <optional>

namespace gridhub::app {

class ProcessSignals {
 public:
  // Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and ignores SIGPIPE (a client that
  // goes away must not end the process).
  ProcessSignals();
  // The next of those signals, or 0 when `timeout` passed first (nullopt: wait without limit).
  int Wait(std::optional<std::chrono::milliseconds> timeout) const;

 private:
  sigset_t set_;
};

// What a command does on each signal.
struct SignalActions {
  std::function<void()> reload;  // SIGHUP; nullptr: ignored
  // SIGINT or SIGTERM (the number is passed): true stops waiting, false waits on (a node
  // drains on the first and stops on the second).
  std::function<bool(int signal_number)> stop;
  // Asked every 200 ms; true stops waiting without a signal (a node that drained). nullptr:
  // only a signal stops.
  std::function<bool()> done;
};

// Waits until `actions.stop` says so or `actions.done` is true.
void WaitForStop(const ProcessSignals& signals, const SignalActions& actions);

}  // namespace gridhub::app
