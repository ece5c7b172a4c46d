// ReactorClient driven the way the hub drives it: a request handler of an HttpServer relays
// each request to a scripted fake node through ReactorClient::Current() and answers with what
// came back. The node is a plain listening socket run by the test, so each fault (a close in
// the middle of an answer, no answer at all, too much of one, a restart) is exact.

#include "http/reactor_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/loopback_sockets.h"
#include "http/http_client.h"
#include "http/http_server.h"

namespace gridhub::http {
namespace {

using test_support::OpenDescriptors;

// Reads one request (head and Content-Length body) from a blocking socket; "" on EOF.
std::string ReadRequest(int fd) {
  std::string got;
  char buffer[4096];
  size_t head_end = std::string::npos;
  while ((head_end = got.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return "";
    got.append(buffer, static_cast<size_t>(n));
  }
  size_t length = 0;
  const size_t at = got.find("Content-Length: ");
  if (at != std::string::npos && at < head_end) length = std::stoul(got.substr(at + 16));
  while (got.size() < head_end + 4 + length) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return "";
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

std::string Answer(std::string_view body, std::string_view extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + std::string(extra) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// A node played by the test: every accepted connection runs `script(fd, index)` on its own
// thread (index counts connections from 0); the socket is closed when the script returns.
class ScriptedNode {
 public:
  using Script = std::function<void(int fd, int index)>;

  explicit ScriptedNode(Script script, uint16_t port = 0) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bound_ = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
             ::listen(listen_fd_, 64) == 0;
    socklen_t length = sizeof address;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~ScriptedNode() { Stop(); }

  // Closes the listener and every connection (the scripts' reads see EOF) and joins.
  void Stop() {
    if (stopped_.exchange(true)) return;
    acceptor_.join();
    DropConnections();
    for (std::thread& t : threads_) t.join();
    ::close(listen_fd_);
  }
  // Ends every open connection (each script's reads see EOF; its socket is then closed).
  void DropConnections() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }
  bool bound() const { return bound_; }
  uint16_t port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  // Waits (at most 10 s) until `count` connections have ended (their script returned).
  bool WaitEnded(int count) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return ended_ >= count; });
  }

 private:
  void Accept() {
    while (!stopped_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      const int index = accepted_++;
      open_.push_back(fd);
      threads_.emplace_back([this, fd, index] {
        script_(fd, index);
        std::lock_guard<std::mutex> inner(mu_);
        open_.erase(std::find(open_.begin(), open_.end(), fd));
        ::close(fd);
        ++ended_;
        cv_.notify_all();
      });
    }
  }

  Script script_;
  int listen_fd_ = -1;
  bool bound_ = false;
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> open_;
  int accepted_ = 0;
  int ended_ = 0;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// An HttpServer whose handler relays every request to `node` (its path and body; the method
// as sent) with ReactorClient, and answers with the node's status and body — or 599 and the
// error when the call failed (header X-Too-Large: 1 when the answer was too large).
class Relay {
 public:
  explicit Relay(std::chrono::milliseconds timeout = std::chrono::seconds(10), size_t max_body = 0)
      : server_({.host = "127.0.0.1", .port = 0, .threads = 1},
                [this, timeout, max_body](ServerRequest request, Responder responder) {
                  ReactorClient* client = ReactorClient::Current();
                  ClientRequest call{.method = request.method,
                                     .url = node_url_ + request.path,
                                     .body = request.body,
                                     .timeout = timeout,
                                     .max_response_body = max_body};
                  if (client == nullptr || !client->Takes(call)) {
                    responder.Send(500, "no reactor client");
                    return;
                  }
                  client->Send(
                      std::move(call),
                      [this, responder](ClientResponse response) mutable {
                        {
                          std::lock_guard<std::mutex> lock(mu_);
                          errors_.push_back(response.error);
                          cv_.notify_all();
                        }
                        if (!response.transport_ok()) {
                          responder.Send(599, response.error,
                                         {{"X-Too-Large", response.body_too_large ? "1" : "0"}},
                                         "text/plain");
                          return;
                        }
                        responder.Send(response.status, std::move(response.body), {}, "text/plain");
                      },
                      responder.connection_id());
                }) {}

