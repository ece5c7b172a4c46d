#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "common/testing/loopback_sockets.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "http/json_body.h"
#include "http/w3c_error.h"

namespace gridhub::http {
namespace {

std::string Url(const HttpServer& server, std::string_view path) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + std::string(path);
}

TEST(HttpTest, RoundTripsMethodPathQueryHeadersAndBody) {
  std::promise<ServerRequest> seen;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest request, Responder responder) {
                      responder.Send(201, request.body, {{"X-Echo", "yes"}}, "text/plain");
                      seen.set_value(std::move(request));
                    });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_NE(server.port(), 0);
  HttpClient client;
  ClientResponse response = client.SendSync({.method = "POST",
                                             .url = Url(server, "/a/b?x=1"),
                                             .headers = {{"X-Run-Id", "r1"}},
                                             .body = "hello"});
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(FindHeader(response.headers, "x-echo"), "yes");
  EXPECT_EQ(FindHeader(response.headers, "content-type"), "text/plain");
  ServerRequest request = seen.get_future().get();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/a/b");
  EXPECT_EQ(request.query, "?x=1");
  EXPECT_EQ(request.Header("x-run-id"), "r1");
}

TEST(HttpTest, CompletesResponsesFromAnotherThreadAndCarriesLargeBodies) {
  std::string big(5 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  std::vector<std::thread> workers;
  std::mutex mu;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest request, Responder responder) {
                      std::lock_guard<std::mutex> lock(mu);
                      workers.emplace_back([responder, body = std::move(request.body)]() mutable {
                        responder.Send(200, std::move(body));
                      });
                    });
  ASSERT_TRUE(server.Start().ok());
  HttpClient client;
  ClientResponse response =
      client.SendSync({.method = "POST", .url = Url(server, "/echo"), .body = big});
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.body == big);
  std::lock_guard<std::mutex> lock(mu);
  for (auto& worker : workers) worker.join();
}

TEST(HttpTest, RefusesOversizeBodiesWith413) {
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1, .max_body = 1000},
                    [](ServerRequest, Responder responder) { responder.Send(200, "{}"); });
  ASSERT_TRUE(server.Start().ok());
  HttpClient client;
  ClientResponse response =
      client.SendSync({.method = "POST", .url = Url(server, "/x"), .body = std::string(2000, 'y')});
  EXPECT_EQ(response.status, 413);
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded());
  EXPECT_EQ(body["value"]["error"], "invalid argument");
}

TEST(HttpTest, ReportsTransportFailureAsStatusZero) {
  // Bind a server, learn its port, stop it: the port is then (very likely) refused.
  uint16_t port = 0;
  {
    HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                      [](ServerRequest, Responder responder) { responder.Send(200, ""); });
    ASSERT_TRUE(server.Start().ok());
    port = server.port();
  }
  HttpClient client;
  ClientResponse response =
      client.SendSync({.url = "http://127.0.0.1:" + std::to_string(port) + "/",
                       .timeout = std::chrono::seconds(5)});
  EXPECT_EQ(response.status, 0);
  EXPECT_FALSE(response.error.empty());
}

TEST(HttpTest, TimesOutSlowServers) {
  std::vector<Responder> parked;
  std::mutex mu;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest, Responder responder) {
                      std::lock_guard<std::mutex> lock(mu);
                      parked.push_back(responder);  // never answered until teardown
                    });
  ASSERT_TRUE(server.Start().ok());
  HttpClient client;
  auto started = std::chrono::steady_clock::now();
  ClientResponse response =
      client.SendSync({.url = Url(server, "/slow"), .timeout = std::chrono::milliseconds(200)});
  EXPECT_EQ(response.status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

// A client on a raw socket, for what an HTTP library would not send or would hide.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `until` appears in what was read, the server closes, or `wait` passes.
  std::string Read(std::string_view until = {},
                   std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (until.empty() || received_.find(until) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[65536];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buffer, static_cast<size_t>(n));
    }
    return received_;
  }
  // Reads until `total` bytes came in all, the server closes, or `wait` passes.
  std::string ReadAtLeast(size_t total, std::chrono::milliseconds wait = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (received_.size() < total && !closed_ && std::chrono::steady_clock::now() < deadline) {
      Read({}, std::chrono::milliseconds(100));
    }
    return received_;
  }
  bool closed() const { return closed_; }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// The client closes its socket itself once the request is parked, so the test does not depend on
