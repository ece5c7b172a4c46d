#include "app/standalone_command.h"

#include <string>
#include <thread>

#include "app/command.h"
#include "app/signals.h"
#include "common/ids.h"
#include "common/log.h"
#include "config/reload_report.h"
#include "config/settings.h"
#include "hub/hub_service.h"
#include "hub/reload.h"
#include "node-agent/browser_version.h"
#include "node-agent/local_browsers.h"
#include "node-agent/node_server.h"

namespace gridhub::app {

namespace {

constexpr std::string_view kAbout =
    "Runs a hub and a local node. Without node.slots it offers chromedriver + chromium/"
    "google-chrome\nand geckodriver + firefox found on PATH, one headless slot per CPU core."
    "\n\n";

// What to tell users to point their clients at: the configured host, or localhost for a
// wildcard bind.
std::string ClientUrl(const config::Settings& settings, uint16_t port) {
  const std::string& host = settings.server.host;
  bool wildcard = host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
  return "http://" + (wildcard ? std::string("localhost") : host) + ":" + std::to_string(port);
}

// The secret the in-process hub and node share when none is configured: the node agent then
// refuses everyone else, whatever address the standalone is bound to.
void UseSecret(config::Settings& settings, const std::string& generated) {
  if (settings.hub.registration_secret.empty()) settings.hub.registration_secret = generated;
}

struct Running {
  hub::HubService& hub;
  node::NodeAgent& node;
  const config::LoadOptions& load;
  const std::string& generated_secret;
};

// SIGHUP: the hub part reloads as `gridhub hub` does, the node part as `gridhub node` does.
// Returns the settings now in force (as loaded, with the generated secret).
config::Settings Reload(const Running& running, const config::Settings& current) {
  Result<config::Settings> fresh = config::LoadSettings(running.load);
  if (!fresh.ok()) {
    log::Warn("config.reload_failed", "reload failed, keeping settings: " + fresh.error().message);
    return current;
  }
  UseSecret(*fresh, running.generated_secret);
  config::ReloadReport report = hub::CompareSettings(current, *fresh);
  config::ReloadReport node =
      node::CompareNodeSettings(current, *fresh, node::ReloadScope::kStandaloneNode);
  report.applied.insert(report.applied.end(), node.applied.begin(), node.applied.end());
  report.needs_restart.insert(report.needs_restart.end(), node.needs_restart.begin(),
                              node.needs_restart.end());
  RegisterSecrets(*fresh);
  running.hub.Reconfigure(*fresh);
  running.node.Reconfigure(node::OptionsFromSettings(*fresh));
  LogReload(*fresh, config::DescribeReload(report));
  config::Settings kept =
      node::KeepRestartOnly(current, std::move(*fresh), node::ReloadScope::kStandaloneNode);
  kept.server = current.server;  // the hub's server keeps running as it was
  return kept;
}

// Without node.slots: the browsers found on PATH. False (and says why) when there is none.
bool OfferSlots(config::Settings& settings) {
  if (!settings.node.slots.empty()) return true;
  node::LocalBrowsers found =
      node::DetectLocalBrowsers(node::FindOnPath, std::thread::hardware_concurrency());
  for (const std::string& line : found.found) Announce("standalone.detected", "detected " + line);
  for (const std::string& line : found.missing) {
    Announce("standalone.not_offered", "not offered: " + line);
  }
  if (found.slots.empty()) {
    log::Error("standalone.no_browser",
               "gridhub standalone: no browser to offer: install chromedriver and chromium "
               "(Debian: apt install chromium chromium-driver) or configure node.slots");
    return false;
  }
  settings.node.slots = std::move(found.slots);
  return true;
}

// Serves `settings` until stopped; `current` is what was loaded, for reloads.
int RunStandalone(const config::Settings& settings, config::Settings current,
                  const config::LoadOptions& load, const std::string& generated_secret) {
  ProcessSignals signals;  // before the hub's and node's threads start: they inherit the mask
  SteadyClock clock;
  hub::HubService hub(settings, clock);
  if (Failed("standalone", hub.Start())) return 1;
  node::NodeAgentOptions options = node::OptionsFromSettings(settings);
  options.hub = hub.url();
  options.uri.clear();  // the in-process node is reached on loopback
  node::NodeServer node(
      std::move(options),
      {.host = "127.0.0.1", .port = 0, .threads = 2, .max_body = settings.server.max_body}, clock);
  if (Failed("standalone.node", node.Start())) {
    hub.Stop();
    return 1;
  }
  Announce("standalone.started", "gridhub standalone listening on " + hub.url());
  Announce("standalone.started", "point WebDriver clients at " + ClientUrl(settings, hub.port()) +
                                     " (driver logs in " + node.agent().work_dir() + ")");
  Announce("standalone.started", node::IdleTimeoutLine(settings.node.session_timeout));
  Announce("standalone.console",
           "gridhub standalone console: " + ClientUrl(settings, hub.port()) + "/ui/");

  const Running running{hub, node.agent(), load, generated_secret};
  WaitForStop(signals, {.reload = [&] { current = Reload(running, current); },
                        .stop =
                            [](int signal_number) {
                              log::Info("standalone.stopping",
                                        "signal " + std::to_string(signal_number) +
                                            "; ending every session and stopping");
                              return true;
                            },
                        .done = [&] { return node.agent().WaitDone(Duration::zero()); }});
  node.Stop();
  hub.Stop();
  return 0;
}

}  // namespace

int StandaloneMain(int argc, char** argv) {
  CommandStart start = StartCommand(argc, argv, config::Mode::kStandalone, "standalone", kAbout);
  if (start.exit_code.has_value()) return *start.exit_code;
  const std::string generated_secret = RandomIdSource().NewId();  // 128 bits from the CSPRNG
  UseSecret(start.settings, generated_secret);
  log::AddSecrets({generated_secret});
  config::Settings settings = start.settings;
  if (!OfferSlots(settings)) return 2;
  for (const std::string& line :
       node::FillBrowserVersions(settings.node.slots, node::ProbeBrowserVersionBounded)) {
    Announce("standalone.browser_version", line);
  }
  return RunStandalone(settings, std::move(start.settings), start.load, generated_secret);
}

}  // namespace gridhub::app
