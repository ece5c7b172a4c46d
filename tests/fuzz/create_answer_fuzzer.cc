// libFuzzer target over a node's answer to POST {node}/session (hub/create_answer.h): the first
// byte picks the status (and whether the node answered at all), the rest is the body. Links
// only the pure gridhub::hub_input. Whatever the node sends, the answer is either a routable
// session id or a failure text, never both, and its body can be dumped.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hub/create_answer.h"
#include "hub/request_path.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;        // NOLINT: fuzz entry point
  using namespace gridhub::fuzz;  // NOLINT
  if (size == 0) return 0;
  // Mostly 2xx, so that the body parse is what gets explored.
  static constexpr int kStatuses[] = {200, 201, 204, 299, 300, 404, 500, 502};
  const uint8_t pick = data[0];
  const bool transport_ok = pick != 0xff;
  const int status = transport_ok ? kStatuses[pick % 8] : 0;
  std::string_view body = AsText(data + 1, size - 1);
  hub::CreateAnswer answer =
      hub::ClassifyCreateAnswer(status, transport_ok, transport_ok ? "" : "timed out", body);
  Require(answer.session_id.has_value() == answer.failure.empty());
  Require(answer.unreachable == !transport_ok);
  if (answer.session_id.has_value()) {
    Require(status >= 200 && status < 300);
    Require(hub::IsValidSessionId(answer.session_id->str()));
  }
  if (status < 200 || status >= 300) Require(answer.body.is_null());
  Dump(answer.body);
  return 0;
}