// a client timeout racing a loaded machine.
TEST(HttpTest, ReportsDisconnectOfAParkedRequest) {
  std::promise<uint64_t> parked_connection;
  std::promise<uint64_t> closed_connection;
  std::vector<Responder> parked;
  std::mutex mu;
  HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = 1},
      [&](ServerRequest request, Responder responder) {
        std::lock_guard<std::mutex> lock(mu);
        parked.push_back(responder);
        parked_connection.set_value(request.connection_id);
      },
      [&](uint64_t connection) { closed_connection.set_value(connection); });
  ASSERT_TRUE(server.Start().ok());
  {
    auto client = std::make_unique<RawClient>(server.port());
    ASSERT_TRUE(client->connected());
    client->Send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    auto id = parked_connection.get_future();
    ASSERT_EQ(id.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    client.reset();  // the client gives up
    auto closed = closed_connection.get_future();
    ASSERT_EQ(closed.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    EXPECT_EQ(closed.get(), id.get());
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_FALSE(parked[0].PeerConnected());
  EXPECT_FALSE(parked[0].Send(200, "late"));
}

TEST(HttpServerTest, HeadAnswersCarryGetHeadersButNoBody) {
  std::promise<ServerRequest> seen;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest request, Responder responder) {
                      responder.Send(200, "0123456789");
                      if (request.head) seen.set_value(std::move(request));
                    });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  client.Send("HEAD /status HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string answers = client.Read("0123456789");
  ServerRequest request = seen.get_future().get();
  EXPECT_EQ(request.method, "GET");
  EXPECT_TRUE(request.head);
  // The HEAD answer says 10 bytes but sends none: the next bytes are the GET's answer.
  size_t second = answers.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << answers;
  std::string first = answers.substr(0, second);
  EXPECT_NE(first.find("Content-Length: 10\r\n"), std::string::npos) << first;
  EXPECT_EQ(first.substr(first.size() - 4), "\r\n\r\n") << first;
}

TEST(HttpServerTest, QueryAndPathReachTheHandlerAsSent) {
  std::promise<ServerRequest> seen;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest request, Responder responder) {
                      responder.Send(200, "{}");
                      seen.set_value(std::move(request));
                    });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  client.Send("GET /a%2Fb/./c?z=1&a=2&z=3&e=%20 HTTP/1.1\r\nHost: x\r\n\r\n");
  ServerRequest request = seen.get_future().get();
  EXPECT_EQ(request.path, "/a%2Fb/./c");
  EXPECT_EQ(request.query, "?z=1&a=2&z=3&e=%20");
}

TEST(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = 1, .max_body = 100},
      [&](ServerRequest request, Responder responder) { responder.Send(200, request.body); });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  client.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.Read("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  client.Send("hello");
  EXPECT_NE(client.Read("hello").find("HTTP/1.1 200 OK"), std::string::npos);
  // Too large: the final answer at once, no 100.
  RawClient big(server.port());
  big.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n");
  std::string refused = big.Read();
  EXPECT_EQ(refused.rfind("HTTP/1.1 413 ", 0), 0u) << refused;
  EXPECT_TRUE(big.closed());
}

TEST(HttpServerTest, ConnectionsOverTheCapAreAnswered503AndClosed) {
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1, .max_connections = 3},
                    [](ServerRequest, Responder responder) { responder.Send(200, "{}"); });
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.max_connections(), 3u);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server.port()));
    held.back()->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_NE(held.back()->Read("{}").find("200 OK"), std::string::npos);
  }
  RawClient over(server.port());
  std::string refused = over.Read();
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 ", 0), 0u) << refused;
  EXPECT_NE(refused.find("server.max-connections"), std::string::npos);
  EXPECT_TRUE(over.closed());
  // Room again once one closes (the count drops when the server sees the close).
  held.pop_back();
  std::string answer;
  for (int attempt = 0; attempt < 50 && answer.find("200 OK") == std::string::npos; ++attempt) {
    RawClient again(server.port());
    again.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    answer = again.Read("{}");
    if (answer.find("200 OK") == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // bounded: 50 attempts
    }
  }
  EXPECT_NE(answer.find("200 OK"), std::string::npos) << answer;
}

