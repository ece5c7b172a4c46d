#include "app/node_command.h"

#include <cstdio>

#include "app/command.h"
#include "app/signals.h"
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
    std::fprintf(stderr, "gridhub node: reload failed, keeping settings: %s\n",
                 fresh.error().message.c_str());
    return current;
  }
  config::ReloadReport reload =
      node::CompareNodeSettings(current, *fresh, node::ReloadScope::kNode);
  agent.Reconfigure(node::OptionsFromSettings(*fresh));
  std::fprintf(stderr, "gridhub node: %s\n", config::DescribeReload(reload).c_str());
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
  std::printf("gridhub node listening on %s\n", node.agent().uri().c_str());
  std::printf("node %s registers with %s; driver logs in %s\n", node.agent().id().c_str(),
              settings.node.hub.c_str(), node.agent().work_dir().c_str());
  std::printf("%s\n", node::IdleTimeoutLine(settings.node.session_timeout).c_str());
  std::fflush(stdout);

  bool draining = false;
  auto stop = [&](int signal_number) {
    if (draining) {
      std::fprintf(stderr, "gridhub node: second signal; ending all sessions now\n");
      return true;
    }
    draining = true;
    std::fprintf(stderr, "gridhub node: signal %d; draining (again to stop at once)\n",
                 signal_number);
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
    std::fprintf(stderr,
                 "gridhub node: node.slots is empty: configure at least one slot with driver: or "
                 "relay: (see docs/nodes.md)\n");
    return 2;
  }
  // A stereotype that names its browser binary but no version advertises the version that
  // binary reports, as the standalone's detected ones do.
  for (const std::string& line :
       node::FillBrowserVersions(settings.node.slots, node::ProbeBrowserVersionBounded)) {
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
  return RunNode(settings, std::move(start.settings), start.load);
}

}  // namespace gridhub::app
