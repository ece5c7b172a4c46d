#pragma once

// A NodeAgent with its HTTP server and HTTP client: what `gridhub node` runs, and what
// `gridhub standalone` runs next to its hub (app/node_command.cc, app/standalone_command.cc).
//
//   NodeServer node(OptionsFromSettings(settings), {.host = "0.0.0.0", .port = 5555}, clock);
//   if (Status s = node.Start(); !s.ok()) ...;   // binds first, so port 0 works
//   node.agent().Drain(DrainReason::kSignal);
//   node.Stop();
//
// Thread-safe after Start().

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/reload_report.h"
#include "config/settings.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "node-agent/node_agent.h"

namespace gridhub::node {

// The node part of the settings (node.*, plus hub.registration-secret and the hub tokens the
// node presents to its hub). uri stays empty unless node.uri is set; NodeServer fills it in.
NodeAgentOptions OptionsFromSettings(const config::Settings& settings);

// The URI a hub can reach this node at when node.uri is not set: the bound host, or for a
// wildcard host 127.0.0.1 when the hub is on loopback, else this machine's first non-loopback
// IPv4 address (the hostname if it has none).
std::string AdvertisedUri(const std::string& host, uint16_t port, const std::string& hub_url);

// What `gridhub node` and `standalone` print about node.session-timeout at start ("sessions
// idle for 300s are deleted", or that 0s means never).
std::string IdleTimeoutLine(Duration session_timeout);

// Which keys a reload compares: a node's own (node.*, the hub.* keys a node uses, server.*)
// or a standalone's node part (node.* only; its hub compares the rest).
enum class ReloadScope { kNode, kStandaloneNode };
// What a SIGHUP changed, by setting name (values are never logged: some are secrets):
// applied "node.session-timeout", "hub.registration-secret"; needing a restart "node.slots",
// "node.hub", "server.port", ... `before` and `after` as loaded from the same sources, before
// browser detection or version probing filled anything in.
config::ReloadReport CompareNodeSettings(const config::Settings& before,
                                         const config::Settings& after, ReloadScope scope);
// `after` with what needs a restart put back as it runs (`before`), so that the next reload
// reports it again.
config::Settings KeepRestartOnly(const config::Settings& before, config::Settings after,
                                 ReloadScope scope);

class NodeServer {
 public:
  NodeServer(NodeAgentOptions options, http::ServerOptions server, const Clock& clock);
  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  Status Start();
  uint16_t port() const { return server_->port(); }
  // REQUIRES: Start() succeeded.
  NodeAgent& agent() { return *agent_; }
  // Ends all sessions and drivers, deregisters, stops serving. Idempotent.
  void Stop();

 private:
  NodeAgentOptions options_;
  std::string host_;  // the bound host, for the advertised URI
  const Clock& clock_;
  http::HttpClient client_;
  std::unique_ptr<NodeAgent> agent_;
  std::atomic<NodeAgent*> serving_{nullptr};  // set once the agent exists
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace gridhub::node