TEST(HttpServerTest, SlowHeadsAndBodiesAreCutButHeldRequestsAreNot) {
  std::vector<Responder> parked;
  std::mutex mu;
  HttpServer server({.host = "127.0.0.1",
                     .port = 0,
                     .threads = 1,
                     .header_timeout = std::chrono::milliseconds(500),
                     .min_body_rate = 1000,
                     .idle_timeout = std::chrono::milliseconds(500)},
                    [&](ServerRequest request, Responder responder) {
                      if (request.path == "/hold") {
                        std::lock_guard<std::mutex> lock(mu);
                        parked.push_back(responder);
                        return;
                      }
                      responder.Send(200, "{}");
                    });
  ASSERT_TRUE(server.Start().ok());
  RawClient slow_head(server.port());
  slow_head.Send("GET /x HTTP/1.1\r\nHost:");
  RawClient slow_body(server.port());
  slow_body.Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc");
  RawClient silent(server.port());
  RawClient holder(server.port());
  holder.Send("POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(slow_head.Read().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_TRUE(slow_head.closed());
  EXPECT_EQ(slow_body.Read().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_TRUE(slow_body.closed());
  EXPECT_EQ(silent.Read(), "");  // nothing said to a connection that never spoke
  EXPECT_TRUE(silent.closed());
  // The held request outlived every limit above; it is still answerable.
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_TRUE(parked[0].PeerConnected());
  EXPECT_TRUE(parked[0].Send(200, "late"));
  EXPECT_NE(holder.Read("late", std::chrono::seconds(5)).find("200 OK"), std::string::npos);
}

TEST(HttpServerTest, AClientThatPipelinesWithoutReadingIsNotAnsweredWithoutEnd) {
  std::atomic<int> served{0};
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest, Responder responder) {
                      served++;
                      responder.Send(200, std::string(4096, 'x'));
                    });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  // 40 MB of answers asked for, none read while asking.
  std::string burst;
  for (int i = 0; i < 10000; ++i) burst += "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
  client.Send(burst);
  std::string received = client.Read({}, std::chrono::seconds(20));
  EXPECT_TRUE(client.closed());
  EXPECT_LT(served.load(), 10000);
  EXPECT_GT(served.load(), 0);
  size_t answers = 0;
  for (size_t at = received.find("HTTP/1.1 200"); at != std::string::npos;
       at = received.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, static_cast<size_t>(served.load()));  // what was served arrived whole
}

TEST(HttpClientTest, AnswersBeyondTheLimitAreCutAndTheConnectionDropped) {
  std::atomic<int> disconnects{0};
  HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = 1},
      [](ServerRequest request, Responder responder) {
        responder.Send(200, std::string(request.path == "/big" ? 5 << 20 : 10, 'x'));
      },
      [&](uint64_t) { disconnects++; });
  ASSERT_TRUE(server.Start().ok());
  HttpClient client;
  ClientResponse small =
      client.SendSync({.url = Url(server, "/small"), .max_response_body = 1 << 20});
  EXPECT_EQ(small.status, 200);
  EXPECT_FALSE(small.body_too_large);
  ClientResponse big = client.SendSync({.url = Url(server, "/big"), .max_response_body = 1 << 20});
  EXPECT_EQ(big.status, 0);
  EXPECT_TRUE(big.body_too_large);
  EXPECT_TRUE(big.body.empty());
  EXPECT_NE(big.error.find("larger than"), std::string::npos) << big.error;
  // curl gave the connection up rather than reading the rest.
  for (int i = 0; i < 250 && disconnects.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(disconnects.load(), 1);
}

// --- Responder::Detach: taking an upgraded connection out of the server ---

using test_support::OpenDescriptors;

// The server closes a descriptor just after its disconnect callback: wait (bounded) for the
// count to come down to `expected`.
size_t OpenDescriptorsSettled(size_t expected) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (OpenDescriptors() != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return OpenDescriptors();
}

// Larger than what loopback's socket buffers hold at once: the server's writes block midway and
// resume when the socket has room again.
constexpr size_t kBlockingBody = size_t{32} << 20;

