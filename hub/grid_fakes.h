#pragma once

// Test doubles for driving a Grid without HTTP: deterministic ids, registration from a JSON
// body and the answers a node gives to POST /session. Shared by grid_test, grid_metrics_test,
// bench/hub/grid_bench and the hub's fuzz targets.
//
//   CountingIds ids;
//   Grid grid(clock, ids, settings);
//   RegisterNode(grid, {{"id", "n1"}, {"uri", "http://127.0.0.1:5555"}, ...}, &effects);
//   grid.OnCreateResult(..., Created("s1"));

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/ids.h"
#include "common/result.h"
#include "hub/create_answer.h"
#include "hub/grid.h"
#include "hub/node_registration.h"
#include "hub/outcome_http.h"

namespace gridhub::hub {

// "id1", "id2", ... in order.
class CountingIds final : public IdSource {
 public:
  std::string NewId() override { return "id" + std::to_string(++n_); }

 private:
  uint64_t n_ = 0;
};

// POST /nodes as HubService handles it: the body parsed first, then handed to the grid.
inline Result<nlohmann::json> RegisterNode(Grid& grid, const nlohmann::json& body,
                                           Effects* effects) {
  Result<NodeRegistration> registration = ParseNodeRegistration(body);
  if (!registration.ok()) return registration.error();
  return grid.RegisterNode(std::move(*registration), effects);
}

// A node's W3C answer to a new-session request that succeeded.
inline CreateAnswer Created(const std::string& session_id) {
  std::string body =
      nlohmann::json{
          {"value", {{"sessionId", session_id}, {"capabilities", nlohmann::json::object()}}}}
          .dump();
  return ClassifyCreateAnswer(200, /*transport_ok=*/true, "", body);
}

// A node's W3C answer to a new-session request that failed.
inline CreateAnswer Refused() {
  return ClassifyCreateAnswer(
      500, /*transport_ok=*/true, "",
      R"({"value":{"error":"session not created","message":"driver crashed"}})");
}

// What the client of `reply` sees (hub/outcome_http.h), for tests that check the HTTP answer.
inline int StatusOf(const Reply& reply) { return W3CAnswer(reply.outcome).status; }
inline std::string BodyOf(const Reply& reply) { return W3CAnswer(reply.outcome).body; }

}  // namespace gridhub::hub
