// libFuzzer target over label parsing (matching/label_key.h): the input is split at its first
// NUL into a requested label and a slot label. Parse must refuse cleanly or give a canonical key
// that parses to itself, and matching and fallback must agree for every option.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "matching/label_key.h"
#include "tests/fuzz/fuzz_support.h"

namespace gridhub::matching {
namespace {

using fuzz::Require;

void CheckOne(std::string_view text) {
  Result<LabelKey> key = LabelKey::Parse(text);
  if (!key.ok()) {
    Require(key.error().code == ErrorCode::kInvalidArgument && !key.error().message.empty());
    return;
  }
  Require(key->size() <= kMaxLabelSegments);
  Result<LabelKey> again = LabelKey::Parse(key->str());
  Require(again.ok() && *again == *key);
  for (size_t i = 0; i < key->size(); ++i) Require(!key->segment(i).empty());
  if (!key->empty()) {
    LabelKey parent = key->Parent();
    Require(parent.size() + 1 == key->size());
  }
}

void CheckPair(const LabelKey& requested, const LabelKey& slot) {
  for (int bits = 0; bits < 8; ++bits) {
    LabelMatchOptions options{.prefix_expand = (bits & 1) != 0,
                              .wildcards = (bits & 2) != 0,
                              .trailing_fallback = (bits & 4) != 0};
    LabelAccepts(requested, slot, options);  // must not crash
    std::vector<LabelKey> chain = FallbackChain(requested, options);
    Require(chain.size() <= requested.size());
    for (const LabelKey& step : chain) Require(step.size() <= requested.size());
  }
  Require(LabelAccepts(requested, requested, LabelMatchOptions{}));
}

}  // namespace
}  // namespace gridhub::matching

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub::matching;  // NOLINT: fuzz entry point
  std::string_view text = gridhub::fuzz::AsText(data, size);
  size_t split = text.find('\0');
  std::string_view first = text.substr(0, split);
  std::string_view second = split == std::string_view::npos ? first : text.substr(split + 1);
  CheckOne(first);
  CheckOne(second);
  LabelKey::FromBrowserName(first);
  gridhub::Result<LabelKey> requested = LabelKey::Parse(first);
  gridhub::Result<LabelKey> slot = LabelKey::Parse(second);
  if (requested.ok() && slot.ok() && !requested->empty()) CheckPair(*requested, *slot);
  return 0;
}