std::string Pattern(size_t size) {
  std::string body(size, '\0');
  for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return body;
}

RequestHandler BigAndSmall(const std::string* big) {
  return [big](ServerRequest request, Responder responder) {
    responder.Send(200, request.path == "/big" ? *big : "after", {}, "text/plain");
  };
}

TEST(HttpServerTest, AnAnswerLargerThanTheSocketTakesArrivesWholeAndTheConnectionGoesOn) {
  const std::string big = Pattern(kBlockingBody);
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1}, BigAndSmall(&big));
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  client.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string head = "Content-Length: " + std::to_string(big.size()) + "\r\n\r\n";
  std::string received = client.Read(head, std::chrono::seconds(30));
  const size_t body_at = received.find(head);
  ASSERT_NE(body_at, std::string::npos);
  // The rest of the body, then the answer to a request sent once it came.
  received = client.ReadAtLeast(body_at + head.size() + big.size());
  ASSERT_EQ(received.size(), body_at + head.size() + big.size());
  EXPECT_TRUE(received.compare(body_at + head.size(), big.size(), big) == 0);
  client.Send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.Read("after").substr(received.size(), 15), "HTTP/1.1 200 OK");
  EXPECT_FALSE(client.closed());
}

TEST(HttpServerTest, AClientLeavingInTheMiddleOfAnAnswerLeavesNoDescriptorBehind) {
  const std::string big = Pattern(kBlockingBody);
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1}, BigAndSmall(&big));
  ASSERT_TRUE(server.Start().ok());
  const size_t before = OpenDescriptors();
  for (int round = 0; round < 3; ++round) {
    RawClient client(server.port());
    client.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_NE(client.Read("\r\n\r\n").find("HTTP/1.1 200"), std::string::npos);
  }  // each closes with most of its answer unsent
  EXPECT_EQ(OpenDescriptorsSettled(before), before);
  RawClient after(server.port());
  after.Send("GET /small HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(after.Read("after").find("after"), std::string::npos);
}

constexpr std::string_view kUpgradeHead =
    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n";

// Reads from a (non-blocking) descriptor until `want` bytes came, EOF, or 5 s passed.
std::string ReadFd(int fd, size_t want) {
  std::string got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

// A server whose handler detaches every request asking for an upgrade and hands the
// connection to the test; other requests are answered 200 "plain".
struct DetachingServer {
  explicit DetachingServer(size_t max_connections = 4096)
      : server({.host = "127.0.0.1", .port = 0, .threads = 1, .max_connections = max_connections},
               [this](ServerRequest request, Responder responder) {
                 if (request.Header("Upgrade").empty()) {
                   responder.Send(200, "plain", {}, "text/plain");
                   return;
                 }
                 detach_result = responder.Detach(
                     [this](DetachedConnection c) { taken.set_value(std::move(c)); });
               }) {}
  DetachedConnection Take() {
    auto future = taken.get_future();
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return {};
    return future.get();
  }

  std::promise<DetachedConnection> taken;
  std::atomic<bool> detach_result{false};
  HttpServer server;
};

TEST(DetachTest, HandsOverTheDescriptorAndTheBytesAfterTheHeadAndReadsNoMore) {
  DetachingServer s;
  ASSERT_TRUE(s.server.Start().ok());
  const size_t before = OpenDescriptors();
  {
    RawClient client(s.server.port());
    ASSERT_TRUE(client.connected());
    // An answered request first, then the upgrade with early bytes, in one write: the hand-off
    // comes after the first answer, and the early bytes are not read as a request.
    client.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(kUpgradeHead) +
                "GET /not-a-request HTTP/1.1\r\n\r\n");
    DetachedConnection c = s.Take();
    ASSERT_GE(c.fd, 0);
    EXPECT_TRUE(s.detach_result.load());
    EXPECT_EQ(c.early_bytes, "GET /not-a-request HTTP/1.1\r\n\r\n");
    EXPECT_NE(::fcntl(c.fd, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(c.fd, F_GETFD) & FD_CLOEXEC, 0);
    std::string reply = "HTTP/1.1 101 Switching Protocols\r\n\r\nhello";
    ASSERT_EQ(::send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(reply.size()));
    std::string got = client.Read("hello");
    EXPECT_EQ(got.find("HTTP/1.1 200"), 0u) << got;  // the earlier answer came first, whole
    EXPECT_NE(got.find("plain"), std::string::npos);
    EXPECT_NE(got.find("101 Switching Protocols\r\n\r\nhello"), std::string::npos);
    EXPECT_EQ(got.find("HTTP/1.1 200", 1), std::string::npos);  // nothing served after it
    // The server no longer reads the connection: what the client sends now reaches the fd.
    client.Send("more bytes");
    EXPECT_EQ(ReadFd(c.fd, 10), "more bytes");
    ::close(c.fd);
    client.Read("", std::chrono::seconds(5));
    EXPECT_TRUE(client.closed());
  }
  EXPECT_EQ(OpenDescriptorsSettled(before),
            before);  // neither the original nor the duplicate is left
}

TEST(DetachTest, NoEarlyByteIsLostWhicheverSideOfTheHandOffItArrives) {
  std::promise<Responder> parked;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest, Responder responder) { parked.set_value(responder); });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  client.Send(std::string(kUpgradeHead) + "first");
  auto future = parked.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Responder responder = future.get();
  client.Send("second");  // read by the server before or after the Detach below
  std::promise<DetachedConnection> taken;
  ASSERT_TRUE(responder.Detach([&](DetachedConnection c) { taken.set_value(std::move(c)); }));
  auto took = taken.get_future();
  ASSERT_EQ(took.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  DetachedConnection c = took.get();
  ASSERT_GE(c.fd, 0);
  std::string all = c.early_bytes;
  all += ReadFd(c.fd, std::string_view("firstsecond").size() - all.size());
  EXPECT_EQ(all, "firstsecond");
  EXPECT_TRUE(responder.sent());
  EXPECT_FALSE(responder.Send(200, "too late"));
  EXPECT_FALSE(responder.Detach([](DetachedConnection c) { ::close(c.fd); }));
  ::close(c.fd);
}

