#pragma once

// yaml-cpp stays behind this header: the rest of config/ sees YAML documents as JSON values,
// so the YAML, environment, flag and admin-patch paths share one set of value parsers.

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gridhub::config::detail {

enum class Scalars {
  kText,   // every scalar becomes a JSON string holding its text as written ("007" stays)
  kTyped,  // plain scalars become null, bool, integer or float when they look like one
};

// Converts a YAML node. Duplicate map keys and non-scalar map keys are errors whose message
// names the path under `where` (e.g. "node.slots[0].stereotype").
Result<nlohmann::json> YamlToJson(const YAML::Node& node, Scalars scalars, std::string_view where);

// Parses YAML (or JSON, which is YAML) text; YAML::Exception becomes one line with the
// position and the parser's reason.
Result<YAML::Node> ParseYaml(std::string_view text);
Result<YAML::Node> LoadYamlFile(const std::string& path);

}  // namespace gridhub::config::detail
