#include "app/command.h"

#include <cstdio>
#include <string>

namespace gridhub::app {

CommandStart StartCommand(int argc, char** argv, config::Mode mode, std::string_view name,
                          std::string_view about) {
  CommandStart start;
  const std::string command_name(name);
  config::CommandLine command = config::SplitCommandLine(argc - 1, argv + 1);
  if (command.help) {
    std::printf("usage: gridhub %s [--config FILE] [flags]\n\n%.*s%s", command_name.c_str(),
                static_cast<int>(about.size()), about.data(), config::FlagsHelp(mode).c_str());
    start.exit_code = 0;
    return start;
  }
  start.load = {.mode = mode, .file = command.config_file, .flags = command.flags};
  Result<config::Settings> settings = config::LoadSettings(start.load);
  if (!settings.ok()) {
    std::fprintf(stderr, "gridhub %s: %s\n", command_name.c_str(),
                 settings.error().message.c_str());
    start.exit_code = 2;
    return start;
  }
  start.settings = std::move(*settings);
  return start;
}

bool Failed(std::string_view name, const Status& status) {
  if (status.ok()) return false;
  std::fprintf(stderr, "gridhub %.*s: %s\n", static_cast<int>(name.size()), name.data(),
               status.error().message.c_str());
  return true;
}

}  // namespace gridhub::app