TEST(DetachTest, AnAnswerInsteadOfTheUpgradeClosesTheConnection) {
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [](ServerRequest, Responder responder) {
                      responder.Send(404, R"({"value":{"error":"invalid session id"}})");
                    });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  // The bytes after the head are not a second request: one answer, then the connection closes.
  client.Send(std::string(kUpgradeHead) + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = client.Read("", std::chrono::seconds(10));
  EXPECT_TRUE(client.closed());
  EXPECT_EQ(got.find("HTTP/1.1 404"), 0u) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_EQ(got.find("HTTP/1.1", 1), std::string::npos) << got;
}

TEST(DetachTest, AClientGoneBeforeTheDetachIsNotTaken) {
  std::promise<Responder> parked;
  std::promise<void> disconnected;
  HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = 1},
      [&](ServerRequest, Responder responder) { parked.set_value(responder); },
      [&](uint64_t) { disconnected.set_value(); });
  ASSERT_TRUE(server.Start().ok());
  const size_t before = OpenDescriptors();
  auto client = std::make_unique<RawClient>(server.port());
  client->Send(kUpgradeHead);
  auto future = parked.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  client.reset();
  ASSERT_EQ(disconnected.get_future().wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  bool called = false;
  EXPECT_FALSE(future.get().Detach([&](DetachedConnection) { called = true; }));
  EXPECT_FALSE(called);
  EXPECT_EQ(OpenDescriptorsSettled(before), before);
}

TEST(DetachTest, TooManyBytesBeforeTheDetachDropTheConnection) {
  std::promise<Responder> parked;
  HttpServer server({.host = "127.0.0.1", .port = 0, .threads = 1},
                    [&](ServerRequest, Responder responder) { parked.set_value(responder); });
  ASSERT_TRUE(server.Start().ok());
  RawClient client(server.port());
  client.Send(kUpgradeHead);
  auto future = parked.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  client.Send(std::string(size_t{65} << 10, 'x'));
  client.Read("", std::chrono::seconds(10));
  EXPECT_TRUE(client.closed());  // the server gave up on it (our FIN; nothing was answered)
  bool called = false;
  future.get().Detach([&](DetachedConnection) { called = true; });
  EXPECT_FALSE(called);
}

