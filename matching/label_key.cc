#include "matching/label_key.h"

#include <cctype>

namespace gridhub::matching {
namespace {

bool IsLabelChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

Error Invalid(std::string_view text, std::string_view why) {
  std::string message = "invalid label '";
  message.append(text);
  message.append("': ");
  message.append(why);
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

}  // namespace

Result<LabelKey> LabelKey::Parse(std::string_view text) {
  LabelKey key;
  std::string_view rest = text;
  while (true) {
    size_t colon = rest.find(':');
    std::string_view segment = Trim(rest.substr(0, colon));
    if (!segment.empty()) {
      // A lone "*" is kept so that the wildcards toggle can give it meaning later.
      if (segment != "*") {
        for (char c : segment) {
          if (!IsLabelChar(c)) {
            return Invalid(text, "segment '" + std::string(segment) +
                                     "' may only hold letters, digits, '.', '_' and '-'");
          }
        }
      }
      if (key.count_ == kMaxLabelSegments) {
        return Invalid(text, "more than " + std::to_string(kMaxLabelSegments) + " segments");
      }
      if (!key.text_.empty()) key.text_.push_back(':');
      for (char c : segment) key.text_.push_back(Lower(c));
      key.ends_[key.count_++] = static_cast<uint32_t>(key.text_.size());
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (key.count_ == 0) return Invalid(text, "no segments");
  return key;
}

LabelKey LabelKey::FromBrowserName(std::string_view browser_name) {
  std::string_view trimmed = Trim(browser_name);
  if (trimmed.empty()) return Any();
  LabelKey key;
  key.text_.reserve(trimmed.size());
  for (char c : trimmed) key.text_.push_back(IsLabelChar(c) ? Lower(c) : '-');
  key.ends_[0] = static_cast<uint32_t>(key.text_.size());
  key.count_ = 1;
  return key;
}

LabelKey LabelKey::Any() {
  LabelKey key;
  key.text_ = "any";
  key.ends_[0] = 3;
  key.count_ = 1;
  return key;
}

std::string_view LabelKey::segment(size_t i) const {
  size_t begin = i == 0 ? 0 : ends_[i - 1] + 1;
  return std::string_view(text_).substr(begin, ends_[i] - begin);
}

LabelKey LabelKey::Parent() const {
  LabelKey parent;
  if (count_ <= 1) return parent;
  parent.count_ = static_cast<uint8_t>(count_ - 1);
  for (size_t i = 0; i < parent.count_; ++i) parent.ends_[i] = ends_[i];
  parent.text_ = text_.substr(0, ends_[parent.count_ - 1]);
  return parent;
}

bool LabelAccepts(const LabelKey& requested, const LabelKey& slot,
                  const LabelMatchOptions& options) {
  if (requested.empty()) return true;
  if (requested.size() > slot.size()) return false;
  if (requested.size() < slot.size() && !options.prefix_expand) return false;
  if (!options.wildcards) {
    // Canonical text makes a segment-wise prefix a plain string prefix ending at a ':'.
    const std::string& r = requested.str();
    const std::string& s = slot.str();
    return s.compare(0, r.size(), r) == 0 && (s.size() == r.size() || s[r.size()] == ':');
  }
  for (size_t i = 0; i < requested.size(); ++i) {
    std::string_view want = requested.segment(i);
    if (want != "*" && want != slot.segment(i)) return false;
  }
  return true;
}

std::vector<LabelKey> FallbackChain(const LabelKey& requested, const LabelMatchOptions& options) {
  std::vector<LabelKey> chain{requested};
  if (!options.trailing_fallback) return chain;
  while (chain.back().size() > 1) chain.push_back(chain.back().Parent());
  return chain;
}

}  // namespace gridhub::matching
