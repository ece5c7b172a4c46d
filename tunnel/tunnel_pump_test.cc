#include "tunnel/tunnel_pump.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/loopback_sockets.h"

namespace gridhub::tunnel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test_support::BindOnLoopback;
using test_support::ListenOnLoopback;
using test_support::OpenDescriptors;
using test_support::SendAll;

constexpr std::string_view k101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

// Waits (bounded) for `condition`, checking it whenever `cv` is notified.
template <typename Predicate>
bool WaitFor(std::mutex& mu, std::condition_variable& cv, Predicate condition,
             milliseconds limit = seconds(20)) {
  std::unique_lock<std::mutex> lock(mu);
  return cv.wait_for(lock, limit, condition);
}

// Reads from a blocking-mode fd with a poll bound; "" on timeout, sets *eof at EOF.
std::string ReadSome(int fd, bool* eof, milliseconds limit = seconds(20)) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return {};
  char buffer[65536];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n <= 0) {
    *eof = true;
    return {};
  }
  return std::string(buffer, static_cast<size_t>(n));
}

// Reads until `want` bytes came or EOF (or the time bound passes).
std::string ReadAtLeast(int fd, size_t want, bool* eof, milliseconds limit = seconds(20)) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (got.size() < want && !*eof && std::chrono::steady_clock::now() < deadline) {
    got += ReadSome(fd, eof, milliseconds(500));
  }
  return got;
}

std::string ReadToEof(int fd, milliseconds limit = seconds(20)) {
  bool eof = false;
  return ReadAtLeast(fd, SIZE_MAX, &eof, limit);
}

// An upstream on 127.0.0.1: accepts one connection at a time, reads the request head and runs
// `serve(fd, head)` on it. Stopped (and joined) by its destructor.
class TestUpstream {
 public:
  using Serve = std::function<void(int fd, std::string head)>;
  explicit TestUpstream(Serve serve) : serve_(std::move(serve)) {
    listen_fd_ = ListenOnLoopback(16, &port_);
    thread_ = std::thread([this] { Run(); });
  }
  ~TestUpstream() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  std::string head() {
    std::lock_guard<std::mutex> lock(mu_);
    return head_;
  }

 private:
  void Run() {
    std::vector<std::thread> connections;
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      connections.emplace_back([this, fd] {
        std::string head;
        bool eof = false;
        while (head.find("\r\n\r\n") == std::string::npos && !eof) head += ReadSome(fd, &eof);
        const size_t end = head.find("\r\n\r\n");
        std::string rest = end == std::string::npos ? "" : head.substr(end + 4);
        head.resize(std::min(head.size(), end == std::string::npos ? head.size() : end + 4));
        {
          std::lock_guard<std::mutex> lock(mu_);
          head_ = head;
        }
        serve_(fd, rest);
        ::close(fd);
      });
    }
    for (auto& connection : connections) connection.join();
  }

  Serve serve_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::string head_;
};

// 101, then echoes (what came with the head first) until EOF, then closes.
void Echo(int fd, std::string rest) {
  SendAll(fd, k101);
  SendAll(fd, rest);
  bool eof = false;
  while (!eof) {
    std::string got = ReadSome(fd, &eof, seconds(30));
    if (got.empty() && !eof) break;
    if (!SendAll(fd, got)) break;
  }
}

// What the pump reports, with waits on it.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  int handshakes = 0;
  bool upgraded = false;
  int upstream_status = -1;
  std::string reason;
  size_t to_upstream = 0;
  size_t to_client = 0;
  int closed = 0;

  TunnelEvents Events() {
    return {.on_handshake =
                [this](bool ok, int status, const std::string& why) {
                  std::lock_guard<std::mutex> lock(mu);
                  ++handshakes;
                  upgraded = ok;
                  upstream_status = status;
                  reason = why;
                  cv.notify_all();
                },
            .on_bytes =
                [this](Direction direction, size_t n) {
                  std::lock_guard<std::mutex> lock(mu);
                  (direction == Direction::kToUpstream ? to_upstream : to_client) += n;
                  cv.notify_all();
                },
            .on_closed =
                [this] {
                  std::lock_guard<std::mutex> lock(mu);
                  ++closed;
                  cv.notify_all();
                }};
  }
  bool WaitClosed() {
    return WaitFor(mu, cv, [this] { return closed > 0; });
  }
  bool WaitHandshake() {
    return WaitFor(mu, cv, [this] { return handshakes > 0; });
  }
};

