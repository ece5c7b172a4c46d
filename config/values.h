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
// space...), or nullopt when it is one. ParseHttpUrl's error message.
std::optional<std::string> HttpUrlProblem(std::string_view text);
bool IsHttpUrl(std::string_view text);  // !HttpUrlProblem(text)

// `text` with the password of a URL's user-info shown as <redacted>, whether or not the URL
// parses (a refused value is still printed): "redis://u:s3cret@h" -> "redis://u:<redacted>@h".
// Everything before the last '@' after the scheme counts as user-info, as RedisUrl::Parse reads
// it; user-info without ':' is redacted whole (it may be a password written without the ':').
std::string RedactUserInfo(std::string_view text);

}  // namespace gridhub::config::detail

namespace gridhub::config {

// An http:// or https:// URL split into its parts.
struct HttpUrl {
  std::string scheme;     // "http" or "https"
  std::string user_info;  // before '@' in the authority; "" when absent
  std::string host;       // a name, an IPv4 address, or an IPv6 address without brackets
  bool ipv6 = false;      // host was written in [brackets]
  uint16_t port = 0;      // the explicit port, else 80 or 443
  bool explicit_port = false;
  std::string rest;  // from the first '/', '?' or '#' after the authority on; may be ""
};

// The one URL parser for settings (node.hub, node.uri, relay URLs). Never throws: anything
// that is not `http(s)://[user@]host[:port][/...]` with a port in 1-65535 and no space or
// control character is kInvalidArgument with the reason only ("URL has an empty port").
Result<HttpUrl> ParseHttpUrl(std::string_view text);

}  // namespace gridhub::config
