#include "node-agent/session_launcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "http/json_body.h"
#include "node-agent/answer_fields.h"
#include "node-agent/free_port.h"
#include "node-agent/retry_report.h"
#include "node-agent/session_capabilities.h"
#include "node-agent/session_files.h"

namespace gridhub::node {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::chrono::microseconds kFirstReadyPoll{2000};
constexpr std::chrono::microseconds kLongestReadyPoll{25000};
constexpr std::chrono::seconds kStatusTimeout{2};
constexpr std::chrono::seconds kDriverDeleteTimeout{20};
// The most the node reads of a driver's /status or DELETE answer: small JSON objects.
constexpr size_t kSmallAnswer = size_t{1} << 20;

Error NotCreated(std::string message) {
  return Error{ErrorCode::kSessionNotCreated, std::move(message)};
}

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

fs::path SessionDir(const std::string& work_dir, uint64_t sequence) {
  return fs::path(work_dir) / ("session-" + std::to_string(sequence));
}

std::string Milliseconds(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

std::string DescribeTimes(const LaunchTimes& times) {
  std::string out;
  if (times.spawn > Duration::zero()) out += "spawn " + Milliseconds(times.spawn) + ", ";
  if (times.ready > Duration::zero()) out += "driver ready " + Milliseconds(times.ready) + ", ";
  return out + "create " + Milliseconds(times.create);
}

Duration ReadyPollDelay(int failed_polls) {
  Duration delay = kFirstReadyPoll;
  for (int i = 0; i < failed_polls && delay < kLongestReadyPoll; ++i) delay += delay / 2;
  return std::min<Duration>(delay, kLongestReadyPoll);
}

std::string Backend::Describe() const {
  return process ? "driver pid " + std::to_string(process->pid()) + ", log " + log_path
                 : "relay " + url;
}

Result<CreatedSession> ParseCreateAnswer(const http::ClientResponse& answer) {
  // Bounded nesting: the capabilities are copied, dumped and sent to the hub.
  json body;
  if (Result<json> parsed = http::ParseJsonBody(answer.body); parsed.ok())
    body = std::move(*parsed);
  const json* value = W3CValue(body);
  std::string id = value != nullptr ? StringMember(*value, "sessionId") : "";
  if (answer.status == 200 && !id.empty()) {
    CreatedSession created{.id = SessionId(std::move(id)), .body = answer.body};
    if (auto caps = value->find("capabilities"); caps != value->end() && caps->is_object()) {
      created.capabilities = *caps;
    }
    return created;
  }
  if (value != nullptr && value->contains("error")) {
    std::string message = StringMember(*value, "message");
    if (message.empty()) message = StringMember(*value, "error");
    return NotCreated("driver refused the session: " + message.substr(0, 2000));
  }
  return NotCreated("driver answered HTTP " + std::to_string(answer.status) + ": " +
                    answer.body.substr(0, 500));
}

std::vector<std::string> DriverArgv(const std::vector<std::string>& command, uint16_t port) {
  std::vector<std::string> argv;
  bool placed = false;
  for (std::string arg : command) {
    if (size_t at = arg.find("{port}"); at != std::string::npos) {
      arg.replace(at, 6, std::to_string(port));
      placed = true;
    }
    argv.push_back(std::move(arg));
  }
  if (!placed) argv.push_back("--port=" + std::to_string(port));
  return argv;
}

SessionLauncher::SessionLauncher(LauncherOptions options, const Clock& clock,
                                 http::HttpClient& client)
    : options_(std::move(options)), clock_(clock), client_(client) {
  if (!options_.spare_drivers) return;
  spares_ = std::make_unique<SpareDrivers>(
      [this](const SpareDrivers::Command& command, const std::function<bool()>& cancelled) {
        return StartSpare(command, cancelled);
      });
}

SessionLauncher::~SessionLauncher() { StopSpares(); }

Result<CreatedSession> SessionLauncher::Launch(const config::SlotConfig& slot, json caps,
                                               uint64_t sequence,
                                               DriverProcess::ExitCallback on_exit,
                                               const std::function<bool()>& cancelled,
                                               Backend& backend) {
  std::string who = "driver";
  LaunchTimes times;
  SteadyTime step = clock_.Now();
  if (!slot.relay.empty()) {
    // Relayed sessions get no local profile: the browser is not on this machine.
    backend.url = TrimSlash(slot.relay);
    who = "relay " + backend.url;
  } else {
    if (Status started = StartDriver(slot, sequence, std::move(on_exit), cancelled, backend, times);
        !started.ok()) {
      return started.error();
    }
    step = clock_.Now();
    fs::path dir = fs::absolute(backend.session_dir);
    PrepareForBrowser(
        caps, {.user_data_dir = (dir / "profile").string(),
               .as_root = ::geteuid() == 0,
               .download_dir = slot.downloads ? SessionFiles::DownloadDir(dir.string()) : ""});
  }
  Result<http::ClientResponse> answer = AskForSession(backend, caps, who);
  if (!answer.ok()) return answer.error();
  Result<CreatedSession> created = ParseCreateAnswer(*answer);
  if (!created.ok()) return created;
  times.create = clock_.Now() - step;
  created->times = times;
  // Now, not earlier: the spare's start does not compete with this session's browser start.
  if (spares_ && slot.relay.empty()) spares_->Refill(slot.driver);
  if (slot.downloads) {
    created->body = WithDownloadsEnabled(created->body);
    created->capabilities["se:downloadsEnabled"] = true;
  }
  return created;
}

void SessionLauncher::PrepareSpare(const config::SlotConfig& slot) {
  if (spares_ && slot.relay.empty() && !slot.driver.empty()) spares_->Refill(slot.driver);
}

bool SessionLauncher::HasSpare(const config::SlotConfig& slot) const {
  return spares_ && spares_->Has(slot.driver);
}

void SessionLauncher::StopSpares() {
  if (spares_) {
    spares_->Stop(std::chrono::duration_cast<std::chrono::milliseconds>(options_.stop_grace));
  }
}

Status SessionLauncher::StartDriver(const config::SlotConfig& slot, uint64_t sequence,
                                    DriverProcess::ExitCallback on_exit,
                                    const std::function<bool()>& cancelled, Backend& backend,
                                    LaunchTimes& times) {
  SteadyTime began = clock_.Now();
  fs::path dir = SessionDir(options_.work_dir, sequence);
  fs::path profile = dir / "profile";
  std::error_code ec;
  fs::create_directories(profile, ec);
  if (ec) return NotCreated("cannot create " + profile.string() + ": " + ec.message());
  if (slot.downloads) fs::create_directory(SessionFiles::DownloadDir(dir.string()), ec);
  if (ec) return NotCreated("cannot create the download folder in " + dir.string());
  backend.session_dir = dir.string();
  backend.log_path =
      (fs::path(options_.work_dir) / "logs" / (dir.filename().string() + ".log")).string();
  if (AdoptSpare(slot, on_exit, backend)) return Status::Ok();

  Result<StartedDriver> spawned = SpawnDriver(slot.driver, backend.log_path, std::move(on_exit));
  if (!spawned.ok()) return spawned.error();
  backend.process = std::move(spawned->process);
  backend.url = std::move(spawned->url);
  SteadyTime running = clock_.Now();
  times.spawn = running - began;
  Status ready = WaitReady(slot.driver.front(), backend.url, *backend.process, cancelled);
  times.ready = clock_.Now() - running;
  return ready;
}

bool SessionLauncher::AdoptSpare(const config::SlotConfig& slot,
                                 const DriverProcess::ExitCallback& on_exit, Backend& backend) {
  std::optional<StartedDriver> spare = spares_ ? spares_->Take(slot.driver) : std::nullopt;
  if (!spare) return false;
  std::error_code ec;
  if (!spare->process->SetExitCallback(on_exit)) {  // it died just now
    fs::remove(spare->log_path, ec);
    return false;
  }
  // Its output so far goes with the session's; a log of that name from an earlier run of the
  // node (same id, same folder) is kept, and the spare's log keeps its own name then.
  if (::renameat2(AT_FDCWD, spare->log_path.c_str(), AT_FDCWD, backend.log_path.c_str(),
                  RENAME_NOREPLACE) != 0) {
    backend.log_path = spare->log_path;
  }
  backend.process = std::move(spare->process);
  backend.url = std::move(spare->url);
  return true;
}

Result<StartedDriver> SessionLauncher::SpawnDriver(const std::vector<std::string>& command,
                                                   const std::string& log_path,
                                                   DriverProcess::ExitCallback on_exit) {
  Result<uint16_t> port = PickFreeLoopbackPort();
  if (!port.ok()) return NotCreated(port.error().message);
  Result<std::unique_ptr<DriverProcess>> process =
      DriverProcess::Spawn(DriverArgv(command, *port), log_path, std::move(on_exit));
  if (!process.ok()) return process.error();
  return StartedDriver{.process = std::move(*process),
                       .url = "http://127.0.0.1:" + std::to_string(*port),
                       .log_path = log_path};
}

Result<StartedDriver> SessionLauncher::StartSpare(const std::vector<std::string>& command,
                                                  const std::function<bool()>& cancelled) {
  std::string log = (fs::path(options_.work_dir) / "logs" /
                     ("spare-" + std::to_string(++spares_started_) + ".log"))
                        .string();
  Result<StartedDriver> spawned = SpawnDriver(command, log, nullptr);
  if (!spawned.ok()) return spawned;
  if (Status ready = WaitReady(command.front(), spawned->url, *spawned->process, cancelled);
      !ready.ok()) {
    spawned->process->Terminate(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.stop_grace));
    std::error_code ec;
    fs::remove(log, ec);
    return ready.error();
  }
  return spawned;
}

Status SessionLauncher::WaitReady(const std::string& driver, const std::string& url,
                                  DriverProcess& process, const std::function<bool()>& cancelled) {
  // Ready when /status answers 200; a driver that exits or stays silent fails the session.
  SteadyTime deadline = clock_.Now() + options_.driver_ready_timeout;
  for (int failed = 0;; ++failed) {
    if (process.exited()) return NotCreated("driver " + driver + " exited during start-up");
    if (cancelled()) return NotCreated("node is stopping");
    http::ClientResponse status = client_.SendSync(
        {.url = url + "/status", .timeout = kStatusTimeout, .max_response_body = kSmallAnswer});
    if (status.status == 200) return Status::Ok();
    if (clock_.Now() >= deadline) {
      return NotCreated("driver " + driver + " not ready after " +
                        ShortSeconds(options_.driver_ready_timeout));
    }
    // Woken at once by the driver's exit.
    process.WaitExit(std::chrono::duration_cast<std::chrono::milliseconds>(ReadyPollDelay(failed)));
  }
}

Result<http::ClientResponse> SessionLauncher::AskForSession(const Backend& backend,
                                                            const json& caps,
                                                            const std::string& who) {
  http::ClientResponse answer =
      client_.SendSync({.method = "POST",
                        .url = backend.url + "/session",
                        .body = NewSessionBody(caps).dump(),
                        .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
                            options_.session_create_timeout),
                        .max_response_body = options_.max_response_body});
  if (answer.body_too_large) return NotCreated(who + " answered more than server.max-body");
  if (!answer.transport_ok()) return NotCreated(who + " did not answer: " + answer.error);
  return answer;
}

http::ClientResponse SessionLauncher::DeleteOnDriver(const Backend& backend, const SessionId& id) {
  return client_.SendSync({.method = "DELETE",
                           .url = backend.url + "/session/" + id.str(),
                           .timeout = kDriverDeleteTimeout,
                           .max_response_body = kSmallAnswer});
}

void SessionLauncher::Stop(Backend& backend) {
  if (backend.process) {
    backend.process->Terminate(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.stop_grace));
    backend.process.reset();
  }
  std::error_code ec;
  if (!backend.session_dir.empty()) fs::remove_all(backend.session_dir, ec);
}

}  // namespace gridhub::node