// The client's end of a tunnel: a socketpair, one end for the pump (non-blocking, as the HTTP
// server hands it over), the other for the test.
struct ClientPair {
  ClientPair() {
    int fds[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    pump_end = fds[0];
    test_end = fds[1];
  }
  ~ClientPair() {
    if (test_end >= 0) ::close(test_end);
  }
  int pump_end = -1;
  int test_end = -1;
};

TunnelRequest Request(int client_fd, uint16_t port, Recorder& recorder) {
  return {.client_fd = client_fd,
          .request_head =
              "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\n\r\n",
          .upstream = {"127.0.0.1", port},
          .events = recorder.Events()};
}

// The failure answer's status, and its W3C message.
std::pair<int, std::string> ParseFailure(const std::string& answer) {
  const size_t body = answer.find("\r\n\r\n");
  if (answer.size() < 12 || body == std::string::npos) return {0, answer};
  auto json = nlohmann::json::parse(answer.substr(body + 4), nullptr, false);
  if (json.is_discarded()) return {0, answer};
  EXPECT_EQ(json["value"]["error"], "unknown error");
  EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos);
  return {std::stoi(answer.substr(9, 3)), json["value"]["message"].get<std::string>()};
}

std::string Pattern(size_t size, size_t offset = 0) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>((offset + i) % 251);
  return out;
}

TEST(TunnelPumpTest, RelaysBothWaysAMegabyteIncluded) {
  const size_t fds_before = OpenDescriptors();
  Recorder recorder;
  {
    TestUpstream upstream(Echo);
    TunnelPump pump;
    ClientPair client;
    pump.Open(Request(client.pump_end, upstream.port(), recorder));
    EXPECT_EQ(pump.open_count(), 1u);
    bool eof = false;
    EXPECT_EQ(ReadAtLeast(client.test_end, k101.size(), &eof), k101);
    ASSERT_TRUE(recorder.WaitHandshake());
    EXPECT_TRUE(recorder.upgraded);
    EXPECT_EQ(recorder.upstream_status, 101);
    EXPECT_NE(upstream.head().find("GET /ws HTTP/1.1\r\n"), std::string::npos);
    ASSERT_TRUE(SendAll(client.test_end, "hello"));
    EXPECT_EQ(ReadAtLeast(client.test_end, 5, &eof), "hello");
    // A message far larger than the buffers, written while the echo is read.
    const std::string big = Pattern(size_t{1} << 20);
    std::thread writer([&] { SendAll(client.test_end, big); });
    std::string echoed = ReadAtLeast(client.test_end, big.size(), &eof);
    writer.join();
    EXPECT_TRUE(echoed == big) << echoed.size();
    EXPECT_EQ(pump.buffered_bytes(), 0u);  // drained: no buffer kept
    ::shutdown(client.test_end, SHUT_WR);  // the echo ends, and so does the tunnel
    EXPECT_EQ(ReadToEof(client.test_end), "");
    ASSERT_TRUE(recorder.WaitClosed());
    EXPECT_EQ(pump.open_count(), 0u);
    std::lock_guard<std::mutex> lock(recorder.mu);
    EXPECT_EQ(recorder.to_upstream, 5 + big.size());  // heads not counted
    EXPECT_EQ(recorder.to_client, 5 + big.size());
  }
  EXPECT_EQ(recorder.closed, 1);
  EXPECT_EQ(recorder.handshakes, 1);
  EXPECT_EQ(OpenDescriptors(), fds_before);
}

// A name is resolved at Open. (Where "localhost" also names ::1, first, the upstream — on
// 127.0.0.1 only — refuses that address and the pump goes on to the next.)
TEST(TunnelPumpTest, ANameIsResolvedAndItsAddressesTriedInTurn) {
  Recorder recorder;
  TestUpstream upstream(Echo);
  TunnelPump pump;
  ClientPair client;
  TunnelRequest request = Request(client.pump_end, upstream.port(), recorder);
  request.upstream.host = "localhost";
  pump.Open(std::move(request));
  bool eof = false;
  EXPECT_EQ(ReadAtLeast(client.test_end, k101.size(), &eof), k101);
  ::shutdown(client.test_end, SHUT_WR);
  ReadToEof(client.test_end);
  ASSERT_TRUE(recorder.WaitClosed());
  EXPECT_TRUE(recorder.upgraded);
}

TEST(TunnelPumpTest, AnUnresolvableUpstreamGetsTheClientA502) {
  Recorder recorder;
  TunnelPump pump;
  ClientPair client;
  TunnelRequest request = Request(client.pump_end, 1, recorder);
  request.upstream.host = "";
  pump.Open(std::move(request));
  auto [status, message] = ParseFailure(ReadToEof(client.test_end));
  EXPECT_EQ(status, 502);
  EXPECT_NE(message.find("cannot resolve"), std::string::npos) << message;
  ASSERT_TRUE(recorder.WaitClosed());
}

