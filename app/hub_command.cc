#include "app/hub_command.h"

#include <cstdio>

#include "app/command.h"
#include "app/signals.h"
#include "config/reload_report.h"
#include "hub/hub_service.h"
#include "hub/reload.h"

namespace gridhub::app {

int HubMain(int argc, char** argv) {
  CommandStart start = StartCommand(argc, argv, config::Mode::kHub, "hub");
  if (start.exit_code.has_value()) return *start.exit_code;
  // SIGHUP re-reads the same sources (the YAML file may have changed).
  return RunHub(start.settings, [load = start.load] { return config::LoadSettings(load); });
}

int RunHub(const config::Settings& settings, std::function<Result<config::Settings>()> reload) {
  ProcessSignals signals;  // before the hub's threads start: they inherit the mask
  SteadyClock clock;
  hub::HubService hub(settings, clock);
  if (Failed("hub", hub.Start())) return 1;
  std::printf("gridhub hub listening on %s\n", hub.url().c_str());
  std::fflush(stdout);
  config::Settings current = settings;  // what runs, compared with each reload
  auto reload_now = [&] {
    if (!reload) return;
    Result<config::Settings> fresh = reload();
    if (!fresh.ok()) {
      std::fprintf(stderr, "gridhub hub: reload failed, keeping settings: %s\n",
                   fresh.error().message.c_str());
      return;
    }
    // Names only: a changed token is reported as changed, its value never.
    config::ReloadReport report = hub::CompareSettings(current, *fresh);
    hub.Reconfigure(*fresh);
    std::fprintf(stderr, "gridhub hub: %s\n", config::DescribeReload(report).c_str());
    // What needs a restart stays as it runs, so the next reload reports it again.
    config::ServerSettings running_server = current.server;
    current = std::move(*fresh);
    current.server = std::move(running_server);
  };
  WaitForStop(signals, {.reload = reload_now, .stop = [](int) { return true; }});
  std::fprintf(stderr, "gridhub hub: stopping\n");
  hub.Stop();
  return 0;
}

}  // namespace gridhub::app
