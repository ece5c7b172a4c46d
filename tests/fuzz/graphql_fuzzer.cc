// libFuzzer target over POST /graphql: any body against a snapshot of a grid with nodes, live
// and adopted sessions and a waiter. The answer is always a JSON object with `data` or
// `errors`, and can be written (invalid UTF-8 replaced).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>

#include "hub/graphql.h"
#include "tests/fuzz/grid_harness.h"

namespace {

std::shared_ptr<const gridhub::hub::GridSnapshot> FixedSnapshot() {
  using namespace gridhub;  // NOLINT: fuzz setup
  static auto* harness = [] {
    auto* h = new fuzz::GridHarness();
    h->RegisterFixedNodes();
    fuzz::Require(h->StartSession("chrome", "live-1"));
    Result<matching::NewSessionSpec> waiting = matching::ProcessNewSession(
        {{"capabilities", {{"alwaysMatch", {{"browserName", "safari"}}}}}});
    h->grid.SubmitNewSession(std::move(*waiting), "run", false, {});
    return h;
  }();
  return harness->grid.snapshot();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;  // NOLINT: fuzz entry point
  nlohmann::json answer =
      hub::AnswerGraphql(*FixedSnapshot(), fuzz::AsText(data, size), "http://127.0.0.1:4444");
  fuzz::Require(answer.is_object());
  fuzz::Require(answer.contains("data") || answer.contains("errors"));
  fuzz::Dump(answer);
  return 0;
}
