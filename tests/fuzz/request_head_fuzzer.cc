// libFuzzer target over inbound request framing (http/request_head.h) and the connection time
// limits that depend on it (http/connection_clock.h). The first input byte chooses how the rest
// is cut into reads; the same bytes framed whole must give the same requests and the same
// verdict, so a framer that depends on read boundaries (or re-scans wrongly) is caught, and
// every request framed must satisfy what http_server.cc relies on.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/connection_clock.h"
#include "http/request_head.h"

namespace gridhub::http {
namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

// Small limits so that every limit is reachable within -max_len.
constexpr HeadLimits kLimits{.max_body = 2048, .max_headers = 16, .max_head = 1024};

struct Framed {
  std::vector<FramedRequest> requests;
  FrameEvent last = FrameEvent::kNeedMore;
  int status = 0;
};

void CheckRequest(const FramedRequest& r) {
  Require(!r.method.empty() && !r.path.empty());
  Require(r.query.empty() || r.query.front() == '?');
  Require(r.body.size() <= kLimits.max_body);
  Require(r.chunked || r.body.size() == r.content_length);
  Require(!(r.chunked && r.content_length != 0));
  Require(r.headers.size() <= kLimits.max_headers);
  for (const auto& [name, value] : r.headers) {
    // What is relayed to a node can never split its request.
    Require(!name.empty());
    for (std::string_view text : {std::string_view(name), std::string_view(value)}) {
      Require(text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos);
    }
  }
  if (r.http10) Require(r.close || r.keep_alive);
}

Framed Frame(std::string_view input, const std::vector<size_t>& cuts) {
  RequestFramer framer(kLimits);
  ConnectionClock clock(SteadyTime{});
  const TimeLimits limits{};
  Framed out;
  size_t at = 0;
  size_t piece = 0;
  SteadyTime now{};
  while (at < input.size() && out.last != FrameEvent::kBad) {
    size_t n = cuts.empty() ? input.size() : cuts[piece++ % cuts.size()];
    std::string_view read = input.substr(at, n);
    at += read.size();
    now += std::chrono::milliseconds(10);
    for (;;) {
      out.last = framer.Feed(read);
      if (out.last == FrameEvent::kRequest) {
        out.requests.push_back(framer.TakeRequest());
        CheckRequest(out.requests.back());
        clock.OnRequest(now);
        continue;
      }
      if (out.last == FrameEvent::kHeadComplete) {
        Require(framer.phase() == FramePhase::kBody);
        continue;
      }
      break;
    }
    Require(out.last == FrameEvent::kBad || read.empty());  // every byte consumed
    clock.Observe(framer.phase(), framer.body_wire_bytes(), now);
    (void)clock.Check(framer.phase(), framer.body_wire_bytes(), false, now, limits);
  }
  if (out.last == FrameEvent::kBad) {
    out.status = framer.error_status();
    Require(out.status >= 400 && out.status < 600 && !framer.error_message().empty());
  }
  return out;
}

}  // namespace
}  // namespace gridhub::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub::http;
  if (size == 0) return 0;
  std::vector<size_t> cuts;
  for (int bit = 0; bit < 4; ++bit) cuts.push_back(((data[0] >> (2 * bit)) & 3) * 3 + 1);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Framed whole = Frame(input, {});
  Framed pieces = Frame(input, cuts);
  Require(whole.status == pieces.status);
  Require(whole.requests.size() == pieces.requests.size());
  for (size_t i = 0; i < whole.requests.size(); ++i) {
    const FramedRequest& a = whole.requests[i];
    const FramedRequest& b = pieces.requests[i];
    Require(a.method == b.method && a.target == b.target && a.body == b.body &&
            a.headers == b.headers && a.close == b.close);
  }
  return 0;
}
