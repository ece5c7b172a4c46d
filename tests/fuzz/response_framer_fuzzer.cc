// libFuzzer target over outbound response framing (http/response_framer.h). The first input
// byte chooses how the rest is cut into reads, whether the first request was a HEAD and whether
// the peer then closes; the same bytes framed whole must give the same responses and the same
// verdict, and every response framed must satisfy what reactor_client.cc relies on.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/response_framer.h"

namespace gridhub::http {
namespace {

void Require(bool condition) {
  if (!condition) std::abort();
}

// Small limits so that every limit is reachable within -max_len.
constexpr ResponseLimits kLimits{.max_body = 2048, .max_head = 1024, .max_headers = 16};

struct Framed {
  std::vector<FramedResponse> responses;
  ResponseEvent last = ResponseEvent::kNeedMore;
};

Framed Frame(std::string_view input, size_t piece, bool head, bool eof) {
  ResponseFramer framer(kLimits);
  framer.Expect(head);
  Framed out;
  size_t at = 0;
  while (at < input.size() && out.last != ResponseEvent::kBad &&
         out.last != ResponseEvent::kTooLarge) {
    std::string_view read = input.substr(at, piece == 0 ? input.size() : piece);
    at += read.size();
    for (;;) {
      out.last = framer.Feed(read);
      if (out.last != ResponseEvent::kResponse) break;
      FramedResponse response = framer.Take();
      Require(response.status >= 200 && response.status <= 999);
      Require(response.body.size() <= kLimits.max_body);
      Require(response.headers.size() <= kLimits.max_headers);
      for (const auto& [name, value] : response.headers) {
        Require(!name.empty() && SafeForWire(name) && SafeForWire(value));
      }
      out.responses.push_back(std::move(response));
      framer.Expect(false);
      if (read.empty()) out.last = ResponseEvent::kNeedMore;
      if (read.empty()) break;
    }
    if (out.last == ResponseEvent::kNeedMore) Require(read.empty());
  }
  if (eof && out.last == ResponseEvent::kNeedMore) {
    out.last = framer.FeedEof();
    if (out.last == ResponseEvent::kResponse) {
      FramedResponse response = framer.Take();
      Require(response.close && response.body.size() <= kLimits.max_body);
      out.responses.push_back(std::move(response));
    }
  }
  if (out.last == ResponseEvent::kBad || out.last == ResponseEvent::kTooLarge) {
    Require(!framer.error().empty());
  }
  return out;
}

}  // namespace
}  // namespace gridhub::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub::http;
  if (size == 0) return 0;
  const size_t piece = (data[0] & 7) + 1;
  const bool head = (data[0] & 8) != 0;
  const bool eof = (data[0] & 16) != 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Framed whole = Frame(input, 0, head, eof);
  Framed pieces = Frame(input, piece, head, eof);
  Require(whole.last == pieces.last);
  Require(whole.responses.size() == pieces.responses.size());
  for (size_t i = 0; i < whole.responses.size(); ++i) {
    const FramedResponse& a = whole.responses[i];
    const FramedResponse& b = pieces.responses[i];
    Require(a.status == b.status && a.headers == b.headers && a.body == b.body &&
            a.close == b.close);
  }
  return 0;
}
