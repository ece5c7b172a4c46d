#include "node-agent/driver_process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "node-agent/free_port.h"

namespace gridhub::node {
namespace {

using namespace std::chrono_literals;

std::string TempLog(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("gridhub-dp-") + std::to_string(::getpid()) + "-" + name + ".log"))
      .string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DriverProcessTest, OutputGoesToTheLogFileAndExitIsReported) {
  std::string log = TempLog("out");
  std::atomic<int> status{-1};
  auto p = DriverProcess::Spawn({"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"}, log,
                                [&](int s) { status = s; });
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_TRUE((*p)->WaitExit(10s));
  EXPECT_TRUE(WIFEXITED(status.load()));
  EXPECT_EQ(WEXITSTATUS(status.load()), 3);
  EXPECT_EQ(ReadFile(log), "hello\noops\n");
  std::filesystem::remove(log);
}

TEST(DriverProcessTest, AReplacedExitCallbackIsTheOneCalled) {
  std::string log = TempLog("replaced");
  std::atomic<int> first{0};
  std::atomic<int> second{0};
  auto p = DriverProcess::Spawn({"sleep", "30"}, log, [&](int) { ++first; });
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE((*p)->SetExitCallback([&](int) { ++second; }));
  (*p)->Terminate(2s);
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  EXPECT_FALSE((*p)->SetExitCallback([&](int) { ++first; }));
  std::filesystem::remove(log);
}

TEST(DriverProcessTest, RunsInItsOwnProcessGroup) {
  std::string log = TempLog("pgid");
  auto p = DriverProcess::Spawn({"sleep", "30"}, log, nullptr);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(::getpgid((*p)->pid()), (*p)->pid());
  (*p)->Terminate(2s);
  EXPECT_TRUE((*p)->exited());
  std::filesystem::remove(log);
}

TEST(DriverProcessTest, TerminateEscalatesToSigkillAndKillsTheGroup) {
  std::string log = TempLog("kill");
  std::string pid_file = log + ".child";
  // The leader ignores SIGTERM; its child (like a browser under a driver) must die too.
  std::string script = "trap '' TERM; sleep 60 & echo $! > " + pid_file + "; wait";
  std::atomic<int> status{-1};
  auto p = DriverProcess::Spawn({"/bin/sh", "-c", script}, log, [&](int s) { status = s; });
  ASSERT_TRUE(p.ok()) << p.error().message;
  pid_t child = 0;
  for (int i = 0; i < 200 && child == 0; ++i) {
    std::ifstream in(pid_file);
    in >> child;
    if (child == 0) (*p)->WaitExit(10ms);
  }
  ASSERT_GT(child, 0);
  (*p)->Terminate(200ms);
  EXPECT_TRUE((*p)->exited());
  EXPECT_TRUE(WIFSIGNALED(status.load()));
  EXPECT_EQ(WTERMSIG(status.load()), SIGKILL);
  // The grandchild is re-parented; it counts as gone once dead (a zombie nobody reaped yet).
  // The SIGKILL is delivered asynchronously: poll (the leader has exited, so WaitExit would
  // not wait) up to a bound.
  bool gone = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string pid_field, comm, state;
    gone = !(stat >> pid_field >> comm >> state) || state == "Z" || state == "X";
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone);
  std::filesystem::remove(log);
  std::filesystem::remove(pid_file);
}

TEST(DriverProcessTest, MissingExecutableFailsCleanly) {
  auto p = DriverProcess::Spawn({"/nonexistent/driver"}, TempLog("missing"), nullptr);
  // posix_spawn reports exec failure either as an error or as a child exiting with 127.
  if (p.ok()) {
    ASSERT_TRUE((*p)->WaitExit(10s));
  } else {
    EXPECT_EQ(p.error().code, ErrorCode::kSessionNotCreated);
  }
  std::filesystem::remove(TempLog("missing"));
}

TEST(FreePortTest, ReturnsABindablePort) {
  Result<uint16_t> port = PickFreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.error().message;
  ASSERT_GT(*port, 0);
  // A driver is told to listen on this port: binding it on loopback must work.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(*port);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::close(fd);
  EXPECT_EQ(bound, 0) << "port " << *port << ": " << std::strerror(err);
}

}  // namespace
}  // namespace gridhub::node
