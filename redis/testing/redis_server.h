#pragma once

// Test-only: a real redis-server on a free 127.0.0.1 port with a scratch directory, no
// persistence (--save '' --appendonly no), started and stopped by pid. Header-only, no gtest.
//
//   if (!RedisServer::Available()) GTEST_SKIP() << RedisServer::kBinary << " is not installed";
//   RedisServer server;
//   ASSERT_TRUE(server.Start()) << server.last_error();
//   RedisConnection redis({.url = server.url()});
//   server.Pause();   // SIGSTOP: the socket stays open, nothing answers
//   server.Resume();  // SIGCONT
//   server.Kill();    // SIGKILL; Restart() brings an empty one back on the same port
//
// Waits poll with deadlines (never a fixed sleep). The destructor kills the server and removes
// its directory. Not thread-safe: one test thread drives it.

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/testing/loopback_sockets.h"
#include "redis/redis_url.h"

extern char** environ;

namespace gridhub::redis::testing {

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";
  static bool Available() { return ::access(kBinary, X_OK) == 0; }

  struct Options {
    std::string password;  // --requirepass when not empty
  };

  RedisServer() : RedisServer(Options{}) {}
  explicit RedisServer(Options options) : options_(std::move(options)) {}
  ~RedisServer() {
    Kill();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts on a free port, trying another when the one picked was taken meanwhile.
  bool Start() {
    if (!MakeDir()) return false;
    for (int attempt = 0; attempt < 5; ++attempt) {
      // The kernel picks a free port; it is closed again before redis binds it, so another
      // process can take it in between — then redis exits and the next attempt picks anew.
      const int fd = test_support::BindOnLoopback(&port_);
      ::close(fd);
      if (Spawn()) return true;
    }
    return false;
  }

  // A fresh, empty server on the same port (after Stop() or Kill()).
  bool Restart() {
    Kill();
    return Spawn();
  }

  void Stop() { Signal(SIGTERM); }
  void Kill() { Signal(SIGKILL); }
  void Pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void Resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& last_error() const { return last_error_; }
  RedisUrl url() const {
    return RedisUrl{.host = "127.0.0.1", .port = port_, .password = options_.password};
  }

 private:
  bool MakeDir() {
    if (!dir_.empty()) return true;
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/gridhub-redis-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      last_error_ = "mkdtemp failed for " + pattern;
      return false;
    }
    dir_ = pattern;
    return true;
  }

  // Runs redis-server and waits until it answers PING (or exits: the port was taken).
  bool Spawn() {
    // clang-format off
    std::vector<std::string> args = {
        kBinary,
        "--port", std::to_string(port_), "--bind", "127.0.0.1",
        "--dir", dir_, "--logfile", dir_ + "/redis.log", "--daemonize", "no",
        // Nothing on disk: each test starts from an empty server, and a restart is empty.
        "--save", "", "--appendonly", "no",
        "--databases", "16",
    };
    // clang-format on
    if (!options_.password.empty()) {
      args.insert(args.end(), {"--requirepass", options_.password});
    }
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // The test's own sockets (hiredis's have no close-on-exec) must not live on in the server.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    const int rc = ::posix_spawn(&pid_, kBinary, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      last_error_ = std::string("posix_spawn ") + kBinary + " failed";
      return false;
    }
    return WaitUntilAnswering();
  }

  bool WaitUntilAnswering() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        last_error_ = "redis-server exited at start (port " + std::to_string(port_) +
                      " taken?); see " + dir_ + "/redis.log";
        return false;
      }
      if (AnswersPing()) return true;
      ::poll(nullptr, 0, 5);  // the poll interval of a deadline-bounded wait
    }
    last_error_ = "redis-server did not answer PING within 10 s";
    Kill();
    return false;
  }

  // Any reply to an inline PING (+PONG, or -NOAUTH with a password) means it is serving.
  bool AnswersPing() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port_);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
              test_support::SendAll(fd, "PING\r\n");
    if (ok) {
      pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
      char byte = 0;
      ok = ::poll(&readable, 1, 1000) == 1 && ::recv(fd, &byte, 1, 0) == 1 &&
           (byte == '+' || byte == '-');
    }
    ::close(fd);
    return ok;
  }

  void Signal(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    ::kill(pid_, SIGCONT);  // a paused server cannot act on SIGTERM
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  Options options_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string last_error_;
};

}  // namespace gridhub::redis::testing