TEST(TunnelPumpTest, EarlyBytesGoUpAfterTheHeadAndBytesAfterThe101ComeDown) {
  Recorder recorder;
  TestUpstream upstream([](int fd, std::string rest) {
    std::string all = std::string(k101) + "first frame";
    SendAll(fd, all);  // one write: the 101 and the bytes after it
    bool eof = false;
    std::string got = rest + ReadAtLeast(fd, 5 - rest.size(), &eof);
    SendAll(fd, "got:" + got);
    ReadToEof(fd);
  });
  TunnelPump pump;
  ClientPair client;
  TunnelRequest request = Request(client.pump_end, upstream.port(), recorder);
  request.client_early_bytes = "early";
  pump.Open(std::move(request));
  bool eof = false;
  const std::string want = std::string(k101) + "first framegot:early";
  EXPECT_EQ(ReadAtLeast(client.test_end, want.size(), &eof), want);
  ::shutdown(client.test_end, SHUT_WR);
  ReadToEof(client.test_end);
  ASSERT_TRUE(recorder.WaitClosed());
}

TEST(TunnelPumpTest, AnUpstreamThatRefusesTheUpgradeGetsTheClientA502) {
  const size_t fds_before = OpenDescriptors();
  Recorder recorder;
  {
    std::atomic<bool> upstream_saw_close{false};
    TestUpstream upstream([&](int fd, std::string) {
      SendAll(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      upstream_saw_close = ReadToEof(fd).empty();
    });
    TunnelPump pump;
    ClientPair client;
    pump.Open(Request(client.pump_end, upstream.port(), recorder));
    auto [status, message] = ParseFailure(ReadToEof(client.test_end));
    EXPECT_EQ(status, 502);
    EXPECT_NE(message.find("HTTP/1.1 404 Not Found"), std::string::npos) << message;
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(upstream.port())), std::string::npos);
    ASSERT_TRUE(recorder.WaitClosed());
    EXPECT_FALSE(recorder.upgraded);
    EXPECT_EQ(recorder.upstream_status, 404);
    EXPECT_EQ(pump.open_count(), 0u);
    // ~TestUpstream joins after the upstream saw its connection closed.
  }
  EXPECT_EQ(recorder.closed, 1);
  EXPECT_EQ(OpenDescriptors(), fds_before);
}

TEST(TunnelPumpTest, AnUpstreamThatClosesWithoutAnsweringGetsTheClientA502) {
  TestUpstream upstream([](int, std::string) {});  // reads the head, closes
  Recorder recorder;
  TunnelPump pump;
  ClientPair client;
  pump.Open(Request(client.pump_end, upstream.port(), recorder));
  auto [status, message] = ParseFailure(ReadToEof(client.test_end));
  EXPECT_EQ(status, 502);
  EXPECT_NE(message.find("closed the connection before answering"), std::string::npos) << message;
  ASSERT_TRUE(recorder.WaitClosed());
  EXPECT_EQ(recorder.upstream_status, 0);
}

TEST(TunnelPumpTest, ARefusedConnectionGetsTheClientA502) {
  uint16_t port = 0;
  ::close(BindOnLoopback(&port));  // nobody listens on this port now
  Recorder recorder;
  TunnelPump pump;
  ClientPair client;
  pump.Open(Request(client.pump_end, port, recorder));
  auto [status, message] = ParseFailure(ReadToEof(client.test_end));
  EXPECT_EQ(status, 502);
  EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
  ASSERT_TRUE(recorder.WaitClosed());
  EXPECT_EQ(recorder.upstream_status, 0);
}

TEST(TunnelPumpTest, AnUpstreamThatNeverAnswersTimesOut) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  TestUpstream upstream([&](int, std::string) {
    WaitFor(mu, cv, [&] { return release; });  // holds the connection, answers nothing
  });
  Recorder recorder;
  {
    TunnelPump pump;
    ClientPair client;
    TunnelRequest request = Request(client.pump_end, upstream.port(), recorder);
    request.handshake_timeout = milliseconds(200);
    request.failure_status = 504;
    const auto started = std::chrono::steady_clock::now();
    pump.Open(std::move(request));
    auto [status, message] = ParseFailure(ReadToEof(client.test_end));
    EXPECT_EQ(status, 504);
    EXPECT_NE(message.find("did not answer"), std::string::npos) << message;
    EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(200));
    ASSERT_TRUE(recorder.WaitClosed());
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(recorder.closed, 1);
}