TEST(DetachTest, DetachedConnectionsDoNotCountAgainstMaxConnections) {
  DetachingServer s(/*max_connections=*/1);
  ASSERT_TRUE(s.server.Start().ok());
  RawClient upgraded(s.server.port());
  upgraded.Send(kUpgradeHead);
  DetachedConnection c = s.Take();
  ASSERT_GE(c.fd, 0);
  RawClient next(s.server.port());
  next.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = next.Read("plain");
  EXPECT_EQ(got.find("HTTP/1.1 200"), 0u) << got;
  ::close(c.fd);
}

TEST(JsonBodyTest, RejectsInvalidAndTooDeepBodies) {
  EXPECT_TRUE(ParseJsonBody(R"({"a": [1, {"b": null}]})").ok());
  EXPECT_FALSE(ParseJsonBody("{nope").ok());
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Result<nlohmann::json> parsed = ParseJsonBody(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("deeper"), std::string::npos);
  EXPECT_TRUE(JsonDepthWithin(nlohmann::json::parse("[[1]]"), 2));
  EXPECT_FALSE(JsonDepthWithin(nlohmann::json::parse("[[[1]]]"), 2));
  EXPECT_TRUE(JsonDepthWithin(nlohmann::json(5), 0));
}

TEST(W3CErrorTest, MapsCodesToStatusAndName) {
  EXPECT_EQ(HttpStatus(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(ErrorCode::kInvalidSessionId), 404);
  EXPECT_EQ(HttpStatus(ErrorCode::kUnknownMethod), 405);
  EXPECT_EQ(W3CErrorName(ErrorCode::kQueueFull), "session not created");
  // The files endpoints' codes (docs/files.md).
  EXPECT_EQ(HttpStatus(ErrorCode::kUnsupportedOperation), 500);
  EXPECT_EQ(W3CErrorName(ErrorCode::kUnsupportedOperation), "unsupported operation");
  EXPECT_EQ(HttpStatus(ErrorCode::kNoSuchFile), 404);
  EXPECT_EQ(W3CErrorName(ErrorCode::kNoSuchFile), "unknown error");
  auto body = nlohmann::json::parse(W3CErrorBody({ErrorCode::kTimeout, "waited 5s"}));
  EXPECT_EQ(body["value"]["error"], "session not created");
  EXPECT_EQ(body["value"]["message"], "waited 5s");
  EXPECT_TRUE(body["value"].contains("stacktrace"));
}

// --- HttpClient with many transfers in flight ---

// A server that holds every request ("/<n>") until the test answers it, and remembers which
// connection each came on and which connections closed.
class HoldingServer {
 public:
  HoldingServer()
      : server_(
            {.host = "127.0.0.1", .port = 0, .threads = 2},
            [this](ServerRequest request, Responder responder) {
              std::lock_guard<std::mutex> lock(mu_);
              held_.emplace(request.path, Held{request.connection_id, std::move(responder)});
              changed_.notify_all();
            },
            [this](uint64_t connection) {
              std::lock_guard<std::mutex> lock(mu_);
              closed_.insert(connection);
              changed_.notify_all();
            }) {}
  bool Start() { return server_.Start().ok(); }
  std::string Url(size_t n) const { return http::Url(server_, "/" + std::to_string(n)); }
  // Waits (at most 60 s) until `count` requests are held.
  bool WaitHeld(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(60), [&] { return held_.size() >= count; });
  }
  // Waits (at most 60 s) until request `n` is held.
  bool WaitHeldRequest(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(60),
                             [&] { return held_.count("/" + std::to_string(n)) != 0; });
  }
  // Waits (at most 30 s) until the connection request `n` came on is closed.
  bool WaitClosed(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] {
      auto it = held_.find("/" + std::to_string(n));
      return it != held_.end() && closed_.count(it->second.connection) != 0;
    });
  }
  // Waits (at most 60 s) until every connection a held request came on is closed.
  bool WaitAllClosed() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(60), [&] {
      for (const auto& [path, held] : held_) {
        if (closed_.count(held.connection) == 0) return false;
      }
      return true;
    });
  }
  bool Closed(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_.count(held_.at("/" + std::to_string(n)).connection) != 0;
  }
  // Answers every held request with its own path.
  void AnswerAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [path, held] : held_) held.responder.Send(200, path, {}, "text/plain");
  }

 private:
  struct Held {
    uint64_t connection = 0;
    Responder responder;
  };
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Held> held_;
  std::set<uint64_t> closed_;
  HttpServer server_;
};

