#pragma once

// Test doubles for driving a Grid without HTTP: deterministic ids and the answers a node gives
// to POST /session. Shared by grid_test, grid_metrics_test and bench/hub/grid_bench.
//
//   CountingIds ids;
//   Grid grid(clock, ids, settings);
//   grid.OnCreateResult(..., Created("s1"));

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/ids.h"
#include "http/http_client.h"
#include "hub/grid.h"
#include "hub/outcome_http.h"

namespace gridhub::hub {

// "id1", "id2", ... in order.
class CountingIds final : public IdSource {
 public:
  std::string NewId() override { return "id" + std::to_string(++n_); }

 private:
  uint64_t n_ = 0;
};

// A node's W3C answer to a new-session request that succeeded.
inline http::ClientResponse Created(const std::string& session_id) {
  http::ClientResponse response;
  response.status = 200;
  response.body =
      nlohmann::json{
          {"value", {{"sessionId", session_id}, {"capabilities", nlohmann::json::object()}}}}
          .dump();
  return response;
}

// A node's W3C answer to a new-session request that failed.
inline http::ClientResponse Refused() {
  http::ClientResponse response;
  response.status = 500;
  response.body = R"({"value":{"error":"session not created","message":"driver crashed"}})";
  return response;
}

// What the client of `reply` sees (hub/outcome_http.h), for tests that check the HTTP answer.
inline int StatusOf(const Reply& reply) { return W3CAnswer(reply.outcome).status; }
inline std::string BodyOf(const Reply& reply) { return W3CAnswer(reply.outcome).body; }

}  // namespace gridhub::hub