TEST(TunnelPumpTest, AReaderThatStopsBackPressuresTheUpstream) {
  // The upstream sends as fast as it can until its socket stays full for a second.
  std::mutex mu;
  std::condition_variable cv;
  size_t sent = 0;
  bool blocked = false;
  bool release = false;
  constexpr size_t kTotal = size_t{256} << 20;
  TestUpstream upstream([&](int fd, std::string) {
    SendAll(fd, k101);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t offset = 0;
    const std::string chunk = Pattern(251 * 256);
    while (offset < kTotal) {
      const size_t at = offset % 251;
      const ssize_t n = ::send(fd, chunk.data() + at, chunk.size() - at, MSG_NOSIGNAL);
      if (n > 0) {
        offset += static_cast<size_t>(n);
        continue;
      }
      if (errno != EAGAIN) break;
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 1000) == 0) {
        std::unique_lock<std::mutex> lock(mu);
        sent = offset;
        blocked = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        // Now the client reads; send a last, recognisable stretch and stop.
        ::fcntl(fd, F_SETFL, 0);
        SendAll(fd, Pattern(1000, offset));
        offset += 1000;
        sent = offset;
        break;
      }
    }
    ::shutdown(fd, SHUT_WR);
    ReadToEof(fd);
  });
  Recorder recorder;
  TunnelPump pump;
  ClientPair client;
  pump.Open(Request(client.pump_end, upstream.port(), recorder));
  ASSERT_TRUE(WaitFor(
      mu, cv, [&] { return blocked; }, seconds(60)));
  EXPECT_LE(pump.buffered_bytes(), TunnelPump::kBufferSize);
  EXPECT_LT(sent, kTotal);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  // Everything the upstream sent arrives, in order, once the client reads.
  std::string got = ReadToEof(client.test_end, seconds(60));
  ASSERT_GE(got.size(), k101.size());
  EXPECT_EQ(got.substr(0, k101.size()), k101);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(got.size() - k101.size(), sent);
  EXPECT_TRUE(got.substr(k101.size()) == Pattern(sent));
}

TEST(TunnelPumpTest, HalfClosePassesThrough) {
  std::mutex mu;
  std::string upstream_got;
  TestUpstream upstream([&](int fd, std::string rest) {
    SendAll(fd, k101);
    std::string got = rest + ReadToEof(fd);  // the client's EOF arrives as ours
    {
      std::lock_guard<std::mutex> lock(mu);
      upstream_got = got;
    }
    SendAll(fd, "bye");  // the other half still works
  });
  Recorder recorder;
  TunnelPump pump;
  ClientPair client;
  pump.Open(Request(client.pump_end, upstream.port(), recorder));
  bool eof = false;
  EXPECT_EQ(ReadAtLeast(client.test_end, k101.size(), &eof), k101);
  SendAll(client.test_end, "abc");
  ::shutdown(client.test_end, SHUT_WR);
  EXPECT_EQ(ReadToEof(client.test_end), "bye");
  ASSERT_TRUE(recorder.WaitClosed());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(upstream_got, "abc");
}

// An upstream that answers 101 and ends its stream at once (as a node does after its close
// frame), then reads what still comes until the pump closes its side.
struct EndingUpstream {
  std::mutex mu;
  std::condition_variable cv;
  bool ended = false;  // its read saw EOF
  std::string got;

  TestUpstream::Serve Serve() {
    return [this](int fd, std::string rest) {
      SendAll(fd, k101);
      ::shutdown(fd, SHUT_WR);
      std::string all = rest + ReadToEof(fd);
      std::lock_guard<std::mutex> lock(mu);
      got = all;
      ended = true;
      cv.notify_all();
    };
  }
};

