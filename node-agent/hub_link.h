#pragma once

// The node's side of its conversation with the hub: registration, heartbeats (and what their
// answers ask of the node), deregistration, telling the hub that the node ended a session or
// drains, and the log lines for calls that keep failing (RetryReport). HubLink holds no
// session state: the NodeAgent composes each registration and heartbeat and acts on the answer.
//
//   HubLink link({.node_id = NodeId("n1"), .node_uri = "http://10.0.0.5:5555",
//                 .hub = "http://hub:4444"}, clock, client);
//   link.SetCredentials({.registration_secret = "s3cret"});
//   if (link.Register(registration_body, /*retry_in=*/250ms)) ...
//   HeartbeatAnswer answer = link.Heartbeat({.sessions = ids, .draining = false}, 5s);
//   for (const SessionId& id : answer.unknown_sessions) ...   // the hub does not route them
//   link.TellSessionEnded(SessionId("abc"));                   // fire and forget
//
// Thread-safety: Register, Heartbeat and Deregister block on the hub (up to kHubCallTimeout)
// and are called from one thread (the node's maintenance thread, or a test's), which also owns
// the retry reports and reads the clock. SetCredentials, registered(), hub_addresses(), the
// Tell* calls and the accessors are safe from any thread.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/mutex.h"
#include "common/strong_id.h"
#include "http/http_client.h"
#include "node-agent/retry_report.h"

namespace gridhub::node {

struct HubLinkOptions {
  NodeId node_id;
  std::string node_uri;  // how the hub reaches this node
  std::string hub;       // the hub's base URL, without a trailing slash
};

// What the node proves itself with: X-Registration-Secret on node calls, a bearer token on the
// W3C call (client token) and on the drain call (admin token). "" = none. A SIGHUP may change
// them.
struct HubCredentials {
  std::string registration_secret;
  std::string hub_client_token;
  std::string hub_admin_token;
};

// One heartbeat: the node's live sessions and whether it drains.
struct HeartbeatReport {
  std::vector<SessionId> sessions;
  bool draining = false;
};

struct HeartbeatAnswer {
  enum class Outcome {
    kOk,           // 2xx
    kUnknownNode,  // 404: the hub restarted or declared the node DOWN; register again
    kFailed,       // no answer, or another status (logged by the retry report)
  };
  Outcome outcome = Outcome::kFailed;
  bool hub_drains_node = false;  // availability DRAINING: the hub was asked to drain the node
  // Sessions the node reported that the hub does not route to this node (docs/nodes.md).
  std::vector<SessionId> unknown_sessions;
};

// Reads a 2xx heartbeat answer's body: `{"value": {"availability", "unknownSessions"}}` (or the
// same keys at the top level). Anything of the wrong shape is ignored. Pure.
HeartbeatAnswer ParseHeartbeatAnswer(int status, const std::string& body);

class HubLink {
 public:
  // The most a hub call may take; a hub slower than this counts as down.
  static constexpr std::chrono::seconds kHubCallTimeout{5};

  HubLink(HubLinkOptions options, const Clock& clock, http::HttpClient& client);
  HubLink(const HubLink&) = delete;
  HubLink& operator=(const HubLink&) = delete;

  void SetCredentials(HubCredentials credentials) EXCLUDES(mu_);

  // Looks the hub's host up again (it may have moved since the last registration), logging
  // when its addresses change, then POST /nodes with `body`. True on 2xx; `retry_in` (when the
  // caller tries again) is for the failure's log line.
  bool Register(const nlohmann::json& body, Duration retry_in) EXCLUDES(mu_);
  // POST /nodes/{id}/heartbeat. A 404 clears registered(); `period` is for the log line.
  HeartbeatAnswer Heartbeat(const HeartbeatReport& report, Duration period) EXCLUDES(mu_);
  // DELETE /nodes/{id} (best effort; sent even when not registered: the hub may have taken a
  // registration whose answer was lost). Clears registered().
  void Deregister() EXCLUDES(mu_);

  // Through the hub's W3C surface: the hub frees the slot and forwards the DELETE, which the
  // node answers from its recently ended sessions. Does not wait for the answer.
  void TellSessionEnded(const SessionId& session) EXCLUDES(mu_);
  // The hub must stop choosing this node at once, or requests would bounce off it until their
  // retry limit. Does not wait for the answer.
  void TellDraining() EXCLUDES(mu_);

  bool registered() const EXCLUDES(mu_);
  // The hub's canonical IP addresses as last resolved (empty before the first registration
  // attempt or when the name does not resolve): who may call the node without a secret.
  std::vector<std::string> hub_addresses() const EXCLUDES(mu_);
  const std::string& hub() const { return options_.hub; }
  const NodeId& node_id() const { return options_.node_id; }

 private:
  enum class Bearer { kNone, kClientToken, kAdminToken };
  http::Headers Headers(Bearer bearer) const EXCLUDES(mu_);
  void ResolveHub() EXCLUDES(mu_);
  // A line about the link, with this node's id.
  void Log(log::Level level, std::string_view event, const std::string& line) const;

  const HubLinkOptions options_;
  const std::string hub_host_;  // options_.hub's host, for hub_addresses()
  const Clock& clock_;
  http::HttpClient& client_;
  // Which failed registrations and heartbeats get a log line (not every retry). Used only by
  // the thread that registers and heartbeats.
  RetryReport register_report_;
  RetryReport heartbeat_report_;

  mutable Mutex mu_;
  HubCredentials credentials_ GUARDED_BY(mu_);
  std::vector<std::string> hub_addresses_ GUARDED_BY(mu_);
  bool hub_resolved_ GUARDED_BY(mu_) = false;  // looked up at least once
  bool registered_ GUARDED_BY(mu_) = false;
};

}  // namespace gridhub::node
