#include "matching/stereotype.h"

#include <string>
#include <utility>

namespace gridhub::matching {

using nlohmann::json;

namespace {

// Same bound as a request's capability values, plus the stereotype object itself.
constexpr size_t kMaxStereotypeDepth = 33;

Result<LabelKey> SlotLabel(const json& caps, std::string_view label) {
  if (!label.empty()) {
    Result<LabelKey> key = LabelKey::Parse(label);
    if (!key.ok()) return InvalidArgument("label: " + key.error().message);
    return key;
  }
  auto it = caps.find("gridhub:label");
  if (it != caps.end() && !it->is_null()) {
    if (!it->is_string()) return InvalidArgument("stereotype.gridhub:label must be a string");
    Result<LabelKey> key = LabelKey::Parse(it->get_ref<const std::string&>());
    if (!key.ok()) return InvalidArgument("stereotype.gridhub:label: " + key.error().message);
    return key;
  }
  auto browser = caps.find("browserName");
  if (browser == caps.end() || browser->is_null()) return LabelKey::Any();
  return LabelKey::FromBrowserName(browser->get_ref<const std::string&>());
}

}  // namespace

Stereotype::Stereotype(nlohmann::json caps, LabelKey label)
    : json_(std::move(caps)), label_(std::move(label)), digest_(CapabilityDigest::Of(json_)) {}

Result<Stereotype> Stereotype::Parse(const nlohmann::json& caps, std::string_view label) {
  if (!caps.is_object()) return InvalidArgument("stereotype must be a JSON object");
  for (const char* key : {"browserName", "browserVersion", "platformName"}) {
    auto it = caps.find(key);
    if (it != caps.end() && !it->is_null() && !it->is_string()) {
      return InvalidArgument(std::string("stereotype.") + key + " must be a string");
    }
  }
  if (NestsDeeperThan(caps, kMaxStereotypeDepth)) {
    return InvalidArgument("stereotype nests deeper than " + std::to_string(kMaxStereotypeDepth) +
                           " levels");
  }
  Result<LabelKey> key = SlotLabel(caps, label);
  if (!key.ok()) return key.error();
  return Stereotype(caps, std::move(*key));
}

}  // namespace gridhub::matching
