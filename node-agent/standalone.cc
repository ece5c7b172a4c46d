#include "node-agent/standalone.h"

#include <signal.h>

#include <cstdio>
#include <ctime>
#include <thread>

#include "common/ids.h"
#include "config/settings.h"
#include "hub/hub_service.h"
#include "hub/reload.h"
#include "node-agent/browser_version.h"
#include "node-agent/local_browsers.h"
#include "node-agent/node_server.h"

namespace gridhub::node {

namespace {

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
  NodeAgent& node;
  const config::LoadOptions& load;
  const std::string& generated_secret;
};

// SIGHUP: the hub part reloads as `gridhub hub` does, the node part as `gridhub node` does.
// Returns the settings now in force (as loaded, with the generated secret).
config::Settings Reload(const Running& running, const config::Settings& current) {
  Result<config::Settings> fresh = config::LoadSettings(running.load);
  if (!fresh.ok()) {
    std::fprintf(stderr, "gridhub standalone: reload failed, keeping settings: %s\n",
                 fresh.error().message.c_str());
    return current;
  }
  UseSecret(*fresh, running.generated_secret);
  hub::ReloadReport report = hub::CompareSettings(current, *fresh);
  NodeReload node = CompareNodeSettings(current, *fresh, ReloadScope::kStandaloneNode);
  report.applied.insert(report.applied.end(), node.applied.begin(), node.applied.end());
  report.needs_restart.insert(report.needs_restart.end(), node.needs_restart.begin(),
                              node.needs_restart.end());
  running.hub.Reconfigure(*fresh);
  NodeAgentOptions options = OptionsFromSettings(*fresh);
  running.node.Reconfigure(options);
  std::fprintf(stderr, "gridhub standalone: %s\n", hub::DescribeReload(report).c_str());
  config::Settings kept = KeepRestartOnly(current, std::move(*fresh), ReloadScope::kStandaloneNode);
  kept.server = current.server;  // the hub's server keeps running as it was
  return kept;
}

}  // namespace

int StandaloneMain(int argc, char** argv) {
  config::CommandLine command = config::SplitCommandLine(argc - 1, argv + 1);
  if (command.help) {
    std::printf(
        "usage: gridhub standalone [--config FILE] [flags]\n\n"
        "Runs a hub and a local node. Without node.slots it offers chromedriver + chromium/"
        "google-chrome\nand geckodriver + firefox found on PATH, one headless slot per CPU core."
        "\n\n%s",
        config::FlagsHelp(config::Mode::kStandalone).c_str());
    return 0;
  }
  const config::LoadOptions load{
      .mode = config::Mode::kStandalone, .file = command.config_file, .flags = command.flags};
  Result<config::Settings> loaded = config::LoadSettings(load);
  if (!loaded.ok()) {
    std::fprintf(stderr, "gridhub standalone: %s\n", loaded.error().message.c_str());
    return 2;
  }
  const std::string generated_secret = RandomIdSource().NewId();  // 128 bits from the CSPRNG
  UseSecret(*loaded, generated_secret);
  config::Settings current = *loaded;  // as loaded, for reloads
  config::Settings settings = std::move(*loaded);
  if (settings.node.slots.empty()) {
    LocalBrowsers found = DetectLocalBrowsers(FindOnPath, std::thread::hardware_concurrency());
    for (const std::string& line : found.found) std::printf("detected %s\n", line.c_str());
    for (const std::string& line : found.missing) std::printf("not offered: %s\n", line.c_str());
    if (found.slots.empty()) {
      std::fprintf(stderr,
                   "gridhub standalone: no browser to offer: install chromedriver and chromium "
                   "(Debian: apt install chromium chromium-driver) or configure node.slots\n");
      return 2;
    }
    settings.node.slots = std::move(found.slots);
  }
  for (const std::string& line :
       FillBrowserVersions(settings.node.slots, ProbeBrowserVersionBounded)) {
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  SteadyClock clock;
  hub::HubService hub(settings, clock);
  if (Status started = hub.Start(); !started.ok()) {
    std::fprintf(stderr, "gridhub standalone: %s\n", started.error().message.c_str());
    return 1;
  }
  NodeAgentOptions options = OptionsFromSettings(settings);
  options.hub = hub.url();
  options.uri.clear();  // the in-process node is reached on loopback
  NodeServer node(
      std::move(options),
      {.host = "127.0.0.1", .port = 0, .threads = 2, .max_body = settings.server.max_body}, clock);
  if (Status started = node.Start(); !started.ok()) {
    std::fprintf(stderr, "gridhub standalone: node: %s\n", started.error().message.c_str());
    hub.Stop();
    return 1;
  }
  std::printf("gridhub standalone listening on %s\n", hub.url().c_str());
  std::printf("point WebDriver clients at %s (driver logs in %s)\n",
              ClientUrl(settings, hub.port()).c_str(), node.agent().work_dir().c_str());
  std::printf("%s\n", IdleTimeoutLine(settings.node.session_timeout).c_str());
  std::fflush(stdout);

  while (!node.agent().WaitDone(Duration::zero())) {
    timespec wait{0, 200L * 1000 * 1000};
    int signal_number = ::sigtimedwait(&signals, nullptr, &wait);
    if (signal_number < 0) continue;
    if (signal_number == SIGHUP) {
      current = Reload({hub, node.agent(), load, generated_secret}, current);
      continue;
    }
    std::fprintf(stderr, "gridhub standalone: signal %d; ending every session and stopping\n",
                 signal_number);
    break;
  }
  node.Stop();
  hub.Stop();
  return 0;
}

}  // namespace gridhub::node