// What came back for each of `count` requests sent with Send.
class Answers {
 public:
  explicit Answers(size_t count) : responses_(count) {}
  HttpClient::Callback For(size_t n) {
    return [this, n](ClientResponse response) {
      std::lock_guard<std::mutex> lock(mu_);
      responses_[n] = std::move(response);
      ++done_;
      changed_.notify_all();
    };
  }
  bool WaitDone(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(60), [&] { return done_ >= count; });
  }
  size_t done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  ClientResponse At(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return responses_[n];
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<ClientResponse> responses_;
  size_t done_ = 0;
};

TEST(HttpClientTest, ThousandsOfHeldTransfersAllComplete) {
  RaiseOpenFilesLimit();
  constexpr size_t kCount = 2000;
  HoldingServer server;
  ASSERT_TRUE(server.Start());
  const size_t descriptors = OpenDescriptors();
  Answers answers(kCount);
  {
    HttpClient client;
    for (size_t i = 0; i < kCount; ++i) {
      client.Send({.url = server.Url(i), .timeout = std::chrono::seconds(120)}, answers.For(i));
    }
    ASSERT_TRUE(server.WaitHeld(kCount));
    EXPECT_EQ(answers.done(), 0u);  // all held at once: nothing answered yet
    server.AnswerAll();
    ASSERT_TRUE(answers.WaitDone(kCount));
    for (size_t i = 0; i < kCount; ++i) {
      ClientResponse response = answers.At(i);
      ASSERT_EQ(response.status, 200) << i << ": " << response.error;
      ASSERT_EQ(response.body, "/" + std::to_string(i));
    }
  }
  // The client's epoll and wake descriptors and every connection are gone with it (the
  // server's ends close after it sees the client's go).
  EXPECT_TRUE(server.WaitAllClosed());
  EXPECT_EQ(OpenDescriptorsSettled(descriptors), descriptors);
}

TEST(HttpClientTest, ConnectionsAreReused) {
  std::set<uint64_t> connections;
  std::mutex mu;
  HttpServer echo({.host = "127.0.0.1", .port = 0, .threads = 1},
                  [&](ServerRequest request, Responder responder) {
                    {
                      std::lock_guard<std::mutex> lock(mu);
                      connections.insert(request.connection_id);
                    }
                    responder.Send(200, "ok");
                  });
  ASSERT_TRUE(echo.Start().ok());
  HttpClient client;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.SendSync({.url = Url(echo, "/x")}).status, 200);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(connections.size(), 1u);
}

// A hub holding hundreds of waiting calls still keeps its other connections alive: curl's cache
// bound counts connections in use, and a fixed bound of 256 made every finished call close the
// connection it had just handed back (and walk all the held ones to find it).
TEST(HttpClientTest, ConnectionsAreReusedWhileHundredsOfOthersAreHeld) {
  RaiseOpenFilesLimit();
  constexpr size_t kHeld = 400;
  HoldingServer holding;
  ASSERT_TRUE(holding.Start());
  std::set<uint64_t> connections;
  std::mutex mu;
  HttpServer echo({.host = "127.0.0.1", .port = 0, .threads = 1},
                  [&](ServerRequest request, Responder responder) {
                    {
                      std::lock_guard<std::mutex> lock(mu);
                      connections.insert(request.connection_id);
                    }
                    responder.Send(200, "ok");
                  });
  ASSERT_TRUE(echo.Start().ok());
  Answers answers(kHeld);
  HttpClient client;
  for (size_t i = 0; i < kHeld; ++i) {
    client.Send({.url = holding.Url(i), .timeout = std::chrono::seconds(120)}, answers.For(i));
  }
  ASSERT_TRUE(holding.WaitHeld(kHeld));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client.SendSync({.url = Url(echo, "/x")}).status, 200);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(connections.size(), 1u);
  }
  holding.AnswerAll();
  ASSERT_TRUE(answers.WaitDone(kHeld));
  EXPECT_EQ(answers.At(kHeld - 1).status, 200);
}

