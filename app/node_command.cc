#include "app/node_command.h"

#include <string>

#include "app/command.h"
#include "app/signals.h"
#include "common/log.h"
#include "config/reload_report.h"
#include "node-agent/browser_version.h"
#include "node-agent/node_server.h"

namespace gridhub::app {

namespace {

http::ServerOptions NodeServerOptions(const config::ServerSettings& server) {
  return {
      .host = server.host,
      .port = static_cast<uint16_t>(server.port),
      .threads = config::EffectiveThreads(server),
      .max_body = server.max_body,
      .max_connections = static_cast<size_t>(server.max_connections),
      .header_timeout =
          std::chrono::duration_cast<std::chrono::milliseconds>(server.header_timeout),
      .min_body_rate = server.min_body_rate,
      .idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(server.idle_timeout)};
}

// SIGHUP: re-reads the same sources, applies what can change live and says what cannot.
// Returns the settings now in force (as loaded).
config::Settings ReloadNode(const config::LoadOptions& load, const config::Settings& current,
                            node::NodeAgent& agent) {
  Result<config::Settings> fresh = config::LoadSettings(load);
  if (!fresh.ok()) {
    log::Warn("config.reload_failed", "reload failed, keeping settings: " + fresh.error().message,
              {.node_id = agent.id()});
    return current;
  }
  config::ReloadReport reload =
      node::CompareNodeSettings(current, *fresh, node::ReloadScope::kNode);
  RegisterSecrets(*fresh);
  agent.Reconfigure(node::OptionsFromSettings(*fresh));
  LogReload(*fresh, config::DescribeReload(reload), {.node_id = agent.id()});
  return node::KeepRestartOnly(current, std::move(*fresh), node::ReloadScope::kNode);
}

// Serves `settings` (versions filled in) until stopped; `loaded` is what was read, for reloads.
int RunNode(const config::Settings& settings, config::Settings loaded,
            const config::LoadOptions& load) {
  ProcessSignals signals;  // before the node's threads start: they inherit the mask
  SteadyClock clock;
  node::NodeServer node(node::OptionsFromSettings(settings), NodeServerOptions(settings.server),
                        clock);
  if (Failed("node", node.Start())) return 1;
  const log::Fields fields{.node_id = node.agent().id()};
  Announce("node.started", "gridhub node listening on " + node.agent().uri(), fields);
  Announce("node.started",
           "node " + node.agent().id() + " registers with " + settings.node.hub +
               "; driver logs in " + node.agent().work_dir(),
           fields);
  Announce("node.started", node::IdleTimeoutLine(settings.node.session_timeout), fields);

  bool draining = false;
  auto stop = [&](int signal_number) {
    if (draining) {
      log::Warn("node.stopping", "second signal; ending all sessions now", fields);
      return true;
    }
    draining = true;
    log::Info("node.draining",
              "signal " + std::to_string(signal_number) + "; draining (again to stop at once)",
              fields);
    node.agent().Drain(node::DrainReason::kSignal);
    return false;
  };
  WaitForStop(signals, {.reload = [&] { loaded = ReloadNode(load, loaded, node.agent()); },
                        .stop = stop,
                        .done = [&] { return node.agent().WaitDone(Duration::zero()); }});
  node.Stop();
  return 0;
}

}  // namespace

int NodeMain(int argc, char** argv) {
  CommandStart start = StartCommand(argc, argv, config::Mode::kNode, "node");
  if (start.exit_code.has_value()) return *start.exit_code;
  config::Settings settings = start.settings;
  if (settings.node.slots.empty()) {
    log::Error("config.invalid",
               "gridhub node: node.slots is empty: configure at least one slot with driver: or "
               "relay: (see docs/nodes.md)");
    return 2;
  }
  // A stereotype that names its browser binary but no version advertises the version that
  // binary reports, as the standalone's detected ones do.
  for (const std::string& line :
       node::FillBrowserVersions(settings.node.slots, node::ProbeBrowserVersionBounded)) {
    Announce("node.browser_version", line);
  }
  return RunNode(settings, std::move(start.settings), start.load);
}

}  // namespace gridhub::app
