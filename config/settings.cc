#include "config/settings.h"

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <thread>

#include "config/keys.h"
#include "config/values.h"
#include "config/yaml_json.h"

extern char** environ;  // POSIX; read only when LoadOptions::environ is null

namespace gridhub::config {
namespace {

using detail::FindKey;
using detail::KeySpec;
using detail::Problem;
using nlohmann::json;

// One value on its way into Settings, remembering where it came from for the error line.
struct Entry {
  const KeySpec* spec;
  json value;
  Source source;
  std::string origin;  // "file hub.yaml line 12", "env GRIDHUB_QUEUE_TIMEOUT", "flag --port"
};

std::string Dotted(std::string_view section, std::string_view key) {
  std::string out(section);
  out += '.';
  out += key;
  return out;
}

std::string ShowValue(const json& value) {
  constexpr size_t kMaxShown = 120;
  std::string text = value.dump();
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

// The one-line error format: key, value, why, and where the value came from.
Error ValueError(std::string_view key, const json& value, const Problem& problem,
                 std::string_view origin) {
  // A token given with the wrong type is still a token: the line names the key, not the value.
  const KeySpec* spec = FindKey(key);
  const bool secret = spec != nullptr && spec->secrecy == detail::Secrecy::kSecret;
  json shown = problem.value.value_or(value);
  if (spec != nullptr && spec->redact) shown = spec->redact(shown);
  std::string line = std::string(key) + problem.path + " = " +
                     (secret ? "<redacted>" : ShowValue(shown)) + ": " + problem.why;
  if (!origin.empty()) line += " (" + std::string(origin) + ")";
  return InvalidArgument(std::move(line));
}

Settings Defaults(Mode mode) {
  Settings settings;
  if (mode == Mode::kNode) settings.server.port = 5555;
  for (const KeySpec& spec : detail::Keys()) settings.sources[spec.name] = Source::kDefault;
  return settings;
}

std::string JoinSections() {
  std::string out;
  for (const std::string& s : detail::Sections()) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Walks sections and keys by hand (not through YamlToJson) to keep each key's line number.
Status ReadSection(const std::string& file, const std::string& section, const YAML::Node& body,
                   std::vector<Entry>& out) {
  if (body.IsNull()) return Status::Ok();  // "queue:" with nothing under it
  if (!body.IsMap()) {
    return InvalidArgument(section + ": wrong type: a section is a map of keys (file " + file +
                           ")");
  }
  std::vector<std::string> seen;
  for (const auto& item : body) {
    std::string key = item.first.IsScalar() ? item.first.Scalar() : "?";
    std::string name = Dotted(section, key);
    std::string origin = "file " + file + " line " + std::to_string(item.first.Mark().line + 1);
    const KeySpec* spec = FindKey(name);
    detail::Scalars scalars = spec != nullptr && spec->shape == detail::Shape::kStructured
                                  ? detail::Scalars::kTyped
                                  : detail::Scalars::kText;
    Result<json> value = detail::YamlToJson(item.second, scalars, name);
    if (!value.ok()) return InvalidArgument(value.error().message + " (file " + file + ")");
    if (spec == nullptr) {
      return ValueError(name, *value, Problem{"unknown key", "", std::nullopt}, origin);
    }
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return ValueError(name, *value, Problem{"duplicate key", "", std::nullopt}, origin);
    }
    seen.push_back(key);
    out.push_back(Entry{spec, std::move(*value), Source::kFile, origin});
  }
  return Status::Ok();
}

Status ReadFile(const std::string& file, Mode& mode, std::vector<Entry>& out) {
  Result<YAML::Node> root = detail::LoadYamlFile(file);
  if (!root.ok()) return root.error();
  if (root->IsNull()) return Status::Ok();  // an empty file means "all defaults"
  if (!root->IsMap()) {
    return InvalidArgument(file + ": wrong type: the top level is a map of sections (" +
                           JoinSections() + ")");
  }
  bool has_node = false;
  bool has_hub = false;
  std::vector<std::string> seen;
  for (const auto& item : *root) {
    std::string section = item.first.IsScalar() ? item.first.Scalar() : "?";
    const auto& known = detail::Sections();
    if (std::find(known.begin(), known.end(), section) == known.end()) {
      std::string line = section;
      line += ": unknown section (file " + file;
      line += " line " + std::to_string(item.first.Mark().line + 1);
      line += "; sections are " + JoinSections() + ")";
      return InvalidArgument(std::move(line));
    }
    if (std::find(seen.begin(), seen.end(), section) != seen.end()) {
      return InvalidArgument(section + ": duplicate section (file " + std::string(file) + ")");
    }
    seen.push_back(section);
    has_node |= section == "node";
    has_hub |= section == "hub" || section == "queue" || section == "matching";
    Status status = ReadSection(file, section, item.second, out);
    if (!status.ok()) return status;
  }
  // check-config of a node file should show the node's default port, not the hub's.
  if (mode == Mode::kCheck && has_node && !has_hub) mode = Mode::kNode;
  return Status::Ok();
}

void ReadEnv(const char* const* env, std::vector<Entry>& out) {
  std::map<std::string, std::string, std::less<>> vars;
  for (const char* const* p = env; p != nullptr && *p != nullptr; ++p) {
    std::string_view entry(*p);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    vars.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  for (const KeySpec& spec : detail::Keys()) {
    // The GRIDHUB_ name wins over the seed hub's alias; empty values count as unset so that
    // `FOO=` in a compose file does not fail start-up.
    for (const std::string& name : {detail::EnvName(spec.name), spec.alias}) {
      auto it = name.empty() ? vars.end() : vars.find(name);
      if (it == vars.end() || it->second.empty()) continue;
      out.push_back(Entry{&spec, json(it->second), Source::kEnv, "env " + name});
      break;
    }
  }
}

const KeySpec* FlagKey(std::string_view name) {
  if (name == "port") return FindKey("server.port");
  if (name == "host") return FindKey("server.host");
  return FindKey(name);
}

Status ReadFlags(const std::vector<std::string>& flags, std::vector<Entry>& out) {
  for (size_t i = 0; i < flags.size(); ++i) {
    std::string_view arg = flags[i];
    if (arg.substr(0, 2) != "--") {
      return InvalidArgument(std::string(arg) +
                             ": unexpected argument (flags are --section.key VALUE)");
    }
    std::string_view body = arg.substr(2);
    size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    const KeySpec* spec = FlagKey(name);
    if (spec == nullptr) {
      return InvalidArgument("--" + std::string(name) + ": unknown flag (see --help)");
    }
    std::string origin = "flag --" + std::string(name);
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (i + 1 < flags.size() && (spec->flag_value == detail::FlagValue::kRequired ||
                                        std::string_view(flags[i + 1]).substr(0, 2) != "--")) {
      value = flags[++i];
    } else if (spec->flag_value == detail::FlagValue::kOptional) {
      value = "true";  // a bare boolean flag switches it on
    } else {
      return InvalidArgument("--" + std::string(name) + ": missing value");
    }
    out.push_back(Entry{spec, json(std::move(value)), Source::kFlag, origin});
  }
  return Status::Ok();
}

Status Apply(const std::vector<Entry>& entries, Settings& settings) {
  for (const Entry& entry : entries) {
    std::optional<Problem> problem = entry.spec->apply(entry.value, settings);
    if (problem) return ValueError(entry.spec->name, entry.value, *problem, entry.origin);
    settings.sources[entry.spec->name] = entry.source;
  }
  return Status::Ok();
}

// The key names of one patch section, checked before anything is applied.
Status CheckPatchSection(const std::string& section, const json& body) {
  if (!body.is_object()) {
    return ValueError(section, body, Problem{"wrong type: expected a map of keys", "", {}}, "");
  }
  for (const auto& [key, value] : body.items()) {
    std::string name = Dotted(section, key);
    const KeySpec* spec = FindKey(name);
    if (spec == nullptr) return ValueError(name, value, Problem{"unknown key", "", {}}, "");
    if (spec->runtime != detail::Runtime::kAdmin) {
      return ValueError(name, value, Problem{"cannot be changed at run time", "", {}}, "");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Settings> LoadSettings(const LoadOptions& options) {
  Mode mode = options.mode;
  std::vector<Entry> entries;
  if (options.file) {
    Status status = ReadFile(*options.file, mode, entries);
    if (!status.ok()) return status.error();
  }
  ReadEnv(options.environ != nullptr ? options.environ : environ, entries);
  Status flags = ReadFlags(options.flags, entries);
  if (!flags.ok()) return flags.error();
  Settings settings = Defaults(mode);
  // File, then environment, then flags: later entries overwrite earlier ones.
  Status applied = Apply(entries, settings);
  if (!applied.ok()) return applied.error();
  return settings;
}

Result<Settings> ApplyAdminPatch(const Settings& current, const json& patch) {
  if (!patch.is_object()) {
    return InvalidArgument("config patch = " + ShowValue(patch) +
                           ": wrong type: expected a map of sections (queue, matching, hub)");
  }
  std::vector<Entry> entries;
  for (const auto& [section, body] : patch.items()) {
    Status status = CheckPatchSection(section, body);
    if (!status.ok()) return status.error();
    for (const auto& [key, value] : body.items()) {
      entries.push_back(Entry{FindKey(Dotted(section, key)), value, Source::kDefault, ""});
    }
  }
  // Applied to a copy: the first bad value returns before `current` could see any change.
  Settings next = current;
  for (const Entry& entry : entries) {
    std::optional<Problem> problem = entry.spec->apply(entry.value, next);
    if (problem) return ValueError(entry.spec->name, entry.value, *problem, "");
  }
  return next;
}

json AdminPatchOf(const Settings& settings) {
  json patch = json::object();
  for (const KeySpec& spec : detail::Keys()) {
    if (spec.runtime != detail::Runtime::kAdmin) continue;
    size_t dot = spec.name.find('.');
    patch[spec.name.substr(0, dot)][spec.name.substr(dot + 1)] = spec.get(settings);
  }
  return patch;
}

std::string FormatDuration(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kDefault:
      return "default";
    case Source::kFile:
      return "file";
    case Source::kEnv:
      return "env";
    case Source::kFlag:
      return "flag";
  }
  return "default";
}

std::string_view SlotSelectionName(SlotSelection selection) {
  return selection == SlotSelection::kPack ? "pack" : "spread";
}

json ToJson(const Settings& settings, Tokens tokens) {
  json out = json::object();
  for (const std::string& section : detail::Sections()) out[section] = json::object();
  for (const KeySpec& spec : detail::Keys()) {
    size_t dot = spec.name.find('.');
    json value = spec.get(settings);
    if (tokens == Tokens::kRedact && spec.secrecy == detail::Secrecy::kSecret &&
        !value.get_ref<const std::string&>().empty()) {
      value = "<redacted>";
    }
    if (tokens == Tokens::kRedact && spec.redact) value = spec.redact(value);
    out[spec.name.substr(0, dot)][spec.name.substr(dot + 1)] = std::move(value);
  }
  return out;
}

json ToJson(const Settings& settings, bool redact_tokens) {
  return ToJson(settings, redact_tokens ? Tokens::kRedact : Tokens::kShow);
}

std::string Describe(const Settings& settings) {
  json values = ToJson(settings, Tokens::kRedact);
  std::ostringstream out;
  for (const KeySpec& spec : detail::Keys()) {
    size_t dot = spec.name.find('.');
    const json& value = values[spec.name.substr(0, dot)][spec.name.substr(dot + 1)];
    auto source = settings.sources.find(spec.name);
    std::string line = spec.name + " = " + (spec.name == "node.slots" ? "" : value.dump());
    if (spec.name == "node.slots") line += std::to_string(value.size()) + " slot(s)";
    out << std::left << std::setw(48) << line << " ("
        << SourceName(source == settings.sources.end() ? Source::kDefault : source->second)
        << ")\n";
    if (spec.name == "node.slots") {
      for (const json& slot : value) out << "  - " << slot.dump() << "\n";
    }
  }
  return out.str();
}

std::string FlagsHelp(Mode mode) {
  Settings defaults = Defaults(mode);
  std::ostringstream out;
  out << "flags (precedence: defaults < YAML file < environment < flags):\n"
      << "  --config FILE                       YAML file to read\n"
      << "  --port PORT, --host ADDRESS         shorthands for --server.port, --server.host\n"
      << "  --help                              this text\n";
  for (const KeySpec& spec : detail::Keys()) {
    std::string flag = "--" + spec.name + " " + spec.value_kind;
    std::string env = detail::EnvName(spec.name);
    if (!spec.alias.empty()) env += " or " + spec.alias;
    out << "  " << std::left << std::setw(36) << flag << spec.help << "\n"
        << std::setw(38) << ""
        << "default " << spec.get(defaults).dump() << "; env " << env << "\n";
  }
  return out.str();
}

int EffectiveThreads(const ServerSettings& server) {
  int threads = server.threads;
  if (threads == 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(threads, 2);
}

CommandLine SplitCommandLine(int argc, const char* const* argv) {
  CommandLine line;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      line.help = true;
    } else if (arg == "--config" && i + 1 < argc) {
      line.config_file = argv[++i];
    } else if (arg.substr(0, 9) == "--config=") {
      line.config_file = std::string(arg.substr(9));
    } else {
      line.flags.emplace_back(arg);
    }
  }
  return line;
}

}  // namespace gridhub::config