TEST(HttpClientTest, CancellingOneOfManyEndsItAloneAndClosesItsConnection) {
  constexpr size_t kCount = 200;
  constexpr size_t kCancelled = 17;
  HoldingServer server;
  ASSERT_TRUE(server.Start());
  Answers answers(kCount);
  HttpClient client;
  std::vector<std::shared_ptr<std::atomic<bool>>> cancel;
  for (size_t i = 0; i < kCount; ++i) {
    cancel.push_back(std::make_shared<std::atomic<bool>>(false));
    client.Send({.url = server.Url(i), .timeout = std::chrono::seconds(120), .cancel = cancel[i]},
                answers.For(i));
  }
  ASSERT_TRUE(server.WaitHeld(kCount));
  cancel[kCancelled]->store(true);
  ASSERT_TRUE(answers.WaitDone(1));
  EXPECT_EQ(answers.At(kCancelled).error, "cancelled");
  EXPECT_EQ(answers.At(kCancelled).status, 0);
  EXPECT_TRUE(server.WaitClosed(kCancelled));  // the peer sees the client leave
  EXPECT_EQ(answers.done(), 1u);
  EXPECT_FALSE(server.Closed(kCancelled + 1));
  server.AnswerAll();
  ASSERT_TRUE(answers.WaitDone(kCount));
  for (size_t i = 0; i < kCount; ++i) {
    if (i != kCancelled) {
      EXPECT_EQ(answers.At(i).status, 200) << i << ": " << answers.At(i).error;
    }
  }
}

TEST(HttpClientTest, StopWithManyInFlightCompletesThemAllAndLeaksNoDescriptor) {
  RaiseOpenFilesLimit();
  constexpr size_t kCount = 1000;
  HoldingServer server;
  ASSERT_TRUE(server.Start());
  const size_t descriptors = OpenDescriptors();
  Answers answers(kCount + 1);
  {
    HttpClient client;
    for (size_t i = 0; i < kCount; ++i) {
      client.Send({.url = server.Url(i),
                   .timeout = std::chrono::seconds(120),
                   .cancel = std::make_shared<std::atomic<bool>>(false)},
                  answers.For(i));
    }
    ASSERT_TRUE(server.WaitHeld(kCount));
    client.Stop();
    EXPECT_EQ(answers.done(), kCount);  // every callback ran before Stop returned
    for (size_t i = 0; i < kCount; ++i) EXPECT_EQ(answers.At(i).error, "client stopped");
    client.Send({.url = server.Url(kCount)}, answers.For(kCount));  // after Stop: at once
    EXPECT_EQ(answers.At(kCount).error, "client stopped");
  }
  EXPECT_TRUE(server.WaitAllClosed());
  EXPECT_EQ(OpenDescriptorsSettled(descriptors), descriptors);
}

TEST(HttpClientTest, TimeoutsEndTheirTransfersAndSpareTheOthers) {
  constexpr size_t kCount = 300;  // the last one has a long timeout
  HoldingServer server;
  ASSERT_TRUE(server.Start());
  Answers answers(kCount);
  HttpClient client;
  for (size_t i = 0; i < kCount; ++i) {
    auto timeout = i + 1 == kCount ? std::chrono::milliseconds(120'000)
                                   : std::chrono::milliseconds(300 + i % 7);
    client.Send({.url = server.Url(i), .timeout = timeout}, answers.For(i));
  }
  ASSERT_TRUE(answers.WaitDone(kCount - 1));
  for (size_t i = 0; i + 1 < kCount; ++i) {
    EXPECT_EQ(answers.At(i).status, 0);
    EXPECT_NE(answers.At(i).error.find("timed out"), std::string::npos) << answers.At(i).error;
  }
  ASSERT_TRUE(server.WaitHeldRequest(kCount - 1));  // the last one is still held
  EXPECT_EQ(answers.done(), kCount - 1);
  server.AnswerAll();
  ASSERT_TRUE(answers.WaitDone(kCount));
  EXPECT_EQ(answers.At(kCount - 1).status, 200);
}

}  // namespace
}  // namespace gridhub::http
