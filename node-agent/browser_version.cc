#include "node-agent/browser_version.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <map>
#include <thread>

#include "common/clock.h"
#include "node-agent/spawn.h"

namespace gridhub::node {

using nlohmann::json;

namespace {

constexpr size_t kMaxOutput = 64 * 1024;  // a version line is short; a flood is not read whole

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// "156.0.8078.108" out of a token such as "156.0.8078.108" or "115.3.0esr"; nullopt for
// "12", "2024-01-01" or "[1234:5678:ERROR".
std::optional<std::string> VersionToken(std::string_view token) {
  size_t i = 0;
  int dots = 0;
  while (i < token.size() && IsDigit(token[i])) {
    while (i < token.size() && IsDigit(token[i])) ++i;
    if (i + 1 < token.size() && token[i] == '.' && IsDigit(token[i + 1])) {
      ++dots;
      ++i;
    } else {
      break;
    }
  }
  if (dots == 0) return std::nullopt;
  for (size_t j = i; j < token.size(); ++j) {
    if (!IsAlpha(token[j])) return std::nullopt;
  }
  return std::string(token.substr(0, i));
}

// Starts `binary --version` with stdout into `out_fd`; the child's pid, or -1.
pid_t SpawnVersion(const std::string& binary, int out_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  // Own group, so a browser that forks helpers can be killed whole if it hangs.
  pid_t pid = SpawnInOwnGroup({binary, "--version"}, actions);
  posix_spawn_file_actions_destroy(&actions);
  return pid < 0 ? -1 : pid;
}

// Reads `fd` until EOF, a complete line with a version, `deadline` or kMaxOutput bytes.
std::string ReadUntil(int fd, const SteadyClock& clock, SteadyTime deadline) {
  std::string out;
  char buffer[4096];
  while (out.size() < kMaxOutput) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.Now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    // A helper the browser forked may hold the pipe open long after the version line.
    if (out.find('\n') != std::string::npos && ParseBrowserVersion(out)) break;
  }
  return out;
}

// Waits for `pid` until `deadline`, then kills its group; true when it exited 0 by itself.
bool ReapBy(pid_t pid, const SteadyClock& clock, SteadyTime deadline) {
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return false;
    if (clock.Now() >= deadline) {
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return false;
    }
    // Exiting takes a browser a few milliseconds once it has printed its version.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid, SIGKILL);  // helpers it may have left behind
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::optional<std::string> ParseBrowserVersion(std::string_view output) {
  size_t i = 0;
  while (i < output.size()) {
    while (i < output.size() && std::isspace(static_cast<unsigned char>(output[i]))) ++i;
    size_t start = i;
    while (i < output.size() && !std::isspace(static_cast<unsigned char>(output[i]))) ++i;
    if (i > start) {
      if (auto version = VersionToken(output.substr(start, i - start))) return version;
    }
  }
  return std::nullopt;
}

std::optional<std::string> ProbeBrowserVersion(const std::string& binary,
                                               std::chrono::milliseconds timeout) {
  if (binary.empty()) return std::nullopt;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  pid_t pid = SpawnVersion(binary, fds[1]);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return std::nullopt;
  }
  SteadyClock clock;
  SteadyTime deadline = clock.Now() + timeout;
  std::string output = ReadUntil(fds[0], clock, deadline);
  ::close(fds[0]);
  bool exited_ok = ReapBy(pid, clock, deadline);
  if (!exited_ok) return std::nullopt;
  return ParseBrowserVersion(output);
}

std::optional<std::string> ProbeBrowserVersionBounded(const std::string& binary) {
  return ProbeBrowserVersion(binary, std::chrono::seconds(10));
}

std::string StereotypeBinary(const json& stereotype) {
  if (!stereotype.is_object()) return "";
  for (const char* key : {"goog:chromeOptions", "moz:firefoxOptions", "ms:edgeOptions"}) {
    auto options = stereotype.find(key);
    if (options == stereotype.end() || !options->is_object()) continue;
    auto binary = options->find("binary");
    if (binary != options->end() && binary->is_string() &&
        !binary->get_ref<const std::string&>().empty()) {
      return binary->get<std::string>();
    }
  }
  return "";
}

std::vector<std::string> FillBrowserVersions(std::vector<config::SlotConfig>& slots,
                                             const VersionProbe& probe) {
  std::map<std::string, std::optional<std::string>> found;
  std::vector<std::string> lines;
  for (config::SlotConfig& slot : slots) {
    if (slot.driver.empty() || slot.stereotype.contains("browserVersion")) continue;
    std::string binary = StereotypeBinary(slot.stereotype);
    if (binary.empty()) continue;
    auto it = found.find(binary);
    if (it == found.end()) {
      it = found.emplace(binary, probe(binary)).first;
      lines.push_back(binary + (it->second ? " is version " + *it->second
                                           : ": version unknown (" + binary +
                                                 " --version gave none); browserVersion not set"));
    }
    if (it->second) slot.stereotype["browserVersion"] = *it->second;
  }
  return lines;
}

}  // namespace gridhub::node
