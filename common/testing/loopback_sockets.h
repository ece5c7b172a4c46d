#pragma once

// Test and benchmark helpers for plain loopback sockets: a listening socket on a free
// 127.0.0.1 port, a send that writes everything, and a count of this process's open
// descriptors (for "nothing leaked"). Header-only POSIX; no gtest, so benchmarks use it too.
//
//   uint16_t port = 0;
//   int listen_fd = test_support::ListenOnLoopback(16, &port);
//   const size_t before = test_support::OpenDescriptors();
//   ... open and close a tunnel ...
//   EXPECT_EQ(test_support::OpenDescriptors(), before);

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gridhub::test_support {

// A TCP socket bound to 127.0.0.1 on a port the kernel chose (written to *port), not listening.
inline int BindOnLoopback(uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

// The same, listening with `backlog`.
inline int ListenOnLoopback(int backlog, uint16_t* port) {
  const int fd = BindOnLoopback(port);
  ::listen(fd, backlog);
  return fd;
}

// Writes all of `bytes` to a blocking socket; false when the peer is gone.
inline bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Entries of /proc/self/fd (with "." and ".." and the directory's own descriptor: the count
// is for comparing before and after, not for its value).
inline size_t OpenDescriptors() {
  size_t count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir) != nullptr) ++count;
    ::closedir(dir);
  }
  return count;
}

}  // namespace gridhub::test_support
