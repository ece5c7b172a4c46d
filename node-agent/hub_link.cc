#include "node-agent/hub_link.h"

#include "config/values.h"
#include "http/json_body.h"
#include "node-agent/answer_fields.h"
#include "node-agent/node_log.h"
#include "node-agent/peer_access.h"

namespace gridhub::node {

using nlohmann::json;

namespace {

// A hub that stays unreachable gets one log line per this period (and one per change of error).
constexpr std::chrono::seconds kRetryLogQuiet{10};
// The most the node reads of a hub answer: a small JSON object.
constexpr size_t kSmallAnswer = size_t{1} << 20;

std::string HostOfUrl(const std::string& url) {
  Result<config::HttpUrl> parsed = config::ParseHttpUrl(url);
  return parsed.ok() ? parsed->host : "";
}

bool Is2xx(int status) { return status >= 200 && status < 300; }

}  // namespace

HeartbeatAnswer ParseHeartbeatAnswer(int status, const std::string& body) {
  HeartbeatAnswer answer;
  if (status == 404) answer.outcome = HeartbeatAnswer::Outcome::kUnknownNode;
  if (!Is2xx(status)) return answer;
  answer.outcome = HeartbeatAnswer::Outcome::kOk;
  if (body.empty()) return answer;
  Result<json> reply = http::ParseJsonBody(body);
  if (!reply.ok()) return answer;
  const json* value = W3CValue(*reply);
  const json& fields = value != nullptr ? *value : *reply;
  // DRAINING there means the hub was asked to drain this node.
  answer.hub_drains_node = StringMember(fields, "availability") == "DRAINING";
  if (!fields.is_object()) return answer;
  auto unknown = fields.find("unknownSessions");
  if (unknown == fields.end() || !unknown->is_array()) return answer;
  for (const json& id : *unknown) {
    if (id.is_string()) answer.unknown_sessions.emplace_back(id.get<std::string>());
  }
  return answer;
}

HubLink::HubLink(HubLinkOptions options, const Clock& clock, http::HttpClient& client)
    : options_(std::move(options)),
      hub_host_(HostOfUrl(options_.hub)),
      clock_(clock),
      client_(client),
      register_report_("registration with hub " + options_.hub, kRetryLogQuiet),
      heartbeat_report_("heartbeat to hub " + options_.hub, kRetryLogQuiet) {}

void HubLink::SetCredentials(HubCredentials credentials) {
  MutexLock lock(mu_);
  credentials_ = std::move(credentials);
}

http::Headers HubLink::Headers(Bearer bearer) const {
  MutexLock lock(mu_);
  http::Headers headers;
  if (!credentials_.registration_secret.empty()) {
    headers.emplace_back("X-Registration-Secret", credentials_.registration_secret);
  }
  const std::string& token = bearer == Bearer::kClientToken  ? credentials_.hub_client_token
                             : bearer == Bearer::kAdminToken ? credentials_.hub_admin_token
                                                             : std::string();
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

void HubLink::Log(log::Level level, std::string_view event, const std::string& line) const {
  NodeLog(level, event, options_.node_id.str(), line);
}

void HubLink::ResolveHub() {
  std::vector<std::string> addresses = ResolveHostAddresses(hub_host_);
  MutexLock lock(mu_);
  if (!hub_resolved_ || addresses != hub_addresses_) {
    if (addresses.empty()) {
      Log(log::Level::kWarn, "node.hub_unresolved",
          "cannot resolve hub host " + hub_host_ +
              "; without a registration secret only loopback may call this node");
    } else {
      Log(log::Level::kInfo, "node.hub_resolved",
          "hub " + hub_host_ + " is at " + JoinAddresses(addresses));
    }
  }
  hub_resolved_ = true;
  hub_addresses_ = std::move(addresses);
}

bool HubLink::Register(const json& body, Duration retry_in) {
  ResolveHub();
  http::ClientResponse answer = client_.SendSync({.method = "POST",
                                                  .url = options_.hub + "/nodes",
                                                  .headers = Headers(Bearer::kNone),
                                                  .body = body.dump(),
                                                  .timeout = kHubCallTimeout,
                                                  .max_response_body = kSmallAnswer});
  bool ok = Is2xx(answer.status);
  if (ok) {
    if (std::optional<std::string> line = register_report_.Succeeded()) {
      Log(log::Level::kInfo, "node.hub_reachable", *line);
    }
    Log(log::Level::kInfo, "node.registered",
        "registered with hub " + options_.hub + " as " + options_.node_id.str() + " (" +
            options_.node_uri + ")");
  } else if (auto line = register_report_.Failed(clock_.Now(), FailureText(answer), retry_in)) {
    Log(log::Level::kWarn, "node.registration_failed", *line);
  }
  MutexLock lock(mu_);
  registered_ = ok;
  return ok;
}

HeartbeatAnswer HubLink::Heartbeat(const HeartbeatReport& report, Duration period) {
  json ids = json::array();
  for (const SessionId& id : report.sessions) ids.push_back(id.str());
  json body = {{"sessions", std::move(ids)}, {"draining", report.draining}};
  http::ClientResponse answer =
      client_.SendSync({.method = "POST",
                        .url = options_.hub + "/nodes/" + options_.node_id.str() + "/heartbeat",
                        .headers = Headers(Bearer::kNone),
                        .body = body.dump(),
                        .timeout = kHubCallTimeout,
                        .max_response_body = kSmallAnswer});
  HeartbeatAnswer parsed = ParseHeartbeatAnswer(answer.status, answer.body);
  if (parsed.outcome == HeartbeatAnswer::Outcome::kUnknownNode) {
    // Registering again reports the live sessions, so that they stay routable.
    Log(log::Level::kWarn, "node.unknown_to_hub",
        "hub " + options_.hub + " does not know this node; registering again");
    heartbeat_report_.Succeeded();  // the hub answers; registration reports from here
    MutexLock lock(mu_);
    registered_ = false;
  } else if (parsed.outcome == HeartbeatAnswer::Outcome::kOk) {
    if (std::optional<std::string> line = heartbeat_report_.Succeeded()) {
      Log(log::Level::kInfo, "node.hub_reachable", *line);
    }
  } else if (auto line = heartbeat_report_.Failed(clock_.Now(), FailureText(answer), period)) {
    Log(log::Level::kWarn, "node.heartbeat_failed", *line);
  }
  return parsed;
}

void HubLink::Deregister() {
  client_.SendSync({.method = "DELETE",
                    .url = options_.hub + "/nodes/" + options_.node_id.str(),
                    .headers = Headers(Bearer::kNone),
                    .timeout = kHubCallTimeout,
                    .max_response_body = kSmallAnswer});
  MutexLock lock(mu_);
  registered_ = false;
}

void HubLink::TellSessionEnded(const SessionId& session) {
  client_.Send({.method = "DELETE",
                .url = options_.hub + "/session/" + session.str(),
                .headers = Headers(Bearer::kClientToken),
                .timeout = kHubCallTimeout,
                .max_response_body = kSmallAnswer},
               [](const http::ClientResponse&) {});
}

void HubLink::TellDraining() {
  // The hub answers its own admin drain route; the node proves itself with the registration
  // secret (and the admin token when it has one).
  client_.Send({.method = "POST",
                .url = options_.hub + "/nodes/" + options_.node_id.str() + "/drain",
                .headers = Headers(Bearer::kAdminToken),
                .timeout = kHubCallTimeout,
                .max_response_body = kSmallAnswer},
               [](const http::ClientResponse&) {});
}

bool HubLink::registered() const {
  MutexLock lock(mu_);
  return registered_;
}

std::vector<std::string> HubLink::hub_addresses() const {
  MutexLock lock(mu_);
  return hub_addresses_;
}

}  // namespace gridhub::node
