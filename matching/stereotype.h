#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/result.h"
#include "matching/capability_digest.h"
#include "matching/label_key.h"

namespace gridhub::matching {

// What one slot offers: its stereotype capabilities, parsed ONCE when the node registers, and its
// label. Matching only reads the digest, never the JSON. Immutable value; thread-compatible.
//
//   Result<Stereotype> s = Stereotype::Parse(
//       {{"browserName", "chrome"}, {"browserVersion", "156.0.8078.79"},
//        {"platformName", "linux"}}, "AppA:Chromium:UAT");
//   s->label().str();  // "appa:chromium:uat"
class Stereotype {
 public:
  // The slot's label is `label` when non-empty, else caps["gridhub:label"], else the lower-cased
  // browserName (LabelKey::FromBrowserName), else "any". kInvalidArgument naming the key when
  // caps is not an object, browserName/browserVersion/platformName are not strings, or a label is
  // not a valid LabelKey.
  static Result<Stereotype> Parse(const nlohmann::json& caps, std::string_view label = "");

  const LabelKey& label() const { return label_; }
  const nlohmann::json& json() const { return json_; }  // the original stereotype capabilities
  const CapabilityDigest& digest() const { return digest_; }

 private:
  Stereotype(nlohmann::json json, LabelKey label);

  nlohmann::json json_;
  LabelKey label_;
  CapabilityDigest digest_;
};

}  // namespace gridhub::matching