TEST(TunnelPumpTest, AClientThatNeverClosesAfterTheUpstreamEndedIsClosedAfterTheGrace) {
  const milliseconds grace(200);
  EndingUpstream ending;
  TestUpstream upstream(ending.Serve());
  Recorder recorder;
  TunnelPump pump(grace);
  ClientPair client;
  const auto opened = std::chrono::steady_clock::now();
  pump.Open(Request(client.pump_end, upstream.port(), recorder));
  EXPECT_EQ(ReadToEof(client.test_end), k101);  // the upstream's EOF is passed on
  // Still half open: the client's half goes on carrying bytes up.
  EXPECT_TRUE(SendAll(client.test_end, "still here"));
  // The client never closes; the grace (not the 10 s default) ends the tunnel.
  ASSERT_TRUE(WaitFor(
      recorder.mu, recorder.cv, [&] { return recorder.closed > 0; }, seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - opened, grace);
  EXPECT_EQ(pump.open_count(), 0u);
  ASSERT_TRUE(WaitFor(ending.mu, ending.cv, [&] { return ending.ended; }));
  {
    std::lock_guard<std::mutex> lock(ending.mu);
    EXPECT_EQ(ending.got, "still here");  // then its EOF: the pump closed the upstream
  }
  // Both descriptors are gone: the client's socket has no peer any more.
  EXPECT_LT(::send(client.test_end, "x", 1, MSG_NOSIGNAL), 0);
  std::lock_guard<std::mutex> lock(recorder.mu);
  EXPECT_EQ(recorder.closed, 1);
}

TEST(TunnelPumpTest, AClientThatClosesPromptlyAfterTheUpstreamEndedClosesTheTunnelAtOnce) {
  EndingUpstream ending;
  TestUpstream upstream(ending.Serve());
  Recorder recorder;
  TunnelPump pump;  // the default grace (10 s): far longer than the wait below
  ClientPair client;
  pump.Open(Request(client.pump_end, upstream.port(), recorder));
  EXPECT_EQ(ReadToEof(client.test_end), k101);
  SendAll(client.test_end, "bye");
  ::shutdown(client.test_end, SHUT_WR);  // its close, answering the upstream's
  ASSERT_TRUE(WaitFor(
      recorder.mu, recorder.cv, [&] { return recorder.closed > 0; }, seconds(5)));
  EXPECT_EQ(pump.open_count(), 0u);
  ASSERT_TRUE(WaitFor(ending.mu, ending.cv, [&] { return ending.ended; }));
  std::lock_guard<std::mutex> lock(ending.mu);
  EXPECT_EQ(ending.got, "bye");
}

TEST(TunnelPumpTest, CloseFromAnotherThreadEndsBothSides) {
  std::atomic<bool> upstream_saw_eof{false};
  TestUpstream upstream([&](int fd, std::string) {
    SendAll(fd, k101);
    ReadToEof(fd);
    upstream_saw_eof = true;
  });
  Recorder recorder;
  TunnelPump pump;
  ClientPair client;
  const TunnelId id = pump.Open(Request(client.pump_end, upstream.port(), recorder));
  EXPECT_NE(id, 0u);
  bool eof = false;
  EXPECT_EQ(ReadAtLeast(client.test_end, k101.size(), &eof), k101);
  std::thread([&] { pump.Close(id); }).join();
  EXPECT_EQ(ReadToEof(client.test_end), "");
  ASSERT_TRUE(recorder.WaitClosed());
  pump.Close(id);  // idempotent
  pump.Close(id + 1000);
  EXPECT_EQ(pump.open_count(), 0u);
  std::lock_guard<std::mutex> lock(recorder.mu);
  EXPECT_EQ(recorder.closed, 1);
}

TEST(TunnelPumpTest, CloseDuringTheHandshakeReportsItFailed) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  TestUpstream upstream([&](int, std::string) { WaitFor(mu, cv, [&] { return release; }); });
  Recorder recorder;
  {
    TunnelPump pump;
    ClientPair client;
    const TunnelId id = pump.Open(Request(client.pump_end, upstream.port(), recorder));
    pump.Close(id);
    ASSERT_TRUE(recorder.WaitClosed());
    EXPECT_EQ(ReadToEof(client.test_end), "");
    std::lock_guard<std::mutex> lock(recorder.mu);
    EXPECT_EQ(recorder.handshakes, 1);
    EXPECT_FALSE(recorder.upgraded);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(recorder.closed, 1);
}

TEST(TunnelPumpTest, TheDestructorClosesEveryTunnel) {
  const size_t fds_before = OpenDescriptors();
  Recorder recorders[3];
  {
    TestUpstream upstream(Echo);
    ClientPair clients[3];
    {
      TunnelPump pump;
      for (int i = 0; i < 3; ++i)
        pump.Open(Request(clients[i].pump_end, upstream.port(), recorders[i]));
      for (auto& recorder : recorders) ASSERT_TRUE(recorder.WaitHandshake());
      EXPECT_EQ(pump.open_count(), 3u);
    }
    for (auto& recorder : recorders) EXPECT_EQ(recorder.closed, 1);
    for (auto& client : clients) {
      std::string rest = ReadToEof(client.test_end);
      EXPECT_EQ(rest, k101);  // the 101, then the end
    }
  }
  EXPECT_EQ(OpenDescriptors(), fds_before);
}

}  // namespace
}  // namespace gridhub::tunnel
