#include "node-agent/node_agent.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "common/ids.h"
#include "config/values.h"
#include "http/json_body.h"
#include "http/w3c_error.h"
#include "matching/capabilities.h"
#include "node-agent/driver_process.h"
#include "node-agent/free_port.h"
#include "node-agent/peer_access.h"
#include "node-agent/retry_report.h"
#include "node-agent/session_capabilities.h"
#include "node-agent/slot_choice.h"

namespace gridhub::node {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kRecentlyEndedKept = 1024;
constexpr std::chrono::milliseconds kMaxMaintenanceSleep{1000};
constexpr std::chrono::milliseconds kReadyPollInterval{50};
constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
// A hub that stays unreachable gets one log line per this period (and one per change of error).
constexpr std::chrono::seconds kRetryLogQuiet{10};
constexpr std::chrono::seconds kHubCallTimeout{5};
constexpr std::chrono::seconds kDriverDeleteTimeout{20};
constexpr std::chrono::seconds kInFlightDrainWait{5};
// The most the node reads of a hub answer or a driver's /status: they are small JSON objects.
constexpr size_t kSmallAnswer = size_t{1} << 20;
// Refused callers get at most one log line per this period (a scanner must not flood the log).
constexpr std::chrono::seconds kRefusalLogQuiet{10};

void Log(const std::string& line) { std::fprintf(stderr, "gridhub node: %s\n", line.c_str()); }

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

void SendError(http::Responder& responder, ErrorCode code, const std::string& message) {
  responder.Send(http::HttpStatus(code), http::W3CErrorBody(Error{code, message}));
}

// Member `key` of `object` when it is a string, else "": answers from drivers, relays and the
// hub are not trusted to have the types they should.
std::string StringMember(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The object under "value" of a W3C answer, or nullptr.
const json* W3CValue(const json& answer) {
  if (!answer.is_object()) return nullptr;
  auto it = answer.find("value");
  return it != answer.end() && it->is_object() ? &*it : nullptr;
}

// One line about a failed hub call: the transport error, or the status and the start of the
// body.
std::string FailureText(const http::ClientResponse& answer) {
  if (!answer.transport_ok()) return answer.error;
  std::string text = "HTTP " + std::to_string(answer.status);
  if (!answer.body.empty()) text += " " + answer.body.substr(0, 300);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string Seconds(Duration d) {
  return std::to_string(
             static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) /
             1000.0)
             .substr(0, 5) +
         "s";
}

std::string DefaultLabel(const config::SlotConfig& slot) {
  if (!slot.label.empty()) return slot.label;
  const json& st = slot.stereotype;
  std::string label;
  if (auto it = st.find("gridhub:label"); it != st.end() && it->is_string()) {
    label = it->get<std::string>();
  } else if (auto b = st.find("browserName"); b != st.end() && b->is_string()) {
    label = b->get<std::string>();
  } else {
    label = "any";
  }
  std::transform(label.begin(), label.end(), label.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return label;
}

std::vector<SlotInfo> SlotInfos(const NodeAgentOptions& options) {
  std::vector<SlotInfo> infos;
  for (size_t i = 0; i < options.slots.size(); ++i) {
    const config::SlotConfig& slot = options.slots[i];
    infos.push_back(SlotInfo{SlotIdOf(options.id, i).str(), DefaultLabel(slot), slot.stereotype,
                             std::max(1, slot.max_sessions)});
  }
  return infos;
}

NodeAgentOptions WithDefaults(NodeAgentOptions options) {
  if (options.id.empty()) options.id = RandomIdSource().NewId();
  if (options.work_dir.empty()) {
    std::error_code ec;
    fs::path tmp = fs::temp_directory_path(ec);
    if (ec) tmp = "/tmp";
    options.work_dir = (tmp / ("gridhub-node-" + options.id)).string();
  }
  options.hub = TrimSlash(options.hub);
  options.uri = TrimSlash(options.uri);
  return options;
}

// "/wd/hub/session/x" -> "/session/x": the legacy prefix some clients still send.
std::string_view StripLegacyPrefix(std::string_view path) {
  constexpr std::string_view kLegacy = "/wd/hub";
  if (path.substr(0, kLegacy.size()) == kLegacy &&
      (path.size() == kLegacy.size() || path[kLegacy.size()] == '/')) {
    path.remove_prefix(kLegacy.size());
  }
  return path;
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
  // chromedriver, geckodriver, msedgedriver and safaridriver all take --port=N.
  if (!placed) argv.push_back("--port=" + std::to_string(port));
  return argv;
}

// A path the node must not forward: a "." or ".." segment, or an escape a driver could decode
// into one or into a path separator. Forwarded as is, it would reach another route of the
// driver than the one the node routed (another session, a new one).
bool UnsafePath(std::string_view path) {
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return true;
    start = end + 1;
  }
  std::string lower(path);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("%2e") != std::string::npos || lower.find("%2f") != std::string::npos ||
         lower.find("%5c") != std::string::npos || lower.find('\\') != std::string::npos;
}

// W3C session ids as the hub accepts them: [A-Za-z0-9._-]{1,128}.
bool ValidSessionId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

std::string HostOfUrl(const std::string& url) {
  Result<config::HttpUrl> parsed = config::ParseHttpUrl(url);
  return parsed.ok() ? parsed->host : "";
}

}  // namespace

NodeLiveOptions LiveOptionsOf(const NodeAgentOptions& options) {
  return {.registration_secret = options.registration_secret,
          .hub_client_token = options.hub_client_token,
          .hub_admin_token = options.hub_admin_token,
          .session_timeout = options.session_timeout,
          .drain_after_sessions = options.drain_after_sessions,
          .drain_timeout = options.drain_timeout,
          .heartbeat_period = options.heartbeat_period};
}

SlotId SlotIdOf(const std::string& node_id, size_t index) {
  return SlotId(node_id + "-slot-" + std::to_string(index));
}

struct NodeAgent::Session {
  size_t slot = 0;
  uint64_t sequence = 0;
  // Set before the session is published in sessions_ and constant afterwards.
  std::string id;
  std::string backend;  // the driver's or relay's base URL, without a trailing slash
  std::string session_dir;
  std::string log_path;
  json capabilities;
  // Owned by whoever creates or (after ClaimForEnd) finishes the session: the creating thread
  // must not touch it once the session is published in sessions_.
  std::unique_ptr<DriverProcess> process;
  // Guarded by NodeAgent::mu_ (the analysis cannot name another object's mutex here).
  bool committed = false;
  bool ending = false;
  bool driver_exited = false;
};

NodeAgent::NodeAgent(NodeAgentOptions options, const Clock& clock, http::HttpClient& client)
    : options_(WithDefaults(std::move(options))),
      hub_host_(HostOfUrl(options_.hub)),
      clock_(clock),
      client_(client),
      book_(SlotInfos(options_),
            SlotBookOptions{options_.session_timeout, options_.drain_after_sessions}, clock),
      register_report_("registration with hub " + options_.hub, kRetryLogQuiet),
      heartbeat_report_("heartbeat to hub " + options_.hub, kRetryLogQuiet) {
  MutexLock lock(mu_);
  live_ = LiveOptionsOf(options_);
  for (size_t i = 0; i < options_.slots.size(); ++i) {
    const config::SlotConfig& slot = options_.slots[i];
    Result<matching::Stereotype> stereotype =
        matching::Stereotype::Parse(slot.stereotype, DefaultLabel(slot));
    if (!stereotype.ok()) {
      // The hub refuses the registration of such a slot too; here it serves nothing.
      Log("slot " + SlotIdOf(options_.id, i).str() + ": " + stereotype.error().message);
    }
    slots_.push_back(NodeSlot{SlotIdOf(options_.id, i), stereotype.ok()
                                                            ? std::optional(std::move(*stereotype))
                                                            : std::nullopt});
  }
}

NodeAgent::~NodeAgent() { Stop(); }

Status NodeAgent::Start() {
  std::error_code ec;
  fs::create_directories(fs::path(options_.work_dir) / "logs", ec);
  if (ec) {
    return Error{ErrorCode::kInternal,
                 "cannot create work directory " + options_.work_dir + ": " + ec.message()};
  }
  maintenance_ = std::thread([this] { Maintain(); });
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Requests

void NodeAgent::Handle(http::ServerRequest request, http::Responder responder) {
  try {
    std::string path(StripLegacyPrefix(request.path));
    const std::string& method = request.method;
    if (path == "/status" && method == "GET") {
      // Open for health checks, but only the node's own callers see sessions and URLs.
      bool allowed = !Refusal(request, RefusalLog::kQuiet).has_value();
      responder.Send(200, StatusJson(allowed).dump());
      return;
    }
    if (std::optional<std::string> refusal = Refusal(request, RefusalLog::kLog)) {
      return SendError(responder, ErrorCode::kUnauthorized, *refusal);
    }
    if (UnsafePath(path)) {
      return SendError(responder, ErrorCode::kInvalidArgument,
                       "path with a dot segment or an encoded separator: " + path.substr(0, 200));
    }
    if (path == "/status") return SendError(responder, ErrorCode::kUnknownMethod, "use GET");
    if (path == "/se/grid/node/drain" || path == "/drain") {
      if (method != "POST") return SendError(responder, ErrorCode::kUnknownMethod, "use POST");
      return HandleDrainRequest(request, responder);
    }
    if (path == "/session") {
      if (method != "POST") return SendError(responder, ErrorCode::kUnknownMethod, "use POST");
      request.path = path;
      return NewSession(request, std::move(responder));
    }
    constexpr std::string_view kPrefix = "/session/";
    if (path.rfind(kPrefix, 0) == 0 && path.size() > kPrefix.size()) {
      size_t end = path.find('/', kPrefix.size());
      std::string id = path.substr(kPrefix.size(), end - kPrefix.size());
      if (!ValidSessionId(id)) {
        return SendError(responder, ErrorCode::kInvalidSessionId,
                         "not a session id: " + id.substr(0, 200));
      }
      if (end == std::string::npos && method == "DELETE") {
        return DeleteSession(id, std::move(responder));
      }
      request.path = path;
      return Proxy(id, std::move(request), std::move(responder));
    }
    SendError(responder, ErrorCode::kUnknownCommand,
              "unknown command: " + method + " " + request.path);
  } catch (const std::exception& e) {
    Log(std::string("internal error: ") + e.what());
    SendError(responder, ErrorCode::kInternal, e.what());
  }
}

std::optional<std::string> NodeAgent::Refusal(const http::ServerRequest& request,
                                              RefusalLog log) const {
  MutexLock lock(mu_);
  std::optional<std::string> why =
      AccessRefusal(live_.registration_secret, hub_addresses_, request.peer_address,
                    request.Header("X-Registration-Secret"));
  if (why && log == RefusalLog::kLog &&
      (!last_refusal_log_ || clock_.Now() - *last_refusal_log_ >= kRefusalLogQuiet)) {
    last_refusal_log_ = clock_.Now();
    Log("refused " + request.method + " " + request.path.substr(0, 200) + ": " + *why +
        " (hub at " + JoinAddresses(hub_addresses_) + "; further refusals within " +
        Seconds(kRefusalLogQuiet) + " are not logged)");
  }
  return why;
}

void NodeAgent::HandleDrainRequest(const http::ServerRequest&, http::Responder responder) {
  Drain(DrainReason::kHub);
  responder.Send(200, R"({"value":null})");
}

void NodeAgent::NewSession(const http::ServerRequest& request, http::Responder responder) {
  Result<json> body = http::ParseJsonBody(request.body);
  if (!body.ok()) return SendError(responder, body.error().code, body.error().message);
  Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(*body);
  if (!spec.ok()) return SendError(responder, spec.error().code, spec.error().message);
  // The hub names the slot it chose; called directly, the node picks its first matching one.
  std::optional<SlotId> wanted;
  if (std::string_view slot = request.Header("X-Gridhub-Slot"); !slot.empty()) {
    wanted = SlotId(slot);
  }
  auto session = std::make_shared<Session>();
  size_t candidate = 0;
  {
    MutexLock lock(mu_);
    if (stopping_) {
      return SendError(responder, ErrorCode::kSessionNotCreated, "node is stopping");
    }
    if (book_.draining()) {
      return SendError(responder, ErrorCode::kSessionNotCreated, "node is draining");
    }
    Result<SlotChoice> choice =
        ChooseSlot(*spec, slots_, wanted,
                   [&](size_t i) NO_THREAD_SAFETY_ANALYSIS { return book_.FreePlaces(i) > 0; });
    if (!choice.ok()) return SendError(responder, choice.error().code, choice.error().message);
    Status reserved = book_.Reserve(choice->slot);
    if (!reserved.ok()) {
      return SendError(responder, reserved.error().code, reserved.error().message);
    }
    session->slot = choice->slot;
    session->sequence = ++next_sequence_;
    candidate = choice->candidate;
  }
  tasks_.Run([this, session, candidate = std::move(spec->candidates[candidate]),
              responder]() mutable { CreateSession(session, candidate, std::move(responder)); });
}

void NodeAgent::CreateSession(const std::shared_ptr<Session>& session,
                              const matching::Candidate& candidate, http::Responder responder) {
  const config::SlotConfig& slot = options_.slots[session->slot];
  // ChooseSlot only picks slots whose stereotype parsed.
  json caps = DriverCapabilities(candidate, *slots_[session->slot].stereotype);
  Result<http::ClientResponse> created = Error{ErrorCode::kInternal, ""};
  if (slot.relay.empty()) {
    created = StartDriverSession(session, caps);
  } else {
    session->backend = TrimSlash(slot.relay);
    http::ClientResponse answer =
        client_.SendSync({.method = "POST",
                          .url = session->backend + "/session",
                          .body = NewSessionBody(caps).dump(),
                          .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
                              options_.session_create_timeout),
                          .max_response_body = options_.max_response_body});
    if (answer.body_too_large) {
      created = Error{ErrorCode::kSessionNotCreated,
                      "relay " + session->backend + " answered more than server.max-body"};
    } else if (answer.transport_ok()) {
      created = std::move(answer);
    } else {
      created = Error{ErrorCode::kSessionNotCreated,
                      "relay " + session->backend + " did not answer: " + answer.error};
    }
  }

  std::string session_id;
  json answer_body;
  std::optional<Error> failure;
  if (!created.ok()) {
    failure = created.error();
  } else {
    // Bounded nesting: the capabilities are copied, dumped and sent to the hub.
    Result<json> parsed = http::ParseJsonBody(created->body);
    if (parsed.ok()) answer_body = std::move(*parsed);
    const json* value = W3CValue(answer_body);
    std::string id = value != nullptr ? StringMember(*value, "sessionId") : "";
    if (created->status == 200 && !id.empty()) {
      session_id = std::move(id);
      if (auto caps = value->find("capabilities"); caps != value->end() && caps->is_object()) {
        session->capabilities = *caps;
      }
    } else if (value != nullptr && value->contains("error")) {
      std::string message = StringMember(*value, "message");
      if (message.empty()) message = StringMember(*value, "error");
      failure = Error{ErrorCode::kSessionNotCreated,
                      "driver refused the session: " + message.substr(0, 2000)};
    } else {
      failure = Error{ErrorCode::kSessionNotCreated, "driver answered HTTP " +
                                                         std::to_string(created->status) + ": " +
                                                         created->body.substr(0, 500)};
    }
  }

  // Written now: once the session is published, OnDriverExit or Stop() may end it on another
  // thread, which resets session->process.
  std::string started_on =
      session->process
          ? "driver pid " + std::to_string(session->process->pid()) + ", log " + session->log_path
          : "relay " + session->backend;
  if (!failure) {
    MutexLock lock(mu_);
    if (stopping_) {
      failure = Error{ErrorCode::kSessionNotCreated, "node is stopping"};
    } else if (session->driver_exited) {
      failure = Error{ErrorCode::kSessionNotCreated, "driver exited right after start"};
    } else if (sessions_.count(session_id) != 0) {
      failure = Error{ErrorCode::kSessionNotCreated, "driver reused a live session id"};
    } else {
      session->id = session_id;
      session->committed = true;
      book_.Commit(session->slot, session_id);
      sessions_[session_id] = session;
      wake_.notify_all();  // drain-after-sessions may have started
    }
  }
  if (failure) {
    Log("session creation failed on slot " + SlotIdOf(options_.id, session->slot).str() + ": " +
        failure->message +
        (session->log_path.empty() ? "" : " (driver log " + session->log_path + ")"));
    StopDriverProcess(*session);
    {
      MutexLock lock(mu_);
      book_.CancelReservation(session->slot);
      wake_.notify_all();
    }
    SendError(responder, failure->code, failure->message);
    return;
  }
  Log("session " + session_id + " started on slot " + SlotIdOf(options_.id, session->slot).str() +
      " (" + started_on + ")");
  if (!responder.Send(200, created->body)) {
    // The hub gave up waiting (or its client left): nobody knows this session, so it would
    // hold the slot until the idle timeout. End it now.
    Log("session " + session_id + " was not delivered to the hub; ending it");
    std::shared_ptr<Session> claimed;
    {
      MutexLock lock(mu_);
      claimed = ClaimForEnd(session_id);
    }
    if (claimed) EndInBackground(claimed, true, HubNotice::kNone);
  }
}

Result<http::ClientResponse> NodeAgent::StartDriverSession(const std::shared_ptr<Session>& session,
                                                           json caps) {
  const config::SlotConfig& slot = options_.slots[session->slot];
  std::string name = "session-" + std::to_string(session->sequence);
  fs::path dir = fs::path(options_.work_dir) / name;
  fs::path profile = dir / "profile";
  std::error_code ec;
  fs::create_directories(profile, ec);
  if (ec) {
    return Error{ErrorCode::kSessionNotCreated,
                 "cannot create " + profile.string() + ": " + ec.message()};
  }
  session->session_dir = dir.string();
  session->log_path = (fs::path(options_.work_dir) / "logs" / (name + ".log")).string();

  Result<uint16_t> port = PickFreeLoopbackPort();
  if (!port.ok()) return Error{ErrorCode::kSessionNotCreated, port.error().message};
  std::weak_ptr<Session> weak = session;
  Result<std::unique_ptr<DriverProcess>> process = DriverProcess::Spawn(
      DriverArgv(slot.driver, *port), session->log_path, [this, weak](int) { OnDriverExit(weak); });
  if (!process.ok()) return process.error();
  session->process = std::move(*process);
  session->backend = "http://127.0.0.1:" + std::to_string(*port);

  // Ready when /status answers 200; a driver that exits or stays silent fails the session.
  SteadyTime deadline = clock_.Now() + options_.driver_ready_timeout;
  while (true) {
    if (session->process->exited()) {
      return Error{ErrorCode::kSessionNotCreated,
                   "driver " + slot.driver.front() + " exited during start-up"};
    }
    {
      MutexLock lock(mu_);
      if (stopping_) return Error{ErrorCode::kSessionNotCreated, "node is stopping"};
    }
    http::ClientResponse status = client_.SendSync({.url = session->backend + "/status",
                                                    .timeout = std::chrono::seconds(2),
                                                    .max_response_body = kSmallAnswer});
    if (status.status == 200) break;
    if (clock_.Now() >= deadline) {
      return Error{ErrorCode::kSessionNotCreated, "driver " + slot.driver.front() +
                                                      " not ready after " +
                                                      Seconds(options_.driver_ready_timeout)};
    }
    session->process->WaitExit(kReadyPollInterval);
  }

  PrepareForBrowser(caps, {.user_data_dir = profile.string(), .as_root = ::geteuid() == 0});
  http::ClientResponse answer =
      client_.SendSync({.method = "POST",
                        .url = session->backend + "/session",
                        .body = NewSessionBody(caps).dump(),
                        .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
                            options_.session_create_timeout),
                        .max_response_body = options_.max_response_body});
  if (answer.body_too_large) {
    return Error{ErrorCode::kSessionNotCreated, "driver answered more than server.max-body"};
  }
  if (!answer.transport_ok()) {
    return Error{ErrorCode::kSessionNotCreated, "driver did not answer: " + answer.error};
  }
  return answer;
}

