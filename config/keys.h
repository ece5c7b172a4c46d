#pragma once

// The table of every configuration key: its name, how to parse and validate a value into
// Settings, how to read it back, and how it may be changed. LoadSettings, ApplyAdminPatch,
// ToJson, Describe and FlagsHelp all walk this one table, so a key added here gets its YAML
// name, environment variable, flag, help line and printout together.

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"
#include "config/values.h"

namespace gridhub::config::detail {

enum class Runtime { kFixed, kAdmin };          // may PUT /admin/config change it?
enum class Secrecy { kPlain, kSecret };         // redacted by ToJson(kRedact)?
enum class Shape { kScalar, kStructured };      // structured values keep YAML types
enum class FlagValue { kRequired, kOptional };  // booleans: a bare `--matching.wildcards`

struct KeySpec {
  std::string name;        // "queue.max-per-label"
  std::string alias;       // "HUB_BORROW_QUEUE_MAX_PER_LABEL" or ""
  std::string value_kind;  // "DURATION", "INT", ... for --help
  std::string help;
  Runtime runtime = Runtime::kFixed;
  Secrecy secrecy = Secrecy::kPlain;
  Shape shape = Shape::kScalar;
  FlagValue flag_value = FlagValue::kRequired;
  // Parses, validates and stores `value`; on a problem leaves `settings` untouched.
  std::function<std::optional<Problem>(const nlohmann::json& value, Settings& settings)> apply;
  std::function<nlohmann::json(const Settings& settings)> get;
  // For a value with a password inside (hub.state's redis URL): how ToJson(kRedact), Describe
  // and error lines show it. Null: shown as is, or "<redacted>" whole when kSecret.
  std::function<nlohmann::json(const nlohmann::json& value)> redact;
};

// Sections in YAML order; `metrics` exists but has no keys yet.
const std::vector<std::string>& Sections();
const std::vector<KeySpec>& Keys();
const KeySpec* FindKey(std::string_view name);

// "queue.max-per-label" -> "GRIDHUB_QUEUE_MAX_PER_LABEL".
std::string EnvName(std::string_view key);

}  // namespace gridhub::config::detail
