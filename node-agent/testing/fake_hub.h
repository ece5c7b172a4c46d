#pragma once

// Test helper: a hub that records every request the node sends it (an in-process HttpServer on
// a free loopback port); answers POST /nodes with `register_status` and heartbeats with
// `heartbeat_status` and an optional body. Thread-safe.
//
//   FakeHub hub;
//   hub.set_heartbeat_reply(200, R"({"value": {"availability": "DRAINING"}})");
//   ... point a node at hub.url() ...
//   EXPECT_EQ(hub.Count("DELETE", "/nodes/n1"), 1u);

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "http/http_server.h"

namespace gridhub::node {

struct Recorded {
  std::string method;
  std::string path;
  std::string secret;
  std::string authorization;
  nlohmann::json body;
};

// A hub that records every request; answers POST /nodes with `register_status` and heartbeats
// with `heartbeat_status`.
class FakeHub {
 public:
  FakeHub()
      : server_({.host = "127.0.0.1", .port = 0, .threads = 2},
                [this](http::ServerRequest request, http::Responder responder) {
                  Recorded r{request.method, request.path,
                             std::string(request.Header("X-Registration-Secret")),
                             std::string(request.Header("Authorization")),
                             nlohmann::json::parse(request.body, nullptr, false)};
                  int status = 200;
                  std::string reply = "{}";
                  {
                    MutexLock lock(mu_);
                    if (r.method == "POST" && r.path == "/nodes") status = register_status_;
                    if (r.path.ends_with("/heartbeat")) {
                      status = heartbeat_status_;
                      reply = heartbeat_body_;
                    }
                    requests_.push_back(std::move(r));
                  }
                  responder.Send(status, reply);
                }) {
    EXPECT_TRUE(server_.Start().ok());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  void set_register_status(int s) {
    MutexLock lock(mu_);
    register_status_ = s;
  }
  void set_heartbeat_status(int s) {
    MutexLock lock(mu_);
    heartbeat_status_ = s;
  }
  void set_heartbeat_reply(int status, std::string body) {
    MutexLock lock(mu_);
    heartbeat_status_ = status;
    heartbeat_body_ = std::move(body);
  }
  std::vector<Recorded> Requests(const std::string& method, const std::string& path) {
    MutexLock lock(mu_);
    std::vector<Recorded> out;
    for (const Recorded& r : requests_) {
      if (r.method == method && r.path == path) out.push_back(r);
    }
    return out;
  }
  size_t Count(const std::string& method, const std::string& path) {
    return Requests(method, path).size();
  }

 private:
  Mutex mu_;
  std::vector<Recorded> requests_ GUARDED_BY(mu_);
  int register_status_ GUARDED_BY(mu_) = 201;
  int heartbeat_status_ GUARDED_BY(mu_) = 204;
  std::string heartbeat_body_ GUARDED_BY(mu_);
  http::HttpServer server_;
};

}  // namespace gridhub::node