void NodeAgent::Proxy(const std::string& session_id, http::ServerRequest request,
                      http::Responder responder) {
  std::string backend;
  {
    MutexLock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end() || it->second->ending) {
      bool ended = it != sessions_.end() ||
                   std::find(recently_ended_.begin(), recently_ended_.end(), session_id) !=
                       recently_ended_.end();
      return SendError(
          responder, ErrorCode::kInvalidSessionId,
          ended ? "session " + session_id + " has ended" : "no such session " + session_id);
    }
    book_.BeginCommand(session_id);
    backend = it->second->backend;
    ++in_flight_;
  }
  http::ClientRequest forward{
      .method = request.method,
      .url = backend + request.path + request.query,
      .body = std::move(request.body),
      .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options_.command_timeout),
      .max_response_body = options_.max_response_body};
  if (std::string_view type = request.Header("Content-Type"); !type.empty()) {
    forward.headers.emplace_back("Content-Type", std::string(type));
  }
  client_.Send(
      std::move(forward), [this, session_id, responder](http::ClientResponse answer) mutable {
        bool gone = false;
        {
          MutexLock lock(mu_);
          book_.EndCommand(session_id);
          auto it = sessions_.find(session_id);
          gone = it == sessions_.end() || it->second->ending || it->second->driver_exited;
        }
        if (answer.body_too_large) {
          // Read only up to max-body; the client aborted the rest and dropped the connection.
          SendError(responder, ErrorCode::kUnavailable,
                    "driver answered more than server.max-body (" +
                        std::to_string(options_.max_response_body) + " bytes)");
        } else if (answer.transport_ok()) {
          std::string type(http::FindHeader(answer.headers, "Content-Type"));
          responder.Send(answer.status, std::move(answer.body), {},
                         type.empty() ? "application/json; charset=utf-8" : type);
        } else if (gone) {
          SendError(responder, ErrorCode::kInvalidSessionId,
                    "session " + session_id + " ended: its driver is gone");
        } else {
          SendError(responder, ErrorCode::kInternal, "driver did not answer: " + answer.error);
        }
        MutexLock lock(mu_);
        --in_flight_;
        wake_.notify_all();
      });
}

