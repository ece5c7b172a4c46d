#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include "app/hub_command.h"
#include "app/node_command.h"
#include "app/standalone_command.h"
#include "config/check_config.h"
#include "metrics/hub_metrics.h"

namespace {

constexpr const char* kUsage =
    "usage: gridhub <command> [flags]\n"
    "\n"
    "commands:\n"
    "  hub [--config FILE]         run the hub (router, queue, registry, metrics) on :4444\n"
    "  node [--config FILE]        run a node agent that registers slots with a hub, on :5555\n"
    "  standalone [--config FILE]  run a hub and a local node in one process on :4444\n"
    "  check-config FILE           validate a YAML file and print the effective settings\n"
    "  --version                   print the version (the Debian package's, when installed)\n"
    "\n"
    "Run `gridhub <command> --help` for the flags of each command.\n";

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    std::fputs(kUsage, stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string_view command = argv[1];
  if (command == "--version") {
    // project(VERSION) in CMakeLists.txt: the same string as gridhub_build_info and the package.
    const std::string version(gridhub::metrics::GridhubVersion());
    std::printf("gridhub %s\n", version.c_str());
    return 0;
  }
  if (std::string_view(argv[1]) == "hub") {
    return gridhub::app::HubMain(argc - 1, argv + 1);
  }
  if (std::string_view(argv[1]) == "node") {
    return gridhub::app::NodeMain(argc - 1, argv + 1);
  }
  if (std::string_view(argv[1]) == "standalone") {
    return gridhub::app::StandaloneMain(argc - 1, argv + 1);
  }
  if (std::string_view(argv[1]) == "check-config") {
    return gridhub::config::CheckConfigMain(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "gridhub: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
