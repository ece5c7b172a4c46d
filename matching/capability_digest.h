#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace gridhub::matching {

// Operating-system families that a request may name instead of an exact platform: a request for
// "windows" fits a "Windows 11" slot, "mac" fits "macOS 14", never the other way round.
enum class PlatformFamily : uint8_t {
  kUnknown,
  kWindows,
  kMac,
  kLinux,
  kUnix,  // only as a requested family: fits Linux and other Unix platforms
  kAndroid,
  kIos,
};

// A capability value reduced once to what equality needs: strings lower-cased (compared
// case-insensitively), numbers as double (1 == 1.0 as in JSON), anything else as its dump.
struct ComparableValue {
  enum class Kind : uint8_t { kString, kNumber, kBool, kOther };
  Kind kind = Kind::kOther;
  double number = 0;
  std::string text;

  static ComparableValue Of(const nlohmann::json& value);
  friend bool operator==(const ComparableValue& a, const ComparableValue& b) {
    if (a.kind != b.kind) return false;
    return (a.kind == Kind::kNumber || a.kind == Kind::kBool) ? a.number == b.number
                                                              : a.text == b.text;
  }
};

struct ComparableCapability {
  std::string key;
  ComparableValue value;
};

// The compact form of one capability set (a request candidate or a slot stereotype), built once
// so that matching never walks JSON. Value type; thread-compatible.
struct CapabilityDigest {
  std::string browser_name;     // lower-cased, trimmed; "" when absent or empty
  std::string browser_version;  // normalised (see NormalizeVersion); "" when absent/stable/latest
  std::string platform_name;    // lower-cased, trimmed; "" when absent or "any"
  PlatformFamily platform_family = PlatformFamily::kUnknown;  // the family platform_name is in
  bool platform_is_family = false;  // platform_name names a whole family ("windows", "mac")
  // Keys compared when both sides have them, sorted by key. Excludes the three above, gridhub:*
  // (labels follow label rules) and vendor keys (goog:, moz:, ms:, safari:, se:, *options*).
  std::vector<ComparableCapability> comparable;
  // `se:downloadsEnabled` is true (or "true", any case, as Selenium's Boolean.parseBoolean
  // reads it): a request asking for managed downloads, or a slot offering them. The one `se:` key
  // that matching looks at (DESIGN 4b).
  bool downloads_enabled = false;

  // REQUIRES: caps is an object whose browserName/browserVersion/platformName, when present and
  // not null, are strings (callers validate first).
  static CapabilityDigest Of(const nlohmann::json& caps);
};

// True when `value` holds arrays/objects nested more than `max_depth` levels (a scalar is depth
// 0, `[]` is 1). Iterative (an explicit stack, no recursion), so the check itself is safe on any
// input, however deep; callers run it BEFORE any recursive walk (copy, dump, ==) and reject such
// values so that those walks cannot exhaust the stack.
bool NestsDeeperThan(const nlohmann::json& value, size_t max_depth);

// True for keys never compared in matching: vendor option keys that pass through to the driver.
bool IsPassThroughKey(std::string_view key);

// "156.0.08078.79 " -> "156.0.8078.79": trimmed, lower-cased, leading zeros dropped from numeric
// components; "", "stable" and "latest" -> "" (any version).
std::string NormalizeVersion(std::string_view version);

// Does the normalised requested version select `offered` by component prefix? ("156" selects
// "156.0.8078.79"; "156.0.1" does not select "156.0.2"; "" selects everything.)
bool VersionSelects(std::string_view requested, std::string_view offered);

// The family a platform name belongs to ("windows 11" -> kWindows, "macos 14" -> kMac), and
// whether the name is itself a family name a request may use ("windows", "mac", "linux", ...).
PlatformFamily FamilyOfPlatform(std::string_view lowered_name);
bool IsFamilyName(std::string_view lowered_name);

}  // namespace gridhub::matching