void NodeAgent::DeleteSession(const std::string& session_id, http::Responder responder) {
  std::shared_ptr<Session> session;
  {
    MutexLock lock(mu_);
    auto it = sessions_.find(session_id);
    bool known = it != sessions_.end() || std::find(recently_ended_.begin(), recently_ended_.end(),
                                                    session_id) != recently_ended_.end();
    if (!known) {
      return SendError(responder, ErrorCode::kInvalidSessionId, "no such session " + session_id);
    }
    session = ClaimForEnd(session_id);
  }
  if (!session) {  // already ended or ending on the node's own initiative: nothing left to do
    responder.Send(200, R"({"value":null})");
    return;
  }
  tasks_.Run([this, session, responder]() mutable {
    std::optional<http::ClientResponse> answer = FinishSession(session, true);
    if (answer && answer->status >= 200 && answer->status < 300) {
      responder.Send(answer->status, std::move(answer->body));
    } else {
      responder.Send(200, R"({"value":null})");
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Ending sessions

std::shared_ptr<NodeAgent::Session> NodeAgent::ClaimForEnd(const std::string& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end() || it->second->ending) return nullptr;
  it->second->ending = true;
  return it->second;
}

std::optional<http::ClientResponse> NodeAgent::FinishSession(
    const std::shared_ptr<Session>& session, bool delete_on_driver) {
  bool exited = false;
  {
    MutexLock lock(mu_);
    exited = session->driver_exited;
  }
  std::optional<http::ClientResponse> answer;
  if (delete_on_driver && !exited) {
    answer = client_.SendSync({.method = "DELETE",
                               .url = session->backend + "/session/" + session->id,
                               .timeout = kDriverDeleteTimeout,
                               .max_response_body = kSmallAnswer});
  }
  StopDriverProcess(*session);
  {
    MutexLock lock(mu_);
    book_.Remove(session->id);
    sessions_.erase(session->id);
    recently_ended_.push_back(session->id);
    if (recently_ended_.size() > kRecentlyEndedKept) recently_ended_.pop_front();
    wake_.notify_all();
  }
  Log("session " + session->id + " ended; slot " + SlotIdOf(options_.id, session->slot).str() +
      " free");
  return answer;
}

void NodeAgent::StopDriverProcess(Session& session) {
  if (session.process) {
    session.process->Terminate(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.stop_grace));
    session.process.reset();
  }
  std::error_code ec;
  if (!session.session_dir.empty()) fs::remove_all(session.session_dir, ec);
}

void NodeAgent::EndInBackground(const std::shared_ptr<Session>& session, bool delete_on_driver,
                                HubNotice notice) {
  tasks_.Run([this, session, delete_on_driver, notice] {
    FinishSession(session, delete_on_driver);
    if (notice == HubNotice::kTellHub) TellHubSessionEnded(session->id);
  });
}

void NodeAgent::OnDriverExit(const std::weak_ptr<Session>& weak) {
  std::shared_ptr<Session> session = weak.lock();
  if (!session) return;
  std::shared_ptr<Session> claimed;
  {
    MutexLock lock(mu_);
    session->driver_exited = true;
    if (!session->committed || stopping_) return;
    claimed = ClaimForEnd(session->id);
  }
  if (!claimed) return;  // being ended already: the exit is the one we asked for
  Log("driver of session " + session->id + " exited; session ended (log " + session->log_path +
      ")");
  EndInBackground(claimed, false, HubNotice::kTellHub);
}

void NodeAgent::TellHubSessionEnded(const std::string& session_id) {
  // Through the hub's W3C surface: the hub frees the slot and forwards the DELETE, which the
  // node answers from recently_ended_.
  client_.Send({.method = "DELETE",
                .url = options_.hub + "/session/" + session_id,
                .headers = HubHeaders(Bearer::kClientToken),
                .timeout = kHubCallTimeout,
                .max_response_body = kSmallAnswer},
               [](const http::ClientResponse&) {});
}

// ---------------------------------------------------------------------------------------------
// Drain and stop

void NodeAgent::Drain(DrainReason reason) {
  MutexLock lock(mu_);
  book_.StartDrain(reason);
  wake_.notify_all();
}

bool NodeAgent::WaitDone(Duration timeout) {
  MutexLock lock(mu_);
  return wake_.wait_for(mu_, timeout, [this]() NO_THREAD_SAFETY_ANALYSIS { return done_; });
}

void NodeAgent::Stop() {
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    wake_.notify_all();
  }
  if (maintenance_.joinable()) maintenance_.join();
  std::vector<std::shared_ptr<Session>> live;
  bool deregister = false;
  {
    MutexLock lock(mu_);
    for (const auto& [id, session] : sessions_) {
      if (!session->ending) {
        session->ending = true;
        live.push_back(session);
      }
    }
    deregister = registered_ && !done_;
  }
  for (auto& session : live) {
    tasks_.Run([this, session] { FinishSession(session, true); });
  }
  tasks_.JoinAll();
  if (deregister) Deregister();
  // Commands to stopped drivers fail at once; one to a relay may hang. The owner of the
  // HttpClient stops it next, which completes whatever is left while this agent still lives.
  MutexLock lock(mu_);
  wake_.wait_for(mu_, kInFlightDrainWait,
                 [this]() NO_THREAD_SAFETY_ANALYSIS { return in_flight_ == 0; });
}

// ---------------------------------------------------------------------------------------------
// Hub conversation

void NodeAgent::Maintain() {
  SteadyTime next_register = clock_.Now();
  SteadyTime next_heartbeat = next_register;
  Duration backoff = kFirstBackoff;
  while (true) {
    bool registered = false;
    Duration heartbeat_period{};
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      registered = registered_;
      heartbeat_period = live_.heartbeat_period;
    }
    if (!registered && clock_.Now() >= next_register) {
      if (Register(backoff)) {
        backoff = kFirstBackoff;
        next_heartbeat = clock_.Now() + heartbeat_period;
        bool draining = false;
        {
          MutexLock lock(mu_);
          draining = drain_noticed_;
        }
        // A hub that forgot us also forgot that we drain.
        if (draining) TellHubDraining();
      } else {
        next_register = clock_.Now() + backoff;
        backoff = std::min<Duration>(backoff * 2, kMaxBackoff);
      }
    } else if (registered && clock_.Now() >= next_heartbeat) {
      Heartbeat();
      next_heartbeat = clock_.Now() + heartbeat_period;
      next_register = clock_.Now();  // if the hub forgot us, register at once
    }

    std::vector<std::shared_ptr<Session>> to_end;
    bool notice_drain = false;
    bool finish_drain = false;
    {
      MutexLock lock(mu_);
      SteadyTime now = clock_.Now();
      for (const std::string& id : book_.IdleSessions()) {
        if (auto session = ClaimForEnd(id)) {
          Log("session " + id + " idle for " + Seconds(live_.session_timeout) + "; ending it");
          to_end.push_back(std::move(session));
        }
      }
      if (book_.draining()) {
        if (!drain_noticed_) {
          drain_noticed_ = true;
          notice_drain = true;
          // Sessions counted by drain-after-sessions run to their end (the idle timeout still
          // applies); a drain asked for by a signal or the hub is bounded by drain-timeout.
          if (book_.drain_reason() != DrainReason::kAfterSessions) {
            drain_deadline_ = now + live_.drain_timeout;
          }
          Log("draining: no new sessions; " + std::to_string(book_.session_count()) + " running");
        }
        if (drain_deadline_ && now >= *drain_deadline_) {
          for (const auto& [id, slot] : book_.Sessions()) {
            if (auto session = ClaimForEnd(id)) {
              Log("drain timeout: ending session " + id);
              to_end.push_back(std::move(session));
            }
          }
        }
        finish_drain = book_.empty();
      }
    }
    for (auto& session : to_end) {
      EndInBackground(session, true, HubNotice::kTellHub);
    }
    if (notice_drain) TellHubDraining();
    if (finish_drain) {
      bool was_registered = this->registered();
      // Sent even when not registered: the hub may have taken a registration whose answer
      // was lost.
      Deregister();
      Log(was_registered ? "drained; deregistered from " + options_.hub
                         : "drained (never registered with " + options_.hub + ")");
      MutexLock lock(mu_);
      done_ = true;
      wake_.notify_all();
      return;
    }

    MutexLock lock(mu_);
    if (stopping_) return;
    SteadyTime now = clock_.Now();
    SteadyTime wake = now + kMaxMaintenanceSleep;
    wake = std::min(wake, registered_ ? next_heartbeat : next_register);
    if (std::optional<SteadyTime> idle = book_.NextIdleDeadline()) wake = std::min(wake, *idle);
    if (drain_deadline_) wake = std::min(wake, *drain_deadline_);
    if (book_.draining() && !drain_noticed_) wake = now;
    if (wake > now) wake_.wait_for(mu_, wake - now);
  }
}

