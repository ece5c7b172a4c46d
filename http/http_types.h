#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridhub::http {

// Header fields in arrival order; names keep their original case, lookups ignore it.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or "" when absent.
std::string_view FindHeader(const Headers& headers, std::string_view name);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace gridhub::http
