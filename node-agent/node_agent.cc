#include "node-agent/node_agent.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "common/ids.h"
#include "http/json_body.h"
#include "http/w3c_error.h"
#include "node-agent/node_log.h"
#include "node-agent/peer_access.h"
#include "node-agent/retry_report.h"
#include "node-agent/session_capabilities.h"

namespace gridhub::node {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kRecentlyEndedKept = 1024;
constexpr std::chrono::milliseconds kMaxMaintenanceSleep{1000};
constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::seconds kInFlightDrainWait{5};
// Refused callers get at most one log line per this period (a scanner must not flood the log).
constexpr std::chrono::seconds kRefusalLogQuiet{10};

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

void SendError(http::Responder& responder, ErrorCode code, const std::string& message) {
  responder.Send(http::HttpStatus(code), http::W3CErrorBody(Error{code, message}));
}

void SendError(http::Responder& responder, const Error& error) {
  SendError(responder, error.code, error.message);
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
    infos.push_back(SlotInfo{SlotIdOf(NodeId(options.id), i), DefaultLabel(slot), slot.stereotype,
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

std::vector<NodeSlot> NodeSlots(const NodeAgentOptions& options) {
  std::vector<NodeSlot> slots;
  for (size_t i = 0; i < options.slots.size(); ++i) {
    const config::SlotConfig& slot = options.slots[i];
    SlotId id = SlotIdOf(NodeId(options.id), i);
    Result<matching::Stereotype> stereotype =
        matching::Stereotype::Parse(slot.stereotype, DefaultLabel(slot));
    if (!stereotype.ok()) {
      // The hub refuses the registration of such a slot too; here it serves nothing.
      NodeLog(log::Level::kError, "node.slot_invalid", options.id,
              "slot " + id.str() + ": " + stereotype.error().message);
    }
    slots.push_back(NodeSlot{
        std::move(id), stereotype.ok() ? std::optional(std::move(*stereotype)) : std::nullopt});
  }
  return slots;
}

HubCredentials CredentialsOf(const NodeLiveOptions& live) {
  return {.registration_secret = live.registration_secret,
          .hub_client_token = live.hub_client_token,
          .hub_admin_token = live.hub_admin_token};
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

SlotId SlotIdOf(const NodeId& node_id, size_t index) {
  return SlotId(node_id.str() + "-slot-" + std::to_string(index));
}

std::vector<SessionId> UnknownSessionsToEnd(
    std::span<const SessionId> unknown, SteadyTime composed,
    const std::function<std::optional<SteadyTime>(const SessionId&)>& answered_at) {
  std::vector<SessionId> out;
  for (const SessionId& id : unknown) {
    std::optional<SteadyTime> answered = answered_at(id);
    if (answered && composed - *answered >= kUnknownSessionGrace) out.push_back(id);
  }
  return out;
}

struct NodeAgent::Session {
  size_t slot = 0;
  uint64_t sequence = 0;
  // Set before the session is published in sessions_ and constant afterwards (the backend's
  // process aside).
  SessionId id;
  json capabilities;
  // The backend's process is owned by whoever creates or (after ClaimForEnd) finishes the
  // session: the creating thread must not touch it once the session is published.
  Backend backend;
  // The session's upload and download folders; null for a relay (its server keeps the files).
  // Set before the session is published; closed before its folder is removed.
  std::shared_ptr<SessionFiles> files;
  // Guarded by NodeAgent::mu_ (the analysis cannot name another object's mutex here).
  bool committed = false;
  bool ending = false;
  bool driver_exited = false;
  std::optional<SteadyTime> answered_at;  // when the creation answer went out
};

NodeAgent::NodeAgent(NodeAgentOptions options, const Clock& clock, http::HttpClient& client)
    : options_(WithDefaults(std::move(options))),
      clock_(clock),
      client_(client),
      slots_(NodeSlots(options_)),
      link_({.node_id = NodeId(options_.id), .node_uri = options_.uri, .hub = options_.hub}, clock,
            client),
      launcher_({.work_dir = options_.work_dir,
                 .driver_ready_timeout = options_.driver_ready_timeout,
                 .session_create_timeout = options_.session_create_timeout,
                 .stop_grace = options_.stop_grace,
                 .max_response_body = options_.max_response_body,
                 .spare_drivers = options_.spare_drivers},
                clock, client),
      book_(SlotInfos(options_),
            SlotBookOptions{options_.session_timeout, options_.drain_after_sessions}, clock),
      sockets_(
          clock, client, [this](const SessionId& id) { OnSocketActivity(id); }, options_.id) {
  MutexLock lock(mu_);
  live_ = LiveOptionsOf(options_);
  link_.SetCredentials(CredentialsOf(live_));
}

NodeAgent::~NodeAgent() { Stop(); }

Status NodeAgent::Start() {
  std::error_code ec;
  fs::create_directories(fs::path(options_.work_dir) / "logs", ec);
  if (ec) {
    return Error{ErrorCode::kInternal,
                 "cannot create work directory " + options_.work_dir + ": " + ec.message()};
  }
  for (const config::SlotConfig& slot : options_.slots) launcher_.PrepareSpare(slot);
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
    RouteSession(path, std::move(request), std::move(responder));
  } catch (const std::exception& e) {
    NodeLog(log::Level::kError, "node.internal_error", options_.id,
            std::string("internal error: ") + e.what());
    SendError(responder, ErrorCode::kInternal, e.what());
  }
}

void NodeAgent::RouteSession(const std::string& path, http::ServerRequest request,
                             http::Responder responder) {
  constexpr std::string_view kPrefix = "/session/";
  if (path.rfind(kPrefix, 0) != 0 || path.size() == kPrefix.size()) {
    return SendError(responder, ErrorCode::kUnknownCommand,
                     "unknown command: " + request.method + " " + request.path);
  }
  size_t end = path.find('/', kPrefix.size());
  std::string id = path.substr(kPrefix.size(), end - kPrefix.size());
  if (!IsValidSessionId(id)) {
    return SendError(responder, ErrorCode::kInvalidSessionId,
                     "not a session id: " + id.substr(0, 200));
  }
  if (end == std::string::npos && request.method == "DELETE") {
    return DeleteSession(SessionId(id), std::move(responder));
  }
  if (end != std::string::npos) {
    std::string_view rest = std::string_view(path).substr(end);
    if (rest == "/se/bidi" || rest == "/se/cdp") {
      SocketKind kind = rest == "/se/bidi" ? SocketKind::kBidi : SocketKind::kCdp;
      return OpenSocket(SessionId(id), kind, request, std::move(responder));
    }
  }
  request.path = path;
  if (end != std::string::npos && SessionFiles::Handles(std::string_view(path).substr(end))) {
    return ServeFiles(SessionId(id), path.substr(end), std::move(request), std::move(responder));
  }
  Proxy(SessionId(id), std::move(request), std::move(responder));
}

void NodeAgent::ServeFiles(const SessionId& session_id, std::string subpath,
                           http::ServerRequest request, http::Responder responder) {
  std::shared_ptr<SessionFiles> files;
  {
    MutexLock lock(mu_);
    auto it = sessions_.find(session_id);
    if (it != sessions_.end() && !it->second->ending) files = it->second->files;
    if (files) book_.BeginCommand(session_id);  // file traffic is activity too
  }
  // A relay's server answers these itself; an unknown session gets Proxy's answer.
  if (!files) return Proxy(session_id, std::move(request), std::move(responder));
  tasks_.Run([this, files, session_id, subpath = std::move(subpath), request = std::move(request),
              responder]() mutable {
    Result<json> value = files->Serve(request.method, subpath, request.body);
    {
      MutexLock lock(mu_);
      book_.EndCommand(session_id);
    }
    if (!value.ok()) return SendError(responder, value.error());
    responder.Send(200, json{{"value", std::move(*value)}}.dump(-1, ' ', false,
                                                                json::error_handler_t::replace));
  });
}

std::optional<std::string> NodeAgent::Refusal(const http::ServerRequest& request,
                                              RefusalLog log) const {
  std::vector<std::string> hub_addresses = link_.hub_addresses();
  MutexLock lock(mu_);
  std::optional<std::string> why =
      AccessRefusal(live_.registration_secret, hub_addresses, request.peer_address,
                    request.Header("X-Registration-Secret"));
  if (why && log == RefusalLog::kLog &&
      (!last_refusal_log_ || clock_.Now() - *last_refusal_log_ >= kRefusalLogQuiet)) {
    last_refusal_log_ = clock_.Now();
    NodeLog(log::Level::kWarn, "node.call_refused", options_.id,
            "refused " + request.method + " " + request.path.substr(0, 200) + ": " + *why +
                " (hub at " + JoinAddresses(hub_addresses) + "; further refusals within " +
                ShortSeconds(kRefusalLogQuiet) + " are not logged)");
  }
  return why;
}

void NodeAgent::HandleDrainRequest(const http::ServerRequest&, http::Responder responder) {
  Drain(DrainReason::kHub);
  responder.Send(200, R"({"value":null})");
}

void NodeAgent::NewSession(const http::ServerRequest& request, http::Responder responder) {
  SteadyTime asked_at = clock_.Now();
  Result<json> body = http::ParseJsonBody(request.body);
  if (!body.ok()) return SendError(responder, body.error());
  Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(*body);
  if (!spec.ok()) return SendError(responder, spec.error());
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
    if (!choice.ok()) return SendError(responder, choice.error());
    if (Status reserved = book_.Reserve(choice->slot); !reserved.ok()) {
      return SendError(responder, reserved.error());
    }
    session->slot = choice->slot;
    session->sequence = ++next_sequence_;
    candidate = choice->candidate;
  }
  tasks_.Run(
      [this, session, candidate = std::move(spec->candidates[candidate]), responder,
       asked_at]() mutable { CreateSession(session, candidate, asked_at, std::move(responder)); });
}

void NodeAgent::CreateSession(const std::shared_ptr<Session>& session,
                              const matching::Candidate& candidate, SteadyTime asked_at,
                              http::Responder responder) {
  // ChooseSlot only picks slots whose stereotype parsed.
  json caps = DriverCapabilities(candidate, *slots_[session->slot].stereotype);
  std::weak_ptr<Session> weak = session;
  Result<CreatedSession> created = launcher_.Launch(
      options_.slots[session->slot], std::move(caps), session->sequence,
      [this, weak](int) { OnDriverExit(weak); },
      [this] {
        MutexLock lock(mu_);
        return stopping_;
      },
      session->backend);
  // Written now: once the session is published, OnDriverExit or Stop() may end it on another
  // thread, which resets its backend's process.
  std::string started_on = session->backend.Describe();
  // Reachable before the answer goes out; a duplicate id fails in Publish and keeps the live
  // session's sockets.
  bool sockets_added = created.ok() && sockets_.Add(created->id, OfferSockets(*session, *created));
  if (created.ok() && !session->backend.session_dir.empty()) {
    session->files = std::make_shared<SessionFiles>(
        SessionFilesOptions{.session_dir = session->backend.session_dir,
                            .downloads = options_.slots[session->slot].downloads,
                            .max_upload = options_.max_upload,
                            .max_answer = options_.max_response_body});
  }
  Status published = created.ok() ? Publish(session, *created) : Status(created.error());
  if (!published.ok()) {
    if (sockets_added) sockets_.End(created->id);
    return FailCreation(session, published.error(), responder);
  }
  // The phases let an operator (and bench/chromium/start.sh) see where a slow start went.
  auto taken = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - asked_at);
  NodeLog(log::Level::kInfo, "node.session_started", options_.id,
          "session " + created->id.str() + " started on slot " + slots_[session->slot].id.str() +
              " (" + started_on + ") in " + std::to_string(taken.count()) +
              " ms: " + DescribeTimes(created->times),
          {.session_id = created->id.str()});
  Deliver(session, created->body, responder);
}

Status NodeAgent::Publish(const std::shared_ptr<Session>& session, const CreatedSession& created) {
  MutexLock lock(mu_);
  if (stopping_) return Error{ErrorCode::kSessionNotCreated, "node is stopping"};
  if (session->driver_exited) {
    return Error{ErrorCode::kSessionNotCreated, "driver exited right after start"};
  }
  if (sessions_.count(created.id) != 0) {
    return Error{ErrorCode::kSessionNotCreated, "driver reused a live session id"};
  }
  session->id = created.id;
  session->capabilities = created.capabilities;
  session->committed = true;
  book_.Commit(session->slot, created.id);
  sessions_[created.id] = session;
  wake_.notify_all();  // drain-after-sessions may have started
  return Status::Ok();
}

SocketTargets NodeAgent::OfferSockets(const Session& session, CreatedSession& created) const {
  const std::string& relay = options_.slots[session.slot].relay;
  SocketTargets targets = relay.empty()
                              ? DriverSocketTargets(created.capabilities)
                              : RelaySocketTargets(created.capabilities, relay, created.id);
  // The driver's own URLs name its loopback port: only the node's are reachable for callers.
  if (OfferNodeSockets(created.capabilities, options_.uri, created.id, targets)) {
    created.body = WithCapabilities(created.body, created.capabilities);
  }
  return targets;
}

void NodeAgent::FailCreation(const std::shared_ptr<Session>& session, const Error& failure,
                             http::Responder& responder) {
  const std::string& log = session->backend.log_path;
  NodeLog(log::Level::kWarn, "node.session_failed", options_.id,
          "session creation failed on slot " + slots_[session->slot].id.str() + ": " +
              failure.message + (log.empty() ? "" : " (driver log " + log + ")"));
  launcher_.Stop(session->backend);
  {
    MutexLock lock(mu_);
    book_.CancelReservation(session->slot);
    wake_.notify_all();
  }
  SendError(responder, failure);
}

void NodeAgent::Deliver(const std::shared_ptr<Session>& session, const std::string& body,
                        http::Responder& responder) {
  if (responder.Send(200, body)) {
    MutexLock lock(mu_);
    session->answered_at = clock_.Now();
    return;
  }
  // The hub gave up waiting (or its client left): nobody knows this session, so it would hold
  // the slot until the idle timeout. End it now.
  NodeLog(log::Level::kWarn, "node.session_undelivered", options_.id,
          "session " + session->id.str() + " was not delivered to the hub; ending it",
          {.session_id = session->id.str()});
  std::shared_ptr<Session> claimed;
  {
    MutexLock lock(mu_);
    claimed = ClaimForEnd(session->id);
  }
  if (claimed) EndInBackground(claimed, true, HubNotice::kNone);
}

bool NodeAgent::RecentlyEnded(const SessionId& session_id) const {
  return std::find(recently_ended_.begin(), recently_ended_.end(), session_id) !=
         recently_ended_.end();
}

NodeAgent::Session* NodeAgent::LiveSession(const SessionId& session_id, std::string* why) {
  auto it = sessions_.find(session_id);
  if (it != sessions_.end() && !it->second->ending) return it->second.get();
  bool ended = it != sessions_.end() || RecentlyEnded(session_id);
  *why =
      ended ? "session " + session_id.str() + " has ended" : "no such session " + session_id.str();
  return nullptr;
}

void NodeAgent::Proxy(const SessionId& session_id, http::ServerRequest request,
                      http::Responder responder) {
  std::string backend;
  {
    MutexLock lock(mu_);
    std::string why;
    Session* session = LiveSession(session_id, &why);
    if (session == nullptr) return SendError(responder, ErrorCode::kInvalidSessionId, why);
    book_.BeginCommand(session_id);
    backend = session->backend.url;
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
  client_.Send(std::move(forward),
               [this, session_id, responder](http::ClientResponse answer) mutable {
                 OnProxied(session_id, std::move(answer), responder);
               });
}

void NodeAgent::OnProxied(const SessionId& session_id, http::ClientResponse answer,
                          http::Responder& responder) {
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
              "session " + session_id.str() + " ended: its driver is gone");
  } else {
    SendError(responder, ErrorCode::kInternal, "driver did not answer: " + answer.error);
  }
  MutexLock lock(mu_);
  --in_flight_;
  wake_.notify_all();
}

void NodeAgent::OpenSocket(const SessionId& session_id, SocketKind kind,
                           const http::ServerRequest& request, http::Responder responder) {
  if (request.method != "GET") {
    return SendError(responder, ErrorCode::kUnknownMethod, "use GET with Upgrade: websocket");
  }
  {
    MutexLock lock(mu_);
    std::string why;
    Session* session = LiveSession(session_id, &why);
    if (session == nullptr) return SendError(responder, ErrorCode::kInvalidSessionId, why);
    book_.Touch(session_id);  // opening a socket is use, like a command
  }
  sockets_.Upgrade(session_id, kind, request, std::move(responder));
}

void NodeAgent::OnSocketActivity(const SessionId& session_id) {
  MutexLock lock(mu_);
  book_.Touch(session_id);
}

void NodeAgent::DeleteSession(const SessionId& session_id, http::Responder responder) {
  std::shared_ptr<Session> session;
  {
    MutexLock lock(mu_);
    if (sessions_.count(session_id) == 0 && !RecentlyEnded(session_id)) {
      return SendError(responder, ErrorCode::kInvalidSessionId,
                       "no such session " + session_id.str());
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

std::shared_ptr<NodeAgent::Session> NodeAgent::ClaimForEnd(const SessionId& session_id) {
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
  // The session's sockets end with it, before the browser does.
  sockets_.End(session->id);
  std::optional<http::ClientResponse> answer;
  if (delete_on_driver && !exited) answer = launcher_.DeleteOnDriver(session->backend, session->id);
  if (session->files) session->files->Close();  // before Stop removes the session's folder
  launcher_.Stop(session->backend);
  {
    MutexLock lock(mu_);
    book_.Remove(session->id);
    sessions_.erase(session->id);
    recently_ended_.push_back(session->id);
    if (recently_ended_.size() > kRecentlyEndedKept) recently_ended_.pop_front();
    wake_.notify_all();
  }
  NodeLog(
      log::Level::kInfo, "node.session_ended", options_.id,
      "session " + session->id.str() + " ended; slot " + slots_[session->slot].id.str() + " free",
      {.session_id = session->id.str()});
  return answer;
}

void NodeAgent::EndInBackground(const std::shared_ptr<Session>& session, bool delete_on_driver,
                                HubNotice notice) {
  tasks_.Run([this, session, delete_on_driver, notice] {
    FinishSession(session, delete_on_driver);
    if (notice == HubNotice::kTellHub) link_.TellSessionEnded(session->id);
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
  NodeLog(log::Level::kWarn, "node.driver_exited", options_.id,
          "driver of session " + session->id.str() + " exited; session ended (log " +
              session->backend.log_path + ")",
          {.session_id = session->id.str()});
  EndInBackground(claimed, false, HubNotice::kTellHub);
}

void NodeAgent::EndUnknownSessions(std::span<const SessionId> unknown, SteadyTime composed) {
  std::vector<std::shared_ptr<Session>> to_end;
  {
    MutexLock lock(mu_);
    auto answered_at = [&](const SessionId& id) NO_THREAD_SAFETY_ANALYSIS {
      auto it = sessions_.find(id);
      return it == sessions_.end() ? std::nullopt : it->second->answered_at;
    };
    for (const SessionId& id : UnknownSessionsToEnd(unknown, composed, answered_at)) {
      if (std::shared_ptr<Session> session = ClaimForEnd(id)) {
        NodeLog(log::Level::kWarn, "node.session_unknown_to_hub", options_.id,
                "session " + id.str() + " is unknown to the hub; ending it",
                {.session_id = id.str()});
        to_end.push_back(std::move(session));
      }
    }
  }
  // The hub does not know it, so there is nothing to tell the hub.
  for (auto& session : to_end) EndInBackground(session, true, HubNotice::kNone);
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
  SteadyTime deadline = clock_.Now() + timeout;
  while (!done_ && clock_.Now() < deadline) clock_.WaitUntil(mu_, wake_, deadline);
  return done_;
}

void NodeAgent::Stop() {
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    wake_.notify_all();
  }
  launcher_.StopSpares();  // a session starting now takes none, and none starts after it
  if (maintenance_.joinable()) maintenance_.join();
  std::vector<std::shared_ptr<Session>> live;
  bool deregister = false;
  bool registered = link_.registered();
  {
    MutexLock lock(mu_);
    for (const auto& [id, session] : sessions_) {
      if (!session->ending) {
        session->ending = true;
        live.push_back(session);
      }
    }
    deregister = registered && !done_;
  }
  for (auto& session : live) {
    tasks_.Run([this, session] { FinishSession(session, true); });
  }
  tasks_.JoinAll();
  sockets_.EndAll();
  if (deregister) link_.Deregister();
  // Commands to stopped drivers fail at once; one to a relay may hang. The owner of the
  // HttpClient stops it next, which completes whatever is left while this agent still lives.
  MutexLock lock(mu_);
  SteadyTime deadline = clock_.Now() + kInFlightDrainWait;
  while (in_flight_ > 0 && clock_.Now() < deadline) clock_.WaitUntil(mu_, wake_, deadline);
}

// ---------------------------------------------------------------------------------------------
// Maintenance thread

void NodeAgent::Maintain() {
  SteadyTime now = clock_.Now();
  HubSchedule schedule{.next_register = now, .next_heartbeat = now, .backoff = kFirstBackoff};
  while (true) {
    if (!TalkToHub(schedule)) return;
    Due due = CollectDue();
    for (auto& session : due.to_end) EndInBackground(session, true, HubNotice::kTellHub);
    if (due.notice_drain) link_.TellDraining();
    if (due.finish_drain) return FinishDrain();
    if (!SleepUntilDue(schedule, link_.registered())) return;
  }
}

bool NodeAgent::TalkToHub(HubSchedule& schedule) {
  Duration period{};
  {
    MutexLock lock(mu_);
    if (stopping_) return false;
    period = live_.heartbeat_period;
  }
  bool registered = link_.registered();
  if (!registered && clock_.Now() >= schedule.next_register) {
    if (link_.Register(RegistrationBody(), schedule.backoff)) {
      schedule.backoff = kFirstBackoff;
      schedule.next_heartbeat = clock_.Now() + period;
      bool draining = false;
      {
        MutexLock lock(mu_);
        draining = drain_noticed_;
      }
      // A hub that forgot us also forgot that we drain.
      if (draining) link_.TellDraining();
    } else {
      schedule.next_register = clock_.Now() + schedule.backoff;
      schedule.backoff = std::min<Duration>(schedule.backoff * 2, kMaxBackoff);
    }
  } else if (registered && clock_.Now() >= schedule.next_heartbeat) {
    Heartbeat(period);
    schedule.next_heartbeat = clock_.Now() + period;
    schedule.next_register = clock_.Now();  // if the hub forgot us, register at once
  }
  return true;
}

void NodeAgent::Heartbeat(Duration period) {
  HeartbeatReport report;
  SteadyTime composed;
  {
    MutexLock lock(mu_);
    for (const auto& [id, slot] : book_.Sessions()) report.sessions.push_back(id);
    report.draining = book_.draining();
    composed = clock_.Now();
  }
  HeartbeatAnswer answer = link_.Heartbeat(report, period);
  if (answer.hub_drains_node) Drain(DrainReason::kHub);
  if (!answer.unknown_sessions.empty()) EndUnknownSessions(answer.unknown_sessions, composed);
}

NodeAgent::Due NodeAgent::CollectDue() {
  Due due;
  MutexLock lock(mu_);
  // Socket bytes reach the book at most once a second: a candidate's last ones may be newer.
  // (sockets_' mutex is a leaf: taking it under mu_ cannot deadlock.)
  for (const SessionId& id : book_.IdleSessions()) {
    if (std::optional<SteadyTime> traffic = sockets_.LastTraffic(id)) book_.Touch(id, *traffic);
  }
  for (const SessionId& id : book_.IdleSessions()) {
    if (auto session = ClaimForEnd(id)) {
      NodeLog(log::Level::kInfo, "node.session_idle", options_.id,
              "session " + id.str() + " idle for " + ShortSeconds(live_.session_timeout) +
                  "; ending it",
              {.session_id = id.str()});
      due.to_end.push_back(std::move(session));
    }
  }
  if (book_.draining()) CollectDrainDue(clock_.Now(), due);
  return due;
}

void NodeAgent::CollectDrainDue(SteadyTime now, Due& due) {
  if (!drain_noticed_) {
    drain_noticed_ = true;
    due.notice_drain = true;
    // Sessions counted by drain-after-sessions run to their end (the idle timeout still
    // applies); a drain asked for by a signal or the hub is bounded by drain-timeout.
    if (book_.drain_reason() != DrainReason::kAfterSessions) {
      drain_deadline_ = now + live_.drain_timeout;
    }
    NodeLog(log::Level::kInfo, "node.draining", options_.id,
            "draining: no new sessions; " + std::to_string(book_.session_count()) + " running");
  }
  if (drain_deadline_ && now >= *drain_deadline_) {
    for (const auto& [id, slot] : book_.Sessions()) {
      if (auto session = ClaimForEnd(id)) {
        NodeLog(log::Level::kWarn, "node.drain_timeout", options_.id,
                "drain timeout: ending session " + id.str(), {.session_id = id.str()});
        due.to_end.push_back(std::move(session));
      }
    }
  }
  due.finish_drain = book_.empty();
}

void NodeAgent::FinishDrain() {
  bool was_registered = link_.registered();
  // Sent even when not registered: the hub may have taken a registration whose answer was lost.
  link_.Deregister();
  NodeLog(log::Level::kInfo, "node.drained", options_.id,
          was_registered ? "drained; deregistered from " + options_.hub
                         : "drained (never registered with " + options_.hub + ")");
  MutexLock lock(mu_);
  done_ = true;
  wake_.notify_all();
}

bool NodeAgent::SleepUntilDue(const HubSchedule& schedule, bool registered) {
  MutexLock lock(mu_);
  if (stopping_) return false;
  SteadyTime now = clock_.Now();
  SteadyTime wake = now + kMaxMaintenanceSleep;
  wake = std::min(wake, registered ? schedule.next_heartbeat : schedule.next_register);
  if (std::optional<SteadyTime> idle = book_.NextIdleDeadline()) wake = std::min(wake, *idle);
  if (drain_deadline_) wake = std::min(wake, *drain_deadline_);
  if (book_.draining() && !drain_noticed_) wake = now;
  clock_.WaitUntil(mu_, wake_, wake);
  return true;
}

json NodeAgent::RegistrationBody() const {
  MutexLock lock(mu_);
  json slots = json::array();
  for (size_t i = 0; i < book_.slot_count(); ++i) {
    const SlotInfo& slot = book_.slot(i);
    slots.push_back({{"id", slot.id.str()},
                     {"label", slot.label},
                     {"stereotype", slot.stereotype},
                     {"maxSessions", slot.max_sessions}});
  }
  json sessions = json::array();
  for (const auto& [id, session] : sessions_) {
    if (session->ending) continue;
    sessions.push_back({{"id", id.str()},
                        {"slotId", book_.slot(session->slot).id.str()},
                        {"capabilities", session->capabilities}});
  }
  return {{"id", options_.id},
          {"uri", options_.uri},
          {"slots", std::move(slots)},
          {"sessions", std::move(sessions)},
          {"availability", book_.draining() ? "DRAINING" : "UP"}};
}

void NodeAgent::Reconfigure(const NodeAgentOptions& fresh) {
  MutexLock lock(mu_);
  live_ = LiveOptionsOf(fresh);
  link_.SetCredentials(CredentialsOf(live_));
  book_.SetOptions({live_.session_timeout, live_.drain_after_sessions});
  // A running drain keeps the deadline it had; a shorter idle timeout or a drain started by a
  // used-up quota is acted on by the maintenance thread now.
  wake_.notify_all();
}

json NodeAgent::StatusJson(bool full) const {
  bool registered = link_.registered();
  MutexLock lock(mu_);
  json slots = json::array();
  int max_sessions = 0;
  bool room = false;
  std::vector<std::pair<SessionId, size_t>> sessions = book_.Sessions();
  for (size_t i = 0; i < book_.slot_count(); ++i) {
    const SlotInfo& slot = book_.slot(i);
    json ids = json::array();
    for (const auto& [id, index] : sessions) {
      if (index == i) ids.push_back(id.str());
    }
    max_sessions += slot.max_sessions;
    room = room || book_.FreePlaces(i) > 0;
    json entry = {{"id", slot.id.str()},
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
               {"registered", registered},
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
