#include "node-agent/node_server.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include "config/values.h"
#include "http/w3c_error.h"
#include "node-agent/peer_access.h"

namespace gridhub::node {

namespace {

// Whether the hub named by `hub_url` is on this machine's loopback.
bool HubOnLoopback(const std::string& hub_url) {
  Result<config::HttpUrl> url = config::ParseHttpUrl(hub_url);
  return url.ok() && (url->host == "localhost" || IsLoopbackAddress(url->host));
}

std::string MachineAddress() {
  ifaddrs* list = nullptr;
  std::string found;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* it = list; it != nullptr && found.empty(); it = it->ifa_next) {
      if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
      auto* addr = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
      if (ntohl(addr->sin_addr.s_addr) >> 24 == 127) continue;
      char text[INET_ADDRSTRLEN] = {};
      if (::inet_ntop(AF_INET, &addr->sin_addr, text, sizeof(text)) != nullptr) found = text;
    }
    ::freeifaddrs(list);
  }
  if (found.empty()) {
    char name[256] = {};
    found = ::gethostname(name, sizeof(name) - 1) == 0 ? name : "127.0.0.1";
  }
  return found;
}

}  // namespace

std::string IdleTimeoutLine(Duration session_timeout) {
  if (session_timeout <= Duration::zero()) {
    return "idle sessions are never deleted (node.session-timeout 0s)";
  }
  return "sessions idle for " + config::FormatDuration(session_timeout) + " are deleted";
}

NodeAgentOptions OptionsFromSettings(const config::Settings& settings) {
  NodeAgentOptions options;
  options.id = settings.node.id;
  options.uri = settings.node.uri;
  options.hub = settings.node.hub;
  options.registration_secret = settings.hub.registration_secret;
  options.hub_client_token = settings.hub.client_token;
  options.hub_admin_token = settings.hub.admin_token;
  options.slots = settings.node.slots;
  options.session_timeout = settings.node.session_timeout;
  options.drain_after_sessions = settings.node.drain_after_sessions;
  options.drain_timeout = settings.node.drain_timeout;
  options.max_response_body = settings.server.max_body;
  options.max_upload = settings.node.max_upload;
  options.spare_drivers = true;
  // Three heartbeats per hub.node-timeout (when the node's settings know it), and at least one
  // a second: the hub's node-timeout may be set shorter than the node's file knows, and a
  // heartbeat costs the hub one short critical section.
  Duration third = settings.hub.node_timeout / 3;
  options.heartbeat_period =
      std::clamp<Duration>(third, std::chrono::milliseconds(100), std::chrono::seconds(1));
  return options;
}

std::string AdvertisedUri(const std::string& host, uint16_t port, const std::string& hub_url) {
  std::string address = host;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    address = HubOnLoopback(hub_url) ? "127.0.0.1" : MachineAddress();
  }
  return "http://" + address + ":" + std::to_string(port);
}

namespace {

bool SameSlots(const std::vector<config::SlotConfig>& a, const std::vector<config::SlotConfig>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].label != b[i].label || a[i].max_sessions != b[i].max_sessions ||
        a[i].stereotype != b[i].stereotype || a[i].driver != b[i].driver ||
        a[i].relay != b[i].relay || a[i].downloads != b[i].downloads) {
      return false;
    }
  }
  return true;
}

}  // namespace

config::ReloadReport CompareNodeSettings(const config::Settings& before,
                                         const config::Settings& after, ReloadScope scope) {
  config::ReloadReport reload;
  auto check = [](bool differs, const char* name, std::vector<std::string>& into) {
    if (differs) into.emplace_back(name);
  };
  const config::NodeSettings& b = before.node;
  const config::NodeSettings& a = after.node;
  check(b.session_timeout != a.session_timeout, "node.session-timeout", reload.applied);
  check(b.drain_after_sessions != a.drain_after_sessions, "node.drain-after-sessions",
        reload.applied);
  check(b.drain_timeout != a.drain_timeout, "node.drain-timeout", reload.applied);
  check(b.id != a.id, "node.id", reload.needs_restart);
  check(b.hub != a.hub, "node.hub", reload.needs_restart);
  check(b.uri != a.uri, "node.uri", reload.needs_restart);
  check(!SameSlots(b.slots, a.slots), "node.slots", reload.needs_restart);
  check(b.max_upload != a.max_upload, "node.max-upload", reload.needs_restart);
  if (scope == ReloadScope::kStandaloneNode) return reload;
  // The command applies these itself (log::Configure) before it reports the reload.
  check(before.log.format != after.log.format, "log.format", reload.applied);
  check(before.log.level != after.log.level, "log.level", reload.applied);
  const config::HubSettings& bh = before.hub;
  const config::HubSettings& ah = after.hub;
  check(bh.registration_secret != ah.registration_secret, "hub.registration-secret",
        reload.applied);
  check(bh.client_token != ah.client_token, "hub.client-token", reload.applied);
  check(bh.admin_token != ah.admin_token, "hub.admin-token", reload.applied);
  check(bh.node_timeout != ah.node_timeout, "hub.node-timeout", reload.applied);
  const config::ServerSettings& bs = before.server;
  const config::ServerSettings& as = after.server;
  check(bs.host != as.host, "server.host", reload.needs_restart);
  check(bs.port != as.port, "server.port", reload.needs_restart);
  check(bs.threads != as.threads, "server.threads", reload.needs_restart);
  check(bs.max_body != as.max_body, "server.max-body", reload.needs_restart);
  return reload;
}

config::Settings KeepRestartOnly(const config::Settings& before, config::Settings after,
                                 ReloadScope scope) {
  after.node.id = before.node.id;
  after.node.hub = before.node.hub;
  after.node.uri = before.node.uri;
  after.node.slots = before.node.slots;
  after.node.max_upload = before.node.max_upload;
  if (scope == ReloadScope::kNode) after.server = before.server;
  return after;
}

NodeServer::NodeServer(NodeAgentOptions options, http::ServerOptions server, const Clock& clock)
    : options_(std::move(options)), host_(server.host), clock_(clock) {
  server_ = std::make_unique<http::HttpServer>(
      std::move(server), [this](http::ServerRequest request, http::Responder responder) {
        NodeAgent* agent = serving_.load();
        if (agent == nullptr) {
          responder.Send(503, http::W3CErrorBody({ErrorCode::kUnavailable, "node starting"}));
          return;
        }
        agent->Handle(std::move(request), std::move(responder));
      });
}

NodeServer::~NodeServer() { Stop(); }

Status NodeServer::Start() {
  if (Status started = server_->Start(); !started.ok()) return started;
  NodeAgentOptions options = options_;
  if (options.uri.empty()) {
    options.uri = AdvertisedUri(host_, server_->port(), options.hub);
  }
  agent_ = std::make_unique<NodeAgent>(std::move(options), clock_, client_);
  if (Status started = agent_->Start(); !started.ok()) return started;
  serving_.store(agent_.get());
  return Status::Ok();
}

void NodeServer::Stop() {
  if (agent_) agent_->Stop();
  // Completes any command still in flight (its callback needs the agent, which lives on).
  client_.Stop();
  server_->Stop();
  serving_.store(nullptr);
}

}  // namespace gridhub::node