http::Headers NodeAgent::HubHeaders(Bearer bearer) const {
  MutexLock lock(mu_);
  http::Headers headers;
  if (!live_.registration_secret.empty()) {
    headers.emplace_back("X-Registration-Secret", live_.registration_secret);
  }
  const std::string& token = bearer == Bearer::kClientToken  ? live_.hub_client_token
                             : bearer == Bearer::kAdminToken ? live_.hub_admin_token
                                                             : std::string();
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

json NodeAgent::RegistrationBody() const {
  MutexLock lock(mu_);
  json slots = json::array();
  for (size_t i = 0; i < book_.slot_count(); ++i) {
    const SlotInfo& slot = book_.slot(i);
    slots.push_back({{"id", slot.id},
                     {"label", slot.label},
                     {"stereotype", slot.stereotype},
                     {"maxSessions", slot.max_sessions}});
  }
  json sessions = json::array();
  for (const auto& [id, session] : sessions_) {
    if (session->ending) continue;
    sessions.push_back({{"id", id},
                        {"slotId", book_.slot(session->slot).id},
                        {"capabilities", session->capabilities}});
  }
  return {{"id", options_.id},
          {"uri", options_.uri},
          {"slots", std::move(slots)},
          {"sessions", std::move(sessions)},
          {"availability", book_.draining() ? "DRAINING" : "UP"}};
}

void NodeAgent::ResolveHub() {
  // Looked up again before each registration: the hub may have moved since the last one.
  std::vector<std::string> addresses = ResolveHostAddresses(hub_host_);
  MutexLock lock(mu_);
  if (!hub_resolved_ || addresses != hub_addresses_) {
    Log(addresses.empty() ? "cannot resolve hub host " + hub_host_ +
                                "; without a registration secret only loopback may call this node"
                          : "hub " + hub_host_ + " is at " + JoinAddresses(addresses));
  }
  hub_resolved_ = true;
  hub_addresses_ = std::move(addresses);
}

bool NodeAgent::Register(Duration retry_in) {
  ResolveHub();
  http::ClientResponse answer = client_.SendSync({.method = "POST",
                                                  .url = options_.hub + "/nodes",
                                                  .headers = HubHeaders(Bearer::kNone),
                                                  .body = RegistrationBody().dump(),
                                                  .timeout = kHubCallTimeout,
                                                  .max_response_body = kSmallAnswer});
  bool ok = answer.status >= 200 && answer.status < 300;
  MutexLock lock(mu_);
  if (ok) {
    registered_ = true;
    if (std::optional<std::string> line = register_report_.Succeeded()) Log(*line);
    Log("registered with hub " + options_.hub + " as " + options_.id + " (" + options_.uri + ")");
  } else if (auto line = register_report_.Failed(clock_.Now(), FailureText(answer), retry_in)) {
    Log(*line);
  }
  return ok;
}

void NodeAgent::Heartbeat() {
  json body;
  {
    MutexLock lock(mu_);
    json ids = json::array();
    for (const auto& [id, slot] : book_.Sessions()) ids.push_back(id);
    body = {{"sessions", std::move(ids)}, {"draining", book_.draining()}};
  }
  http::ClientResponse answer =
      client_.SendSync({.method = "POST",
                        .url = options_.hub + "/nodes/" + options_.id + "/heartbeat",
                        .headers = HubHeaders(Bearer::kNone),
                        .body = body.dump(),
                        .timeout = kHubCallTimeout,
                        .max_response_body = kSmallAnswer});
  if (answer.status >= 200 && answer.status < 300 && !answer.body.empty()) {
    // A hub may answer with the node's availability; DRAINING there means the hub was asked
    // to drain this node.
    Result<json> reply = http::ParseJsonBody(answer.body);
    if (reply.ok()) {
      const json* value = W3CValue(*reply);
      if (StringMember(value != nullptr ? *value : *reply, "availability") == "DRAINING") {
        Drain(DrainReason::kHub);
      }
    }
  }
  MutexLock lock(mu_);
  if (answer.status == 404) {
    // The hub does not know us: it restarted, or declared us DOWN. Register again, reporting
    // the live sessions so that they stay routable.
    Log("hub " + options_.hub + " does not know this node; registering again");
    registered_ = false;
    heartbeat_report_.Succeeded();  // the hub answers; registration reports from here
  } else if (answer.status >= 200 && answer.status < 300) {
    if (std::optional<std::string> line = heartbeat_report_.Succeeded()) Log(*line);
  } else if (auto line = heartbeat_report_.Failed(clock_.Now(), FailureText(answer),
                                                  live_.heartbeat_period)) {
    Log(*line);
  }
}

void NodeAgent::Deregister() {
  client_.SendSync({.method = "DELETE",
                    .url = options_.hub + "/nodes/" + options_.id,
                    .headers = HubHeaders(Bearer::kNone),
                    .timeout = kHubCallTimeout,
                    .max_response_body = kSmallAnswer});
  MutexLock lock(mu_);
  registered_ = false;
}

void NodeAgent::TellHubDraining() {
  // The hub must stop choosing this node at once, or requests would bounce off it until their
  // retry limit. The hub answers its own admin drain route; the node proves itself with the
  // registration secret (and the admin token when it has one).
  client_.Send({.method = "POST",
                .url = options_.hub + "/nodes/" + options_.id + "/drain",
                .headers = HubHeaders(Bearer::kAdminToken),
                .timeout = kHubCallTimeout,
                .max_response_body = kSmallAnswer},
               [](const http::ClientResponse&) {});
}

void NodeAgent::Reconfigure(const NodeAgentOptions& fresh) {
  MutexLock lock(mu_);
  live_ = LiveOptionsOf(fresh);
  book_.SetOptions({live_.session_timeout, live_.drain_after_sessions});
  // A running drain keeps the deadline it had; a shorter idle timeout or a drain started by a
  // used-up quota is acted on by the maintenance thread now.
  wake_.notify_all();
}

bool NodeAgent::registered() const {
  MutexLock lock(mu_);
  return registered_;
}

json NodeAgent::StatusJson(bool full) const {
  MutexLock lock(mu_);
  json slots = json::array();
  int max_sessions = 0;
  bool room = false;
  std::vector<std::pair<std::string, size_t>> sessions = book_.Sessions();
  for (size_t i = 0; i < book_.slot_count(); ++i) {
    const SlotInfo& slot = book_.slot(i);
    json ids = json::array();
    for (const auto& [id, index] : sessions) {
      if (index == i) ids.push_back(id);
    }
    max_sessions += slot.max_sessions;
    room = room || book_.FreePlaces(i) > 0;
    json entry = {{"id", slot.id},
                  {"label", slot.label},
                  {"maxSessions", slot.max_sessions},
                  {"sessionCount", ids.size()}};
    // Session ids are what drives a browser through the hub; stereotypes name local paths.
    if (full) {
      entry["stereotype"] = slot.stereotype;
      entry["sessions"] = std::move(ids);
    }
    slots.push_back(std::move(entry));
  }
  bool ready = room && !book_.draining() && !stopping_;
  std::string message = book_.draining() ? "draining"
                        : ready          ? "ready for new sessions"
                                         : "all slots busy";
  json node = {{"id", options_.id},
               {"registered", registered_},
               {"availability", book_.draining() ? "DRAINING" : "UP"},
               {"maxSessions", max_sessions},
               {"sessionCount", book_.session_count()},
               {"slots", std::move(slots)}};
  if (full) {
    node["uri"] = options_.uri;
    node["hub"] = options_.hub;
  }
  return {{"value", {{"ready", ready}, {"message", message}, {"node", std::move(node)}}}};
}

}  // namespace gridhub::node
