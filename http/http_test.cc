#include <gtest/gtest.h>

#include <atomic>
#include <future>
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
    HttpClient client;
    client.Send({.url = Url(server, "/wait"), .timeout = std::chrono::milliseconds(300)},
                [](ClientResponse) {});
    auto id = parked_connection.get_future();
    ASSERT_EQ(id.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    auto closed = closed_connection.get_future();
    ASSERT_EQ(closed.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    EXPECT_EQ(closed.get(), id.get());
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_FALSE(parked[0].PeerConnected());
  EXPECT_FALSE(parked[0].Send(200, "late"));
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
