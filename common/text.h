#pragma once

// Small text helpers for the list-shaped values gridhub reads (cap lists in settings, header
// parameters): pure, allocation-free views into the input.
//
//   for (std::string_view entry : SplitTrimmed("a=1, b=2,", ',')) ...  // "a=1", "b=2"

#include <string_view>
#include <vector>

namespace gridhub {

// `text` without leading and trailing `blanks` (spaces and tabs unless told).
inline std::string_view TrimBlanks(std::string_view text, std::string_view blanks = " \t") {
  const size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

// The parts of `text` between `separator`s, each trimmed; empty parts (a trailing separator,
// two in a row) are left out.
inline std::vector<std::string_view> SplitTrimmed(std::string_view text, char separator,
                                                  std::string_view blanks = " \t") {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = TrimBlanks(text.substr(start, end - start), blanks);
    if (!part.empty()) parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

}  // namespace gridhub