  bool Start(const std::string& node_url) {
    node_url_ = node_url;
    return server_.Start().ok();
  }
  void Stop() { server_.Stop(); }
  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }
  uint16_t port() const { return server_.port(); }
  // Waits (at most 10 s) for the `n`th completion (from 1) and returns its error.
  std::string WaitCompletion(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return errors_.size() >= n; })) {
      return "no completion";
    }
    return errors_[n - 1];
  }

 private:
  std::string node_url_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> errors_;
  HttpServer server_;
};

// Answers every request on the connection with "<index>:<n>" (connection, request number).
void KeepAliveScript(int fd, int index) {
  for (int n = 0;; ++n) {
    if (ReadRequest(fd).empty()) return;
    if (!test_support::SendAll(fd, Answer(std::to_string(index) + ":" + std::to_string(n)))) {
      return;
    }
  }
}

TEST(ReactorClientTest, TakesNumericHttpUrlsOnly) {
  EXPECT_TRUE(ReactorClient::Takes({.url = "http://127.0.0.1:5555/status"}));
  EXPECT_TRUE(ReactorClient::Takes({.url = "http://[::1]:5555/session/x?a=b"}));
  EXPECT_TRUE(ReactorClient::Takes({.url = "http://10.0.0.2"}));
  EXPECT_FALSE(ReactorClient::Takes({.url = "http://localhost:5555/"}));
  EXPECT_FALSE(ReactorClient::Takes({.url = "https://127.0.0.1:5555/"}));
  EXPECT_FALSE(ReactorClient::Takes({.url = "http://user@127.0.0.1:5555/"}));
  EXPECT_FALSE(ReactorClient::Takes({.url = "http://127.0.0.1:99999/"}));
  EXPECT_FALSE(ReactorClient::Takes({.url = "http://127.1:5555/"}));
  EXPECT_FALSE(ReactorClient::Takes({.url = "http://127.0.0.1:5555/a b"}));
  EXPECT_FALSE(ReactorClient::Takes({.method = "GE T", .url = "http://127.0.0.1:5555/"}));
}

TEST(ReactorClientTest, NoClientOffTheReactorThread) {
  EXPECT_EQ(ReactorClient::Current(), nullptr);
}

TEST(ReactorClientTest, KeptAliveConnectionIsReusedAndBodiesRelayed) {
  ScriptedNode node(KeepAliveScript);
  ASSERT_TRUE(node.bound());
  Relay relay;
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    ClientResponse response = client.SendSync({.url = relay.Url("/x")});
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "0:" + std::to_string(i));
  }
  ClientResponse posted =
      client.SendSync({.method = "POST", .url = relay.Url("/y"), .body = "{\"a\":1}"});
  EXPECT_EQ(posted.body, "0:3");
  EXPECT_EQ(node.connections(), 1);
}

