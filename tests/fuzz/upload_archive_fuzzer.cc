// libFuzzer target over the node's upload formats (node-agent/upload_archive.h): the first byte
// picks what the rest is — a zip archive as a client would send it (after base64), or base64
// text. Links only the pure gridhub::upload_archive (libzip underneath). Whatever arrives: an
// accepted archive's one name is a plain file name within the limit, extraction never hands
// the sink more than the limit, it succeeds only for archives the inspection accepts, and
// base64 round-trips.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "node-agent/upload_archive.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;        // NOLINT: fuzz entry point
  using namespace gridhub::fuzz;  // NOLINT
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view rest = AsText(data + 1, size - 1);
  if (mode % 4 == 0) {
    Result<std::string> decoded = node::DecodeBase64(rest);
    if (decoded.ok()) {
      Result<std::string> again = node::DecodeBase64(node::EncodeBase64(*decoded));
      Require(again.ok() && *again == *decoded);
    }
    Require(*node::DecodeBase64(node::EncodeBase64(rest)) == rest);
    return 0;
  }
  // A small limit, so that both size checks (declared and actual) are reached.
  const uint64_t max_size = mode % 4 == 1 ? 64 : 4096;
  Result<node::UploadEntry> entry = node::InspectUpload(rest, max_size);
  if (entry.ok()) {
    Require(!node::FileNameProblem(entry->name).has_value());
    Require(entry->name.find('/') == std::string::npos);
    Require(entry->declared_size <= max_size);
  }
  uint64_t written = 0;
  Status extracted = node::ExtractUpload(rest, max_size, [&](std::string_view chunk) {
    written += chunk.size();
    Require(written <= max_size);
    return true;
  });
  if (extracted.ok()) Require(entry.ok());
  if (!extracted.ok()) Require(!extracted.error().message.empty());
  return 0;
}
