#include "app/hub_command.h"

#include "app/command.h"
#include "app/signals.h"
#include "common/log.h"
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
  Announce("hub.started", "gridhub hub listening on " + hub.url());
  // A line of its own: scripts read the URL at the end of the line above.
  Announce("hub.console", "gridhub hub console: " + hub.url() + "/ui/");
  config::Settings current = settings;  // what runs, compared with each reload
  auto reload_now = [&] {
    if (!reload) return;
    Result<config::Settings> fresh = reload();
    if (!fresh.ok()) {
      log::Warn("config.reload_failed",
                "reload failed, keeping settings: " + fresh.error().message);
      return;
    }
    // Names only: a changed token is reported as changed, its value never.
    config::ReloadReport report = hub::CompareSettings(current, *fresh);
    RegisterSecrets(*fresh);
    hub.Reconfigure(*fresh);
    LogReload(*fresh, config::DescribeReload(report));
    // What needs a restart stays as it runs, so the next reload reports it again.
    config::ServerSettings running_server = current.server;
    current = std::move(*fresh);
    current.server = std::move(running_server);
  };
  WaitForStop(signals, {.reload = reload_now, .stop = [](int) { return true; }});
  log::Info("hub.stopping", "stopping");
  hub.Stop();
  return 0;
}

}  // namespace gridhub::app
