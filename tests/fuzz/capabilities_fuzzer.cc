// libFuzzer target over everything the hub does with untrusted capabilities: label parsing,
// W3C capability processing, stereotype parsing, matching, explanations and the capabilities
// sent to a node. Invariants that must hold for any input abort the run when broken.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "matching/capabilities.h"
#include "matching/label_key.h"
#include "matching/slot_matcher.h"
#include "matching/stereotype.h"

namespace gridhub::matching {
namespace {

using nlohmann::json;

void Require(bool condition) {
  if (!condition) std::abort();
}

void CheckLabel(std::string_view text) {
  Result<LabelKey> key = LabelKey::Parse(text);
  if (key.ok()) {
    Require(!key->empty() && key->size() <= kMaxLabelSegments);
    Result<LabelKey> again = LabelKey::Parse(key->str());  // canonical form is a fixed point
    Require(again.ok() && *again == *key);
    std::vector<LabelKey> chain = FallbackChain(*key, LabelMatchOptions{});
    Require(chain.size() == key->size());
    for (const LabelKey& parent : chain) Require(LabelAccepts(parent, *key, LabelMatchOptions{}));
  } else {
    Require(key.error().code == ErrorCode::kInvalidArgument);
  }
  LabelKey derived = LabelKey::FromBrowserName(text);
  Result<LabelKey> reparsed = LabelKey::Parse(derived.str());
  Require(reparsed.ok() && *reparsed == derived && derived.size() == 1);
}

const std::vector<Stereotype>& FixedSlots() {
  static const auto* slots = [] {
    auto* out = new std::vector<Stereotype>();
    const char* const kStereotypes[] = {
        R"({"browserName": "chrome", "browserVersion": "156.0.8078.79", "platformName": "linux",
            "goog:chromeOptions": {"args": ["--headless=new"]}})",
        R"({"browserName": "firefox", "browserVersion": "140.0", "platformName": "Windows 11",
            "gridhub:label": "AppA:Firefox:UAT"})",
        R"({"platformName": "Android", "appium:deviceName": "Pixel 7",
            "appium:automationName": "UiAutomator2"})",
        R"({"browserName": "safari", "platformName": "macOS 14"})",
    };
    const char* const kLabels[] = {"AppA:Chromium:UAT", "", "mobile", "AppB:*"};
    for (size_t i = 0; i < 4; ++i) {
      out->push_back(*Stereotype::Parse(json::parse(kStereotypes[i]), kLabels[i]));
    }
    return out;
  }();
  return *slots;
}

// The fuzzer may also supply stereotypes: {"stereotypes": [{...}, ...]} next to the request.
std::vector<Stereotype> InputSlots(const json& body) {
  std::vector<Stereotype> slots;
  if (!body.is_object()) return slots;
  auto it = body.find("stereotypes");
  if (it == body.end() || !it->is_array()) return slots;
  for (const json& caps : *it) {
    std::string label;
    if (caps.is_object() && caps.contains("slotLabel") && caps["slotLabel"].is_string()) {
      label = caps["slotLabel"].get<std::string>();
    }
    Result<Stereotype> slot = Stereotype::Parse(caps, label);
    if (slot.ok()) slots.push_back(std::move(*slot));
    if (slots.size() == 16) break;
  }
  return slots;
}

void CheckMatching(const NewSessionSpec& spec, const std::vector<const Stereotype*>& slots,
                   const LabelMatchOptions& options) {
  SlotMatcher matcher(options);
  std::optional<LabelKey> restriction = matcher.ResolveRestriction(spec, slots);
  Require(restriction.has_value() == spec.explicit_label);
  const LabelKey* label = restriction ? &*restriction : nullptr;
  bool any = false;
  for (const Stereotype* slot : slots) {
    std::optional<size_t> index = matcher.Match(spec, label, *slot);
    if (!index) continue;
    any = true;
    Require(*index < spec.candidates.size());
    Require(CandidateFits(spec.candidates[*index].digest(), slot->digest()));
    json caps = CapabilitiesForNode(spec.candidates[*index], *slot);
    Require(caps.is_object());
    for (const auto& item : caps.items()) Require(!item.key().starts_with("gridhub:"));
  }
  Require(matcher.Satisfiable(spec, slots) == any);
  Require(!matcher.ExplainNoMatch(spec, slots).empty());
}

}  // namespace
}  // namespace gridhub::matching

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub::matching;  // NOLINT: fuzz entry point
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckLabel(text);

  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) return 0;
  Stereotype::Parse(body);  // must not crash whatever the shape

  gridhub::Result<NewSessionSpec> spec = ProcessNewSession(body);
  if (!spec.ok()) {
    Require(spec.error().code == gridhub::ErrorCode::kInvalidArgument);
    Require(!spec.error().message.empty());
    return 0;
  }
  Require(!spec->candidates.empty() && !spec->label.empty());

  std::vector<Stereotype> owned = InputSlots(body);
  std::vector<const Stereotype*> slots;
  for (const Stereotype& slot : FixedSlots()) slots.push_back(&slot);
  for (const Stereotype& slot : owned) slots.push_back(&slot);
  for (int bits = 0; bits < 8; ++bits) {
    LabelMatchOptions options{.prefix_expand = (bits & 1) != 0,
                              .wildcards = (bits & 2) != 0,
                              .trailing_fallback = (bits & 4) != 0};
    CheckMatching(*spec, slots, options);
  }
  return 0;
}
