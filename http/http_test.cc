#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

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
  auto body = nlohmann::json::parse(W3CErrorBody({ErrorCode::kTimeout, "waited 5s"}));
  EXPECT_EQ(body["value"]["error"], "session not created");
  EXPECT_EQ(body["value"]["message"], "waited 5s");
  EXPECT_TRUE(body["value"].contains("stacktrace"));
}

}  // namespace
}  // namespace gridhub::http
