#include "config/check_config.h"

#include <cstdio>
#include <string>

#include "config/settings.h"

namespace gridhub::config {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitBadConfig = 2;

constexpr const char* kUsage =
    "usage: gridhub check-config FILE [--section.key VALUE ...]\n"
    "Validates FILE (with the environment and flags applied on top, as at start-up) and\n"
    "prints every effective setting with its source: default, file, env or flag.\n";

}  // namespace

int CheckConfigMain(int argc, char** argv) {
  CommandLine line = SplitCommandLine(argc - 1, argv + 1);
  if (line.help) {
    std::printf("%s\n%s", kUsage, FlagsHelp(Mode::kCheck).c_str());
    return kExitOk;
  }
  // The file may be given bare (the documented form) or as --config FILE.
  if (!line.config_file && !line.flags.empty() && line.flags.front().rfind("--", 0) != 0) {
    line.config_file = line.flags.front();
    line.flags.erase(line.flags.begin());
  }
  if (!line.config_file) {
    std::fputs(kUsage, stderr);
    return kExitBadConfig;
  }
  LoadOptions options{.mode = Mode::kCheck, .file = line.config_file, .flags = line.flags};
  Result<Settings> settings = LoadSettings(options);
  if (!settings.ok()) {
    std::fprintf(stderr, "check-config: %s\n", settings.error().message.c_str());
    return kExitBadConfig;
  }
  std::printf("# %s: valid; effective settings (source in brackets)\n%s", line.config_file->c_str(),
              Describe(*settings).c_str());
  return kExitOk;
}

}  // namespace gridhub::config
