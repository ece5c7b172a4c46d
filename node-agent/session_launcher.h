#pragma once

// Starts the backend of one new session and asks it for the session: a driver process of the
// slot's `driver` command on a free loopback port (with a per-session log and Chromium profile,
// ready once its /status answers 200, polled with a short backoff), or the slot's `relay` URL (an
// existing WebDriver server, e.g. Appium). It parses the backend's answer into a session id,
// capabilities and the body to pass on, and stops what it started. It keeps no table of sessions:
// the NodeAgent does.
//
//   SessionLauncher launcher(options, clock, client);
//   Backend backend;
//   Result<CreatedSession> created = launcher.Launch(
//       slot, caps, /*sequence=*/7, [](int) { /* driver exited */ }, [] { return false; },
//       backend);
//   if (!created.ok()) launcher.Stop(backend);   // Launch leaves what it started to the caller
//   ...
//   launcher.DeleteOnDriver(backend, created->id);
//   launcher.Stop(backend);                       // SIGTERM, SIGKILL after the stop grace
//
// Thread-safety: every method may run on any thread at once (each call works on the Backend
// it is given, which its caller owns); Launch, DeleteOnDriver and Stop block.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/strong_id.h"
#include "config/settings.h"
#include "http/http_client.h"
#include "node-agent/driver_process.h"
#include "node-agent/spare_drivers.h"

namespace gridhub::node {

struct LauncherOptions {
  std::string work_dir;  // session-<n>/profile and logs/session-<n>.log go here
  Duration driver_ready_timeout = std::chrono::seconds(20);
  Duration session_create_timeout = std::chrono::seconds(60);
  Duration stop_grace = std::chrono::seconds(5);  // SIGTERM to SIGKILL for a driver
  size_t max_response_body = size_t{64} << 20;    // largest new-session answer read
  // Keep a started, ready driver per driver command for the next session (spare_drivers.h):
  // PrepareSpare() starts the first, each session's start the next.
  bool spare_drivers = false;
};

// Where a session's commands go, and what ending it must clean up.
struct Backend {
  std::string url;          // the driver's or relay's base URL, without a trailing slash
  std::string session_dir;  // "" for a relay
  std::string log_path;     // "" for a relay
  std::unique_ptr<DriverProcess> process;  // null for a relay (or once stopped)

  // "driver pid 123, log /w/logs/session-1.log" or "relay http://10.0.0.9:4723".
  std::string Describe() const;
};

// How long each step of a launch took: the session's folders and the driver's spawn, the wait
// for its /status, and the backend's own POST /session (for chromedriver: starting the
// browser). Zero for a step that did not run (a relay has no spawn and no wait).
struct LaunchTimes {
  Duration spawn{};
  Duration ready{};
  Duration create{};
};

// "spawn 1 ms, driver ready 9 ms, create 480 ms" (spawn and ready left out when zero). Pure.
std::string DescribeTimes(const LaunchTimes& times);

// A backend's yes to a new session.
struct CreatedSession {
  SessionId id;
  nlohmann::json capabilities = nlohmann::json::object();  // as the backend reported them
  std::string body;  // its whole answer, passed on byte for byte
  LaunchTimes times;
};

// The wait after the n-th failed readiness poll (n from 0): 2 ms, growing by half each time up
// to 25 ms. chromedriver answers /status about 10 ms after its spawn, so a fixed 50 ms poll made
// every session wait ~40 ms for nothing; the growth keeps a slow driver (geckodriver, a busy
// machine) to a few polls a second. Pure.
Duration ReadyPollDelay(int failed_polls);

// Classifies a backend's new-session answer: 200 with value.sessionId, else kSessionNotCreated
// with the backend's own message ("driver refused the session: ...") or its status and body.
// Pure.
Result<CreatedSession> ParseCreateAnswer(const http::ClientResponse& answer);

// The driver command with its port: "{port}" replaced in any argument, or --port=N appended
// (chromedriver, geckodriver, msedgedriver and safaridriver all take it).
std::vector<std::string> DriverArgv(const std::vector<std::string>& command, uint16_t port);

class SessionLauncher {
 public:
  SessionLauncher(LauncherOptions options, const Clock& clock, http::HttpClient& client);
  ~SessionLauncher();  // StopSpares()
  SessionLauncher(const SessionLauncher&) = delete;
  SessionLauncher& operator=(const SessionLauncher&) = delete;

  // Starts `slot`'s backend and creates a session with `caps` on it. `sequence` names the
  // session's directory and log; `on_exit` runs on the reaper thread if the driver exits;
  // `cancelled` is asked while waiting for the driver (the node is stopping). `backend` is
  // filled as far as the launch got, also on failure: the caller then passes it to Stop().
  // A slot with `downloads: true` also gets session-<n>/downloads, the browser's prefs pointing
  // there (PrepareForBrowser) and `se:downloadsEnabled: true` in the answer's capabilities.
  Result<CreatedSession> Launch(const config::SlotConfig& slot, nlohmann::json caps,
                                uint64_t sequence, DriverProcess::ExitCallback on_exit,
                                const std::function<bool()>& cancelled, Backend& backend);

  // DELETE /session/{id} on the backend; its answer (a transport failure included).
  http::ClientResponse DeleteOnDriver(const Backend& backend, const SessionId& id);

  // Stops the driver (SIGTERM, then SIGKILL after the stop grace) and removes the session's
  // directory. A relay is left running. Idempotent.
  void Stop(Backend& backend);

  // With spare_drivers, begins starting a spare for a driver slot (no-op for a relay).
  void PrepareSpare(const config::SlotConfig& slot);
  // Whether `slot` has a spare ready now.
  bool HasSpare(const config::SlotConfig& slot) const;
  // Terminates the spares and starts no more (the node is stopping). Idempotent.
  void StopSpares();

 private:
  // The session's folders and its driver, ready: a spare if one is there, else spawned now.
  Status StartDriver(const config::SlotConfig& slot, uint64_t sequence,
                     DriverProcess::ExitCallback on_exit, const std::function<bool()>& cancelled,
                     Backend& backend, LaunchTimes& times);
  // Takes the slot's spare into `backend` (its log renamed to the session's); false if none.
  bool AdoptSpare(const config::SlotConfig& slot, const DriverProcess::ExitCallback& on_exit,
                  Backend& backend);
  Result<StartedDriver> SpawnDriver(const std::vector<std::string>& command,
                                    const std::string& log_path,
                                    DriverProcess::ExitCallback on_exit);
  Result<StartedDriver> StartSpare(const std::vector<std::string>& command,
                                   const std::function<bool()>& cancelled);
  Status WaitReady(const std::string& driver, const std::string& url, DriverProcess& process,
                   const std::function<bool()>& cancelled);
  // POST /session with `caps` to the backend; `who` names it in errors ("driver", "relay ...").
  Result<http::ClientResponse> AskForSession(const Backend& backend, const nlohmann::json& caps,
                                             const std::string& who);

  const LauncherOptions options_;
  const Clock& clock_;
  http::HttpClient& client_;
  std::atomic<uint64_t> spares_started_{0};  // names the spares' logs
  std::unique_ptr<SpareDrivers> spares_;     // last: stopped before the members it uses go
};

}  // namespace gridhub::node
