#pragma once

// Parsers for single configuration values, shared by the YAML, environment, flag and admin
// paths so that `300s` means the same everywhere. Each returns the value or an Error whose
// message is only the reason ("negative duration"); the caller adds key, value and origin.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/settings.h"

namespace gridhub::config::detail {

// Why a value was refused. `path` extends the key for values inside a structure
// (`[1].max-sessions` under node.slots); `value` is the offending part when it is not the
// whole value.
struct Problem {
  std::string why;
  std::string path;
  std::optional<nlohmann::json> value;
};

template <typename T>
using Parsed = std::variant<T, Problem>;

std::string_view Trim(std::string_view text);

// The text of a scalar JSON value (strings as is, numbers and booleans spelled out); nullopt
// for objects, arrays and null, which no scalar key accepts.
std::optional<std::string> ScalarText(const nlohmann::json& value);

// "a list", "a map", "empty": for "wrong type" messages.
std::string_view KindName(const nlohmann::json& value);

Result<Duration> DurationFromText(std::string_view text);  // message = reason only
Result<bool> BoolFromText(std::string_view text);
Result<int64_t> IntFromText(std::string_view text);
Result<size_t> SizeFromText(std::string_view text);  // bytes; 64MiB, 512k, 1048576

// `label=N,label=N` or a JSON object {label: N}; labels normalised, N >= 0, no duplicates.
Parsed<std::map<std::string, int>> CapsFromJson(const nlohmann::json& value);

// A JSON array of slot objects (or a string holding YAML/JSON of one).
Parsed<std::vector<SlotConfig>> SlotsFromJson(const nlohmann::json& value);

// Why `text` is not a usable http:// or https:// URL (no host, a port outside 1-65535, a
// space...), or nullopt when it is one.
std::optional<std::string> HttpUrlProblem(std::string_view text);
bool IsHttpUrl(std::string_view text);  // !HttpUrlProblem(text)

}  // namespace gridhub::config::detail