TEST(ReactorClientTest, ChunkedAndCloseDelimitedAnswers) {
  ScriptedNode node([](int fd, int index) {
    if (ReadRequest(fd).empty()) return;
    if (index == 0) {
      test_support::SendAll(fd,
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
      if (ReadRequest(fd).empty()) return;  // kept: the next request comes on it
    }
    test_support::SendAll(fd, "HTTP/1.1 201 Created\r\n\r\nuntil the close");
  });
  Relay relay;
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  ClientResponse chunked = client.SendSync({.url = relay.Url("/c")});
  EXPECT_EQ(chunked.status, 200);
  EXPECT_EQ(chunked.body, "abcde");
  ClientResponse closed = client.SendSync({.url = relay.Url("/d")});
  EXPECT_EQ(closed.status, 201);
  EXPECT_EQ(closed.body, "until the close");
  // The close-delimited answer ended its connection: the next request opens another.
  ClientResponse again = client.SendSync({.url = relay.Url("/e")});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(node.connections(), 2);
}

TEST(ReactorClientTest, NodeClosingInTheMiddleOfAnAnswerFailsTheCall) {
  ScriptedNode node([](int fd, int) {
    if (ReadRequest(fd).empty()) return;
    test_support::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  });
  Relay relay;
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  ClientResponse response = client.SendSync({.url = relay.Url("/x")});
  EXPECT_EQ(response.status, 599);
  EXPECT_NE(response.body.find("middle"), std::string::npos) << response.body;
}

TEST(ReactorClientTest, BadAnswersFailTheCall) {
  ScriptedNode node([](int fd, int) {
    if (ReadRequest(fd).empty()) return;
    test_support::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    ReadRequest(fd);
  });
  Relay relay;
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  ClientResponse response = client.SendSync({.url = relay.Url("/x")});
  EXPECT_EQ(response.status, 599);
  EXPECT_NE(response.body.find("bad answer"), std::string::npos) << response.body;
}

TEST(ReactorClientTest, NodeThatNeverAnswersTimesOut) {
  ScriptedNode node([](int fd, int) {
    ReadRequest(fd);
    ReadRequest(fd);  // holds until the client closes
  });
  Relay relay(std::chrono::milliseconds(300));
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  ClientResponse response = client.SendSync({.url = relay.Url("/x")});
  EXPECT_EQ(response.status, 599);
  EXPECT_NE(response.body.find("timed out"), std::string::npos) << response.body;
  // Its connection was closed, not kept.
  EXPECT_TRUE(node.WaitEnded(1));
}

TEST(ReactorClientTest, AnswersOverTheLimitAreRefusedAndTheirConnectionDropped) {
  ScriptedNode node([](int fd, int index) {
    while (!ReadRequest(fd).empty()) {
      if (!test_support::SendAll(fd, Answer(std::string(index == 0 ? 100 : 5, 'x')))) return;
    }
  });
  Relay relay(std::chrono::seconds(10), /*max_body=*/10);
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  ClientResponse big = client.SendSync({.url = relay.Url("/big")});
  EXPECT_EQ(big.status, 599);
  EXPECT_EQ(FindHeader(big.headers, "X-Too-Large"), "1");
  ClientResponse small = client.SendSync({.url = relay.Url("/small")});
  EXPECT_EQ(small.status, 200);
  EXPECT_EQ(small.body, "xxxxx");
  EXPECT_EQ(node.connections(), 2);
  EXPECT_TRUE(node.WaitEnded(1));
}

// Run alone (as CTest runs each case), the relay's connection is the process's first, whose id
// is 0: a call bound to connection 0 is bound too.
TEST(ReactorClientTest, AClientLeavingCancelsItsCallAndClosesTheNodeConnection) {
  std::atomic<bool> got_request{false};
  ScriptedNode node([&](int fd, int) {
    if (ReadRequest(fd).empty()) return;
    got_request = true;
    ReadRequest(fd);  // returns when the relay closes the connection
  });
  Relay relay;
  ASSERT_TRUE(relay.Start(node.Url()));
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(relay.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_TRUE(test_support::SendAll(fd, "GET /held HTTP/1.1\r\nHost: x\r\n\r\n"));
    for (int i = 0; i < 500 && !got_request.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(got_request.load());
    ::close(fd);
  }
  EXPECT_EQ(relay.WaitCompletion(1), "cancelled");
  EXPECT_TRUE(node.WaitEnded(1));  // the node saw its connection close
}

TEST(ReactorClientTest, AStalePooledConnectionIsRetriedOnceForIdempotentMethodsOnly) {
  // The first connection answers its first request, then reads the next and closes without a
  // word: what a node's keep-alive timeout racing the next request looks like.
  ScriptedNode node([](int fd, int) {
    if (ReadRequest(fd).empty()) return;
    test_support::SendAll(fd, Answer("first"));
    ReadRequest(fd);
  });
  Relay relay;
  ASSERT_TRUE(relay.Start(node.Url()));
  HttpClient client;
  EXPECT_EQ(client.SendSync({.url = relay.Url("/a")}).body, "first");
  ClientResponse retried = client.SendSync({.url = relay.Url("/b")});
  EXPECT_EQ(retried.status, 200);
  EXPECT_EQ(retried.body, "first");  // answered by the second connection
  EXPECT_EQ(node.connections(), 2);
  // A POST is never sent twice.
  ClientResponse posted = client.SendSync({.method = "POST", .url = relay.Url("/c"), .body = "{}"});
  EXPECT_EQ(posted.status, 599);
  EXPECT_NE(posted.body.find("before answering"), std::string::npos) << posted.body;
  EXPECT_EQ(node.connections(), 2);
}

TEST(ReactorClientTest, ANodeRestartedOnTheSamePortIsReachedAgain) {
  auto node = std::make_unique<ScriptedNode>(KeepAliveScript);
  const uint16_t port = node->port();
  Relay relay;
  ASSERT_TRUE(relay.Start(node->Url()));
  HttpClient client;
  EXPECT_EQ(client.SendSync({.url = relay.Url("/a")}).body, "0:0");
  node->Stop();  // closes the pooled connection's other end
  node = std::make_unique<ScriptedNode>(KeepAliveScript, port);
  ASSERT_TRUE(node->bound());
  ClientResponse response = client.SendSync({.url = relay.Url("/b")});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "0:0");
}

TEST(ReactorClientTest, RefusedConnectionsFail) {
  uint16_t port = 0;
  const int unused = test_support::BindOnLoopback(&port);  // bound, not listening: refused
  Relay relay;
  ASSERT_TRUE(relay.Start("http://127.0.0.1:" + std::to_string(port)));
  HttpClient client;
  ClientResponse response = client.SendSync({.url = relay.Url("/x")});
  EXPECT_EQ(response.status, 599);
  EXPECT_NE(response.body.find("connect"), std::string::npos) << response.body;
  ::close(unused);
}

// The server closes a descriptor just after the event that ends it: wait (bounded) for the
// count to come down to `expected`.
size_t OpenDescriptorsSettled(size_t expected) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (OpenDescriptors() != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return OpenDescriptors();
}

TEST(ReactorClientTest, NoDescriptorIsLeftOnAnyPath) {
  ScriptedNode node([](int fd, int index) {
    for (;;) {
      std::string request = ReadRequest(fd);
      if (request.empty()) return;
      if (request.find("/cut") != std::string::npos) {
        test_support::SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab");
        return;
      }
      if (request.find("/hold") != std::string::npos) continue;  // never answered
      if (request.find("/big") != std::string::npos) {
        test_support::SendAll(fd, Answer(std::string(100, 'x')));
        continue;
      }
      test_support::SendAll(fd, Answer(std::to_string(index)));
    }
  });
  Relay relay(std::chrono::milliseconds(300), /*max_body=*/50);
  ASSERT_TRUE(relay.Start(node.Url()));
  // Counted with both running: what Pistache keeps for its own life is not this test's.
  const size_t before = OpenDescriptors();
  {
    HttpClient client;
    for (const char* path : {"/ok", "/cut", "/ok", "/hold", "/big", "/ok", "/ok"}) {
      client.SendSync({.url = relay.Url(path)});
    }
    EXPECT_EQ(relay.WaitCompletion(7), "");
  }
  // The node ends its side of the pooled connections: the relay closes its own.
  node.DropConnections();
  EXPECT_EQ(OpenDescriptorsSettled(before), before);
}

}  // namespace
}  // namespace gridhub::http
