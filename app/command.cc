#include "app/command.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "http/http_server.h"

namespace gridhub::app {

namespace {

// Every client connection is a descriptor: serve as many as the hard limit allows
// (server.max-connections stays below it, with a reserve).
void RaiseOpenFiles() {
  uint64_t before = 0;
  const uint64_t now = http::RaiseOpenFilesLimit(&before);
  std::string line = "open-files limit " + std::to_string(now);
  if (now != before) line += " (raised from " + std::to_string(before) + ")";
  log::Info("process.open_files", line);
}

}  // namespace

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
  LogFromEnvironment();
  start.load = {.mode = mode, .file = command.config_file, .flags = command.flags};
  Result<config::Settings> settings = config::LoadSettings(start.load);
  if (!settings.ok()) {
    log::Error("config.invalid", "gridhub " + command_name + ": " + settings.error().message);
    start.exit_code = 2;
    return start;
  }
  start.settings = std::move(*settings);
  ApplyLogSettings(start.settings);
  RaiseOpenFiles();
  return start;
}

bool Failed(std::string_view name, const Status& status) {
  if (status.ok()) return false;
  log::Error(std::string(name) + ".start_failed", status.error().message);
  return true;
}

void LogFromEnvironment() {
  // As the config key reads it: case and surrounding blanks ignored.
  auto word = [](const char* name) {
    const char* value = std::getenv(name);
    std::string out = value == nullptr ? "" : value;
    out.erase(0, out.find_first_not_of(" \t"));
    out.erase(out.find_last_not_of(" \t") + 1);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  log::Options options = log::Current();
  log::ParseFormat(word("GRIDHUB_LOG_FORMAT"), &options.format);
  log::ParseLevel(word("GRIDHUB_LOG_LEVEL"), &options.level);
  log::Configure(options);
}

void RegisterSecrets(const config::Settings& settings) {
  log::AddSecrets(
      {settings.hub.admin_token, settings.hub.client_token, settings.hub.registration_secret});
}

void ApplyLogSettings(const config::Settings& settings) {
  log::Configure({.format = settings.log.format, .level = settings.log.level});
  RegisterSecrets(settings);
}

void LogReload(const config::Settings& fresh, const std::string& line, const log::Fields& fields) {
  const log::Level before = log::Current().level;
  log::Configure({.format = fresh.log.format, .level = std::min(before, fresh.log.level)});
  log::Info("config.reloaded", line, fields);
  ApplyLogSettings(fresh);
}

void Announce(std::string_view event, const std::string& line, const log::Fields& fields) {
  if (log::Current().format == log::Format::kJson) {
    log::Info(event, line, fields);
    return;
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace gridhub::app
