// The cost of relaying a small WebSocket message through TunnelPump: the round trip of a
// 100-byte text frame to a WebSocket echo server, straight, through one pump (the hub's hop)
// and through two chained pumps (hub → node agent → driver, as gridhub's sockets run); and
// the throughput of 1 MiB sent upstream the same three ways.
//
//   build/bench/websocket/websocket_bench --benchmark_repetitions=9
//       --benchmark_report_aggregates_only=true   (one command line)
//
// Every socket is loopback TCP. The echo server unmasks the client's frame and sends it back
// unmasked, as a WebSocket server does; the pump relays bytes and parses nothing.

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/loopback_sockets.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::tunnel {
namespace {

using test_support::SendAll;

constexpr size_t kPayload = 100;
constexpr std::string_view kUpgrade =
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr std::string_view k101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

void NoDelay(int fd) {
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

bool ReadExactly(int fd, char* out, size_t n) {
  while (n > 0) {
    const ssize_t got = ::recv(fd, out, n, 0);
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// Reads an HTTP head byte by byte (the handshake is not what is measured).
std::string ReadHead(int fd) {
  std::string head;
  char c = 0;
  while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
  return head;
}

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  NoDelay(fd);
  return fd;
}

// A listening socket on 127.0.0.1 whose accepted connections go to `on_accept` on its thread.
class Listener {
 public:
  template <typename OnAccept>
  explicit Listener(OnAccept on_accept) {
    fd_ = test_support::ListenOnLoopback(64, &port_);
    thread_ = std::thread([this, on_accept] {
      for (;;) {
        const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        NoDelay(fd);
        on_accept(fd);
      }
    });
  }
  ~Listener() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

// A WebSocket echo server: one thread per connection, frames of up to 125 bytes. With `sink`
// set it answers the upgrade and then acknowledges every kBulk bytes received with one byte
// instead (throughput; the pump does not look at frames, so none are made).
constexpr size_t kBulk = size_t{1} << 20;

class EchoServer {
 public:
  explicit EchoServer(bool sink = false)
      : listener_([this, sink](int fd) {
          std::lock_guard<std::mutex> lock(mu_);
          workers_.emplace_back([fd, sink] { sink ? Sink(fd) : Serve(fd); });
        }) {}
  uint16_t port() const { return listener_.port(); }
  // Workers end when their client closes; joined here.
  void Join() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

 private:
  static void Serve(int fd) {
    ReadHead(fd);
    SendAll(fd, k101);
    char header[6];
    char payload[125];
    while (ReadExactly(fd, header, 6)) {  // FIN+opcode, MASK+length, 4 mask bytes
      const size_t length = static_cast<unsigned char>(header[1]) & 0x7f;
      if (length > 125 || !ReadExactly(fd, payload, length)) break;
      std::string reply(2 + length, '\0');
      reply[0] = header[0];
      reply[1] = static_cast<char>(length);
      for (size_t i = 0; i < length; ++i) reply[2 + i] = payload[i] ^ header[2 + i % 4];
      if (!SendAll(fd, reply)) break;
    }
    ::close(fd);
  }

  static void Sink(int fd) {
    ReadHead(fd);
    SendAll(fd, k101);
    std::vector<char> buffer(kBulk);
    while (ReadExactly(fd, buffer.data(), kBulk) && SendAll(fd, "k")) {
    }
    ::close(fd);
  }

  std::mutex mu_;
  std::vector<std::thread> workers_;  // outlives the listener (declared first)
  Listener listener_;
};

// One hop: reads the client's upgrade head (as the HTTP server would) and hands the connection
// to its TunnelPump towards `upstream_port`.
class PumpHop {
 public:
  explicit PumpHop(uint16_t upstream_port)
      : listener_([this, upstream_port](int fd) {
          std::string head = ReadHead(fd);
          ::fcntl(fd, F_SETFL, O_NONBLOCK);
          http::Headers headers = {{"Upgrade", "websocket"},
                                   {"Connection", "Upgrade"},
                                   {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                   {"Sec-WebSocket-Version", "13"}};
          pump_.Open({.client_fd = fd,
                      .request_head = UpgradeRequestHead(headers, "/ws", "127.0.0.1"),
                      .upstream = {"127.0.0.1", upstream_port}});
        }) {}
  uint16_t port() const { return listener_.port(); }

 private:
  TunnelPump pump_;
  Listener listener_;
};

// For comparison only: the same hop relayed with splice(2) through a pipe per direction, a
// blocking thread per direction (the simplest splice relay; not what gridhub runs).
class SpliceHop {
 public:
  explicit SpliceHop(uint16_t upstream_port)
      : listener_([this, upstream_port](int client) {
          ReadHead(client);
          const int upstream = Connect(upstream_port);
          SendAll(upstream, kUpgrade);
          SendAll(client, ReadHead(upstream));
          std::lock_guard<std::mutex> lock(mu_);
          fds_.insert(fds_.end(), {client, upstream});
          threads_.emplace_back([client, upstream] { Pump(client, upstream); });
          threads_.emplace_back([client, upstream] { Pump(upstream, client); });
        }) {}
  ~SpliceHop() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& thread : threads_) thread.join();
    for (int fd : fds_) ::close(fd);
  }
  uint16_t port() const { return listener_.port(); }

 private:
  static void Pump(int from, int to) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    for (;;) {
      const ssize_t in = ::splice(from, nullptr, pipe_fds[1], nullptr, kBulk, SPLICE_F_MOVE);
      if (in <= 0) break;
      for (ssize_t left = in; left > 0;) {
        const ssize_t out =
            ::splice(pipe_fds[0], nullptr, to, nullptr, static_cast<size_t>(left), SPLICE_F_MOVE);
        if (out <= 0) return;
        left -= out;
      }
    }
    ::shutdown(to, SHUT_WR);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  }

  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  Listener listener_;
};

std::string MaskedTextFrame() {
  std::string frame(6 + kPayload, '\0');
  frame[0] = static_cast<char>(0x81);  // FIN, text
  frame[1] = static_cast<char>(0x80 | kPayload);
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  for (int i = 0; i < 4; ++i) frame[2 + i] = mask[i];
  for (size_t i = 0; i < kPayload; ++i)
    frame[6 + i] = static_cast<char>('a' + i % 26) ^ mask[i % 4];
  return frame;
}

// `hops` pumps chained in front of `echo`; the client's upgraded connection through them (-1
// when the upgrade failed).
template <typename Hop>
int Upgraded(const EchoServer& echo, int64_t hops, std::vector<std::unique_ptr<Hop>>& out) {
  uint16_t port = echo.port();
  for (int64_t i = 0; i < hops; ++i) {
    out.push_back(std::make_unique<Hop>(port));
    port = out.back()->port();
  }
  const int fd = Connect(port);
  SendAll(fd, kUpgrade);
  if (ReadHead(fd).rfind("HTTP/1.1 101", 0) == 0) return fd;
  ::close(fd);
  return -1;
}

// state.range(0): how many pumps (or splice relays) between the client and the echo server.
template <typename Hop>
void BM_SmallMessageRoundTrip(benchmark::State& state) {
  EchoServer echo;
  std::vector<std::unique_ptr<Hop>> hops;
  const int fd = Upgraded(echo, state.range(0), hops);
  if (fd < 0) {
    state.SkipWithError("no 101");
    return;
  }
  const std::string frame = MaskedTextFrame();
  char reply[2 + kPayload];
  for (auto _ : state) {
    SendAll(fd, frame);
    if (!ReadExactly(fd, reply, sizeof reply)) {
      state.SkipWithError("echo lost");
      break;
    }
  }
  ::close(fd);
  hops.clear();  // closes the pumps' tunnels, so the echo's worker sees EOF
  echo.Join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SmallMessageRoundTrip<PumpHop>)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_SmallMessageRoundTrip<SpliceHop>)->Arg(1)->UseRealTime();

// One MiB sent and acknowledged per iteration: what the copies through user space cost.
template <typename Hop>
void BM_MegabyteUpstream(benchmark::State& state) {
  EchoServer sink(/*sink=*/true);
  std::vector<std::unique_ptr<Hop>> hops;
  const int fd = Upgraded(sink, state.range(0), hops);
  if (fd < 0) {
    state.SkipWithError("no 101");
    return;
  }
  const std::string bulk(kBulk, 'x');
  char ack = 0;
  for (auto _ : state) {
    if (!SendAll(fd, bulk) || !ReadExactly(fd, &ack, 1)) {
      state.SkipWithError("sink lost");
      break;
    }
  }
  ::close(fd);
  hops.clear();
  sink.Join();
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBulk));
}
BENCHMARK(BM_MegabyteUpstream<PumpHop>)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_MegabyteUpstream<SpliceHop>)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace gridhub::tunnel

BENCHMARK_MAIN();
