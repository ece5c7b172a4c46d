#include "config/yaml_json.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace gridhub::config::detail {
namespace {

using nlohmann::json;

bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> BoolText(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<int64_t> IntText(std::string_view s) {
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  if (digits.empty()) return std::nullopt;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return out;
}

std::optional<double> FloatText(std::string_view s) {
  // Only decimal forms: YAML 1.2 core schema floats, without .inf/.nan, which no capability
  // needs and which JSON cannot carry.
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
      return std::nullopt;
    }
  }
  if (!digit) return std::nullopt;
  double out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return out;
}

json TypedScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  // Quoted or explicitly tagged scalars are strings whatever they look like.
  if (node.Tag() != "?") return text;
  if (IsNullText(text)) return nullptr;
  if (auto b = BoolText(text)) return *b;
  if (auto i = IntText(text)) return *i;
  if (auto f = FloatText(text)) return *f;
  return text;
}

}  // namespace

Result<json> YamlToJson(const YAML::Node& node, Scalars scalars, std::string_view where) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      if (scalars == Scalars::kText) return json(node.Scalar());
      return TypedScalar(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        std::string path = std::string(where) + "[" + std::to_string(i) + "]";
        Result<json> item = YamlToJson(node[i], scalars, path);
        if (!item.ok()) return item.error();
        out.push_back(std::move(*item));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          return InvalidArgument(std::string(where) + ": map keys must be plain strings");
        }
        const std::string& key = entry.first.Scalar();
        std::string path = std::string(where) + "." + key;
        // yaml-cpp keeps both copies of a repeated key; refuse rather than pick one silently.
        if (out.contains(key)) {
          return InvalidArgument(path + ": duplicate key (line " +
                                 std::to_string(entry.first.Mark().line + 1) + ")");
        }
        Result<json> value = YamlToJson(entry.second, scalars, path);
        if (!value.ok()) return value.error();
        out[key] = std::move(*value);
      }
      return out;
    }
  }
  return json(nullptr);
}

Result<YAML::Node> ParseYaml(std::string_view text) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument("line " + std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
}

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(path + ": cannot read file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  Result<YAML::Node> node = ParseYaml(text.str());
  if (!node.ok()) return InvalidArgument(path + ": " + node.error().message);
  return node;
}

}  // namespace gridhub::config::detail
