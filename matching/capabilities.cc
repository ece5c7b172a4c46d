#include "matching/capabilities.h"

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace gridhub::matching {

using nlohmann::json;

namespace {

std::string Name(std::string_view where, std::string_view key) {
  std::string name(where);
  if (!name.empty()) name.push_back('.');
  name.append(key);
  return name;
}

constexpr std::array<std::string_view, 4> kBooleanKeys = {
    "acceptInsecureCerts", "setWindowRect", "strictFileInteractability", "webSocketUrl"};
constexpr std::array<std::string_view, 4> kStringKeys = {"browserName", "browserVersion",
                                                         "platformName", "unhandledPromptBehavior"};

bool OneOf(std::string_view key, std::span<const std::string_view> keys) {
  for (std::string_view k : keys) {
    if (k == key) return true;
  }
  return false;
}

// W3C "deserialize as timeouts": each known timeout is an integer in [0, 2^53 - 1]; script may
// be null (no script timeout).
Status CheckTimeouts(const json& timeouts, const std::string& name) {
  constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;
  for (const char* key : {"implicit", "pageLoad", "script"}) {
    auto it = timeouts.find(key);
    if (it == timeouts.end() || (it->is_null() && std::string_view(key) == "script")) continue;
    bool ok = it->is_number_unsigned() ? it->get<uint64_t>() <= kMaxSafeInteger
                                       : it->is_number_integer() && it->get<int64_t>() >= 0;
    if (!ok) return InvalidArgument(Name(name, key) + " must be an integer from 0 to 2^53 - 1");
  }
  return Status::Ok();
}

Status CheckGridhubKey(std::string_view key, const json& value, const std::string& name) {
  if (key == "gridhub:label") {
    if (!value.is_string()) return InvalidArgument(name + " must be a string");
    Result<LabelKey> label = LabelKey::Parse(value.get_ref<const std::string&>());
    if (!label.ok()) return InvalidArgument(name + ": " + label.error().message);
  } else if (key == "gridhub:runId") {
    if (!value.is_string()) return InvalidArgument(name + " must be a string");
  } else if (key == "gridhub:noWait") {
    if (!value.is_boolean()) return InvalidArgument(name + " must be a boolean");
  }
  return Status::Ok();
}

// One non-null capability against the W3C "validate capabilities" rules.
Status CheckCapability(std::string_view key, const json& value, const std::string& name) {
  if (OneOf(key, kBooleanKeys)) {
    if (!value.is_boolean()) return InvalidArgument(name + " must be a boolean");
  } else if (OneOf(key, kStringKeys)) {
    if (!value.is_string()) return InvalidArgument(name + " must be a string");
  } else if (key == "pageLoadStrategy") {
    if (!value.is_string() || (value != "none" && value != "eager" && value != "normal")) {
      return InvalidArgument(name + " must be one of \"none\", \"eager\", \"normal\"");
    }
  } else if (key == "proxy") {
    if (!value.is_object()) return InvalidArgument(name + " must be a JSON object");
  } else if (key == "timeouts") {
    if (!value.is_object()) return InvalidArgument(name + " must be a JSON object");
    return CheckTimeouts(value, name);
  } else if (key.find(':') == std::string_view::npos) {
    return InvalidArgument(
        name +
        " is not a W3C capability; extension capabilities need a vendor prefix such "
        "as 'goog:'");
  } else if (key.starts_with("gridhub:")) {
    return CheckGridhubKey(key, value, name);
  }
  return Status::Ok();
}

Result<const json*> FirstMatchList(const json& capabilities) {
  static const json* const kOneEmpty = new json(json::array({json::object()}));
  auto it = capabilities.find("firstMatch");
  if (it == capabilities.end() || it->is_null()) return kOneEmpty;
  if (!it->is_array()) return InvalidArgument("capabilities.firstMatch must be a JSON array");
  if (it->empty()) return InvalidArgument("capabilities.firstMatch must hold at least one object");
  if (it->size() > kMaxFirstMatch) {
    return InvalidArgument("capabilities.firstMatch has more than " +
                           std::to_string(kMaxFirstMatch) + " entries");
  }
  return &*it;
}

// Every candidate copies alwaysMatch, so a huge alwaysMatch times many firstMatch entries could
// exhaust memory from a body that itself fits server.max-body.
Status CheckMergedSize(const json& always, size_t first_match_count) {
  if (first_match_count <= 1) return Status::Ok();
  size_t bytes = always.dump(-1, ' ', false, json::error_handler_t::replace).size();
  if (bytes * first_match_count > kMaxMergedBytes) {
    return InvalidArgument("capabilities.alwaysMatch repeated into " +
                           std::to_string(first_match_count) + " firstMatch entries exceeds " +
                           std::to_string(kMaxMergedBytes >> 20) + " MiB");
  }
  return Status::Ok();
}

Result<const json*> CapabilitiesObject(const json& body) {
  if (!body.is_object()) {
    return InvalidArgument(
        "capabilities: the request body must be a JSON object holding a "
        "\"capabilities\" object");
  }
  auto it = body.find("capabilities");
  if (it == body.end() || it->is_null()) {
    if (body.contains("desiredCapabilities")) {
      return InvalidArgument(
          "capabilities is missing: legacy desiredCapabilities alone are not "
          "supported; send W3C {\"capabilities\": {\"alwaysMatch\": {...}}}");
    }
    return InvalidArgument(
        "capabilities is missing: send {\"capabilities\": {\"alwaysMatch\": {...}}}");
  }
  if (!it->is_object()) return InvalidArgument("capabilities must be a JSON object");
  return &*it;
}

// Fills the request-level fields from the first candidate (documented in docs/matching.md).
void DeriveRequestFields(NewSessionSpec& spec) {
  const json& first = spec.candidates.front().json();
  auto label = first.find("gridhub:label");
  if (label != first.end()) {
    spec.label = *LabelKey::Parse(label->get_ref<const std::string&>());  // validated already
    spec.explicit_label = true;
  } else {
    auto browser = first.find("browserName");
    spec.label = browser == first.end()
                     ? LabelKey::Any()
                     : LabelKey::FromBrowserName(browser->get_ref<const std::string&>());
  }
  auto run_id = first.find("gridhub:runId");
  if (run_id != first.end()) spec.run_id = run_id->get<std::string>();
  auto no_wait = first.find("gridhub:noWait");
  if (no_wait != first.end()) spec.no_wait = no_wait->get<bool>();
}

}  // namespace

Candidate::Candidate(nlohmann::json merged)
    : json_(std::move(merged)), digest_(CapabilityDigest::Of(json_)) {}

Result<json> ValidateCapabilities(const json& caps, std::string_view where) {
  if (!caps.is_object()) return InvalidArgument(std::string(where) + " must be a JSON object");
  json out = json::object();
  for (const auto& [key, value] : caps.items()) {
    if (value.is_null()) continue;  // W3C: null counts as absent
    std::string name = Name(where, key);
    if (NestsDeeperThan(value, kMaxCapabilityDepth)) {
      return InvalidArgument(name + " nests deeper than " + std::to_string(kMaxCapabilityDepth) +
                             " levels");
    }
    Status status = CheckCapability(key, value, name);
    if (!status.ok()) return status.error();
    out[key] = value;
  }
  return out;
}

Result<NewSessionSpec> ProcessNewSession(const json& body) {
  Result<const json*> capabilities = CapabilitiesObject(body);
  if (!capabilities.ok()) return capabilities.error();
  const json& caps = **capabilities;

  json always = json::object();
  auto always_it = caps.find("alwaysMatch");
  if (always_it != caps.end() && !always_it->is_null()) {
    Result<json> validated = ValidateCapabilities(*always_it, "capabilities.alwaysMatch");
    if (!validated.ok()) return validated.error();
    always = std::move(*validated);
  }
  Result<const json*> first_match_list = FirstMatchList(caps);
  if (!first_match_list.ok()) return first_match_list.error();
  const json& first_matches = **first_match_list;
  Status size = CheckMergedSize(always, first_matches.size());
  if (!size.ok()) return size.error();

  NewSessionSpec spec;
  spec.candidates.reserve(first_matches.size());
  for (size_t i = 0; i < first_matches.size(); ++i) {
    std::string where = "capabilities.firstMatch[" + std::to_string(i) + "]";
    Result<json> first = ValidateCapabilities(first_matches[i], where);
    if (!first.ok()) return first.error();
    json merged = always;
    for (auto& [key, value] : first->items()) {
      if (always.contains(key))
        return InvalidArgument(Name(where, key) + " repeats an alwaysMatch key");
      merged[key] = std::move(value);
    }
    spec.candidates.emplace_back(std::move(merged));
  }
  DeriveRequestFields(spec);
  return spec;
}

}  // namespace gridhub::matching
