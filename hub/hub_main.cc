#include "hub/hub_main.h"

#include <cstdio>

#include "config/settings.h"
#include "hub/hub_service.h"

namespace gridhub::hub {

int HubMain(int argc, char** argv) {
  config::CommandLine command = config::SplitCommandLine(argc - 1, argv + 1);
  if (command.help) {
    std::printf("usage: gridhub hub [--config FILE] [flags]\n\n%s",
                config::FlagsHelp(config::Mode::kHub).c_str());
    return 0;
  }
  config::LoadOptions options{
      .mode = config::Mode::kHub, .file = command.config_file, .flags = command.flags};
  Result<config::Settings> settings = config::LoadSettings(options);
  if (!settings.ok()) {
    std::fprintf(stderr, "gridhub hub: %s\n", settings.error().message.c_str());
    return 2;
  }
  // SIGHUP re-reads the same sources (the YAML file may have changed).
  return RunHub(*settings, [options] { return config::LoadSettings(options); });
}

}  // namespace gridhub::hub
