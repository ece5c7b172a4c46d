#include "matching/capability_digest.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>
#include <vector>

namespace gridhub::matching {

using nlohmann::json;

namespace {

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The string at caps[key], or "" when absent, null or not a string.
std::string_view StringAt(const json& caps, const char* key) {
  auto it = caps.find(key);
  if (it == caps.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

bool IsSpecialKey(std::string_view key) {
  return key == "browserName" || key == "browserVersion" || key == "platformName" ||
         key.starts_with("gridhub:");
}

}  // namespace

ComparableValue ComparableValue::Of(const json& value) {
  ComparableValue out;
  if (value.is_string()) {
    out.kind = Kind::kString;
    out.text = Lowered(value.get_ref<const std::string&>());
  } else if (value.is_number()) {
    out.kind = Kind::kNumber;
    out.number = value.get<double>();
  } else if (value.is_boolean()) {
    out.kind = Kind::kBool;
    out.number = value.get<bool>() ? 1 : 0;
  } else {
    out.kind = Kind::kOther;
    // Objects dump with sorted keys, so equal objects give equal text.
    out.text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return out;
}

bool NestsDeeperThan(const json& value, size_t max_depth) {
  // An explicit stack, not recursion: this check is what makes the recursive walks after it
  // (dump, copy, ==) safe, so it must itself be safe on a value nested millions deep.
  std::vector<std::pair<const json*, size_t>> pending;
  if (value.is_structured()) pending.emplace_back(&value, 1);
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (depth > max_depth) return true;
    for (const json& child : *node) {
      if (child.is_structured()) pending.emplace_back(&child, depth + 1);
    }
  }
  return false;
}

bool IsPassThroughKey(std::string_view key) {
  static constexpr std::array<std::string_view, 5> kVendorPrefixes = {
      "goog:", "moz:", "ms:", "safari:", "se:"};
  for (std::string_view prefix : kVendorPrefixes) {
    if (key.starts_with(prefix)) return true;
  }
  return Lowered(key).find("options") != std::string::npos;
}

std::string NormalizeVersion(std::string_view version) {
  std::string lowered = Lowered(Trim(version));
  if (lowered == "stable" || lowered == "latest") return {};
  std::string out;
  out.reserve(lowered.size());
  std::string_view rest = lowered;
  while (true) {
    size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    if (IsDigits(part)) {
      // "08078" and "8078" name the same component.
      while (part.size() > 1 && part.front() == '0') part.remove_prefix(1);
    }
    out.append(part);
    if (dot == std::string_view::npos) break;
    out.push_back('.');
    rest.remove_prefix(dot + 1);
  }
  return out;
}

bool VersionSelects(std::string_view requested, std::string_view offered) {
  if (requested.empty()) return true;
  return offered.starts_with(requested) &&
         (offered.size() == requested.size() || offered[requested.size()] == '.');
}

PlatformFamily FamilyOfPlatform(std::string_view name) {
  static constexpr std::array<std::string_view, 16> kMacNames = {
      "darwin",     "os x",     "osx",       "sequoia",      "sonoma",      "ventura",
      "monterey",   "big sur",  "catalina",  "mojave",       "high sierra", "sierra",
      "el capitan", "yosemite", "mavericks", "mountain lion"};
  if (name.starts_with("win") || name == "xp" || name == "vista") return PlatformFamily::kWindows;
  if (name.starts_with("mac")) return PlatformFamily::kMac;
  for (std::string_view mac : kMacNames) {
    if (name.starts_with(mac)) return PlatformFamily::kMac;
  }
  if (name.starts_with("linux")) return PlatformFamily::kLinux;
  if (name.starts_with("android")) return PlatformFamily::kAndroid;
  if (name.starts_with("ios")) return PlatformFamily::kIos;
  if (name == "unix" || name.starts_with("bsd") || name.starts_with("freebsd") ||
      name.starts_with("solaris")) {
    return PlatformFamily::kUnix;
  }
  return PlatformFamily::kUnknown;
}

bool IsFamilyName(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kFamilyNames = {
      "windows", "win", "mac",   "macos", "mac os",  "mac os x",
      "os x",    "osx", "linux", "unix",  "android", "ios"};
  return std::find(kFamilyNames.begin(), kFamilyNames.end(), name) != kFamilyNames.end();
}

CapabilityDigest CapabilityDigest::Of(const json& caps) {
  CapabilityDigest digest;
  digest.browser_name = Lowered(Trim(StringAt(caps, "browserName")));
  digest.browser_version = NormalizeVersion(StringAt(caps, "browserVersion"));
  digest.platform_name = Lowered(Trim(StringAt(caps, "platformName")));
  if (digest.platform_name == "any") digest.platform_name.clear();
  digest.platform_family = FamilyOfPlatform(digest.platform_name);
  digest.platform_is_family = IsFamilyName(digest.platform_name);
  if (auto it = caps.find("se:downloadsEnabled"); it != caps.end()) {
    digest.downloads_enabled =
        *it == json(true) || (it->is_string() && Lowered(Trim(it->get<std::string>())) == "true");
  }
  for (const auto& [key, value] : caps.items()) {
    if (value.is_null() || IsSpecialKey(key) || IsPassThroughKey(key)) continue;
    digest.comparable.push_back(ComparableCapability{key, ComparableValue::Of(value)});
  }
  // nlohmann's object is a std::map, so items() is already sorted; sort anyway so the invariant
  // does not hang on that detail.
  std::sort(
      digest.comparable.begin(), digest.comparable.end(),
      [](const ComparableCapability& a, const ComparableCapability& b) { return a.key < b.key; });
  return digest;
}

}  // namespace gridhub::matching
