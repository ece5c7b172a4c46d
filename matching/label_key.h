#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gridhub::matching {

// Labels have at most this many segments; deeper hierarchies are a configuration mistake.
inline constexpr size_t kMaxLabelSegments = 8;

// A normalised, colon-separated label such as "appa:chromium:uat". Every label in gridhub (slot
// labels, request labels, cap keys, metric label values) goes through this one parser so that
// "AppA : Chromium::UAT" and "appa:chromium:uat" are the same key. A segment is `[A-Za-z0-9._-]+`
// or a lone `*` (a wildcard when the `wildcards` toggle is on, a literal otherwise).
// Immutable value type; thread-compatible.
//
//   Result<LabelKey> key = LabelKey::Parse(" AppA:Chromium: UAT ");
//   key->str();      // "appa:chromium:uat"
//   key->Parent();   // "appa:chromium"
class LabelKey {
 public:
  LabelKey() = default;  // the empty key: no segments

  // kInvalidArgument (message names the text and why) for no segments, more than
  // kMaxLabelSegments segments, or characters outside the allowed set.
  static Result<LabelKey> Parse(std::string_view text);

  // The one-segment label derived from a browserName ("MicrosoftEdge" -> "microsoftedge",
  // "internet explorer" -> "internet-explorer"): lower-cased, trimmed, any character a label may
  // not hold replaced by '-'. Never fails; an empty name gives "any".
  static LabelKey FromBrowserName(std::string_view browser_name);

  // The label of requests and slots that name neither a label nor a browser.
  static LabelKey Any();

  const std::string& str() const { return text_; }
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // REQUIRES: i < size()
  std::string_view segment(size_t i) const;
  // One segment fewer; the empty key when size() <= 1.
  LabelKey Parent() const;

  friend bool operator==(const LabelKey&, const LabelKey&) = default;

 private:
  std::string text_;
  // ends_[i] is the offset one past segment i in text_; unused entries stay 0 so that the
  // defaulted operator== only depends on the canonical text.
  std::array<uint32_t, kMaxLabelSegments> ends_{};
  uint8_t count_ = 0;
};

// The three matching toggles of DESIGN §2 (config section `matching`).
struct LabelMatchOptions {
  bool prefix_expand = true;      // "appa" also accepts slots "appa:chromium:uat"
  bool wildcards = false;         // a "*" segment in the request accepts any one segment
  bool trailing_fallback = true;  // "a:b:c" may fall back to "a:b", then "a"
};

// May a request restricted to `requested` use a slot labelled `slot`? Exact match, or with
// prefix_expand `requested` is a segment-wise prefix of `slot`, or with wildcards a "*" segment
// of `requested` stands for any one segment. An empty `requested` accepts every slot.
bool LabelAccepts(const LabelKey& requested, const LabelKey& slot,
                  const LabelMatchOptions& options);

// The labels to try, most specific first: {"a:b:c", "a:b", "a"} with trailing_fallback, else
// just {requested}. Never empty (an empty key gives {empty key}).
std::vector<LabelKey> FallbackChain(const LabelKey& requested, const LabelMatchOptions& options);

}  // namespace gridhub::matching
