#include "config/values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "common/text.h"
#include "config/yaml_json.h"
#include "matching/label_key.h"

namespace gridhub::config::detail {
namespace {

using nlohmann::json;

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Digits only: signs are decided by the caller so that "-5s" can say "negative".
std::optional<uint64_t> Digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

Problem Why(std::string why) { return Problem{std::move(why), "", std::nullopt}; }

Problem At(std::string path, const json& value, std::string why) {
  return Problem{std::move(why), std::move(path), value};
}

// What settings text may carry around a value (a YAML block scalar keeps its newline).
constexpr std::string_view kSpace = " \t\r\n";

}  // namespace

std::string_view Trim(std::string_view text) { return TrimBlanks(text, kSpace); }

std::optional<std::string> ScalarText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number_float()) return value.dump();
  return std::nullopt;
}

std::string_view KindName(const json& value) {
  if (value.is_null()) return "nothing";
  if (value.is_array()) return "a list";
  if (value.is_object()) return "a map";
  return "a scalar";
}

Result<Duration> DurationFromText(std::string_view raw) {
  std::string_view text = Trim(raw);
  if (text.empty()) return InvalidArgument("empty duration");
  if (text.front() == '-') return InvalidArgument("negative duration");
  if (text.front() == '+') text.remove_prefix(1);
  size_t unit_at = text.find_first_not_of("0123456789");
  std::string_view number = text.substr(0, unit_at);
  std::string_view unit = unit_at == std::string_view::npos ? "" : text.substr(unit_at);
  std::optional<uint64_t> n = Digits(number);
  if (!n) return InvalidArgument("not a duration (use 300, 300s, 500ms, 5m or 1h)");
  // Ten years is far beyond any timeout and keeps every conversion below clear of overflow.
  constexpr uint64_t kMaxSeconds = 10ull * 366 * 24 * 3600;
  uint64_t per_unit_ms = 0;
  if (unit.empty() || unit == "s") {
    per_unit_ms = 1000;
  } else if (unit == "ms") {
    per_unit_ms = 1;
  } else if (unit == "m") {
    per_unit_ms = 60'000;
  } else if (unit == "h") {
    per_unit_ms = 3'600'000;
  } else {
    return InvalidArgument("unknown duration unit '" + std::string(unit) + "' (use ms, s, m or h)");
  }
  if (*n > kMaxSeconds * 1000 / per_unit_ms)
    return InvalidArgument("duration too long (over 10 years)");
  return std::chrono::duration_cast<Duration>(std::chrono::milliseconds(*n * per_unit_ms));
}

Result<bool> BoolFromText(std::string_view raw) {
  std::string text = Lower(Trim(raw));
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  return InvalidArgument("not a boolean (use true/false, yes/no, on/off or 1/0)");
}

Result<int64_t> IntFromText(std::string_view raw) {
  std::string_view text = Trim(raw);
  bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  std::optional<uint64_t> n = Digits(text);
  if (!n) return InvalidArgument("not an integer");
  if (*n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("integer too large");
  }
  int64_t value = static_cast<int64_t>(*n);
  return negative ? -value : value;
}

Result<size_t> SizeFromText(std::string_view raw) {
  std::string_view text = Trim(raw);
  if (!text.empty() && text.front() == '-') return InvalidArgument("negative size");
  size_t unit_at = text.find_first_not_of("0123456789");
  std::optional<uint64_t> n = Digits(text.substr(0, unit_at));
  if (!n) return InvalidArgument("not a size (use bytes, or a number with K, M or G, e.g. 64M)");
  std::string unit = unit_at == std::string_view::npos ? "" : Lower(Trim(text.substr(unit_at)));
  // Binary multiples for every spelling: nobody sizes a request body in powers of ten.
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    shift = 30;
  } else {
    return InvalidArgument("unknown size unit '" + unit + "' (use K, M or G)");
  }
  // One bound on the bytes, whatever the spelling (64G and its byte count alike), far above
  // any body or upload and clear of overflow.
  constexpr uint64_t kMaxBytes = uint64_t{1} << 60;
  if (*n > (kMaxBytes >> shift)) return InvalidArgument("size too large");
  return static_cast<size_t>(*n << shift);
}

std::optional<std::string> HttpUrlProblem(std::string_view text) {
  Result<HttpUrl> url = ParseHttpUrl(text);
  if (url.ok()) return std::nullopt;
  return url.error().message;
}

bool IsHttpUrl(std::string_view text) { return !HttpUrlProblem(text); }

std::string RedactUserInfo(std::string_view text) {
  const size_t at = text.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  // A "://" after the last '@' is no scheme of this URL: all before the '@' is then hidden.
  const size_t scheme_end = text.substr(0, at).find("://");
  const size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const std::string_view user_info = text.substr(start, at - start);
  const size_t colon = user_info.find(':');
  std::string out(text.substr(0, start));
  if (colon != std::string_view::npos) out += std::string(user_info.substr(0, colon)) + ":";
  out += "<redacted>";
  out += text.substr(at);
  return out;
}

Parsed<std::map<std::string, int>> CapsFromJson(const json& value) {
  if (value.is_string() && Trim(value.get_ref<const std::string&>()).starts_with('{')) {
    // An environment variable or flag may carry the map form as JSON or flow YAML.
    Result<YAML::Node> node = ParseYaml(value.get_ref<const std::string&>());
    if (!node.ok()) return Why("malformed cap map: " + node.error().message);
    Result<json> map = YamlToJson(*node, Scalars::kText, "");
    if (!map.ok()) return Why("malformed cap map: " + map.error().message);
    // YAML may read the text as one scalar (a string starting with "{" again): only a map
    // goes round once more.
    if (!map->is_object()) return Why("malformed cap map: expected {label: N}");
    return CapsFromJson(*map);
  }
  std::vector<std::pair<std::string, json>> entries;
  if (value.is_object()) {
    for (const auto& [label, cap] : value.items()) entries.emplace_back(label, cap);
  } else if (value.is_string()) {
    // Empty entries (a trailing comma) are harmless.
    for (std::string_view entry : SplitTrimmed(value.get_ref<const std::string&>(), ',', kSpace)) {
      size_t eq = entry.find('=');
      if (eq == std::string_view::npos) {
        return Why("malformed cap list: entry \"" + std::string(entry) +
                   "\" is not label=N (e.g. AppA:Chromium:UAT=2,AppB:Firefox:UAT=1)");
      }
      entries.emplace_back(std::string(Trim(entry.substr(0, eq))),
                           json(std::string(Trim(entry.substr(eq + 1)))));
    }
  } else {
    return Why("wrong type: expected a map {label: N} or a string \"label=N,label=N\", got " +
               std::string(KindName(value)));
  }
  std::map<std::string, int> caps;
  for (const auto& [raw_label, cap] : entries) {
    std::string path = "[" + raw_label + "]";
    Result<std::string> label = NormalizeLabel(raw_label);
    if (!label.ok()) return At(path, raw_label, label.error().message);
    std::optional<std::string> text = ScalarText(cap);
    if (!text) return At(path, cap, "wrong type: expected an integer cap");
    Result<int64_t> n = IntFromText(*text);
    if (!n.ok()) return At(path, cap, "cap " + n.error().message);
    if (*n < 0) return At(path, cap, "negative cap");
    if (*n > std::numeric_limits<int>::max()) return At(path, cap, "cap too large");
    if (!caps.emplace(*label, static_cast<int>(*n)).second) {
      return At(path, cap, "label " + *label + " has two caps");
    }
  }
  return caps;
}

namespace {

constexpr std::string_view kSlotKeys[] = {"label",  "max-sessions", "stereotype",
                                          "driver", "relay",        "downloads"};

Parsed<std::vector<std::string>> DriverArgv(const json& value, const std::string& path) {
  std::vector<std::string> argv;
  if (value.is_string()) {
    // Split on spaces only: commands needing quoted arguments can use the list form.
    std::string_view text = value.get_ref<const std::string&>();
    size_t pos = 0;
    while (pos < text.size()) {
      size_t start = text.find_first_not_of(" \t", pos);
      if (start == std::string_view::npos) break;
      size_t end = text.find_first_of(" \t", start);
      if (end == std::string_view::npos) end = text.size();
      argv.emplace_back(text.substr(start, end - start));
      pos = end;
    }
  } else if (value.is_array()) {
    for (const json& arg : value) {
      std::optional<std::string> text = ScalarText(arg);
      if (!text) return At(path, value, "wrong type: driver arguments must be strings");
      argv.push_back(*text);
    }
  } else {
    return At(path, value, "wrong type: expected a command string or a list");
  }
  if (argv.empty()) return At(path, value, "empty driver command");
  return argv;
}

// The label rule of DESIGN §2: explicit label, else gridhub:label, else browserName.
Parsed<std::string> SlotLabel(const json& slot, const SlotConfig& parsed, const std::string& at) {
  json raw;
  std::string path = at;
  if (slot.contains("label")) {
    raw = slot["label"];
    path += ".label";
  } else if (parsed.stereotype.contains("gridhub:label")) {
    raw = parsed.stereotype["gridhub:label"];
    path += ".stereotype.gridhub:label";
  } else if (parsed.stereotype.contains("browserName")) {
    raw = parsed.stereotype["browserName"];
    path += ".stereotype.browserName";
  } else {
    return At(at, slot, "slot has no label, stereotype gridhub:label or browserName");
  }
  std::optional<std::string> text = ScalarText(raw);
  if (!text) return At(path, raw, "wrong type: expected a label string");
  if (path.ends_with(".browserName")) return matching::LabelKey::FromBrowserName(*text).str();
  Result<std::string> label = NormalizeLabel(*text);
  if (!label.ok()) return At(path, raw, label.error().message);
  return *label;
}

// `downloads: true` on a driver slot: managed downloads, announced in the stereotype as
// `se:downloadsEnabled: true` so that the hub matches requests asking for them. A relay's server
// manages (or not) its own downloads: its stereotype says so itself. Null when fine.
std::optional<Problem> SlotDownloads(const json& slot, const std::string& at, SlotConfig& parsed) {
  constexpr const char* kKey = "se:downloadsEnabled";
  if (slot.contains("downloads")) {
    const json& raw = slot["downloads"];
    std::optional<std::string> text = ScalarText(raw);
    Result<bool> on = text ? BoolFromText(*text) : Result<bool>(InvalidArgument("wrong type"));
    if (!on.ok()) {
      return At(at + ".downloads", raw, on.error().message);
    }
    parsed.downloads = *on;
  }
  const json* stated = parsed.stereotype.contains(kKey) ? &parsed.stereotype[kKey] : nullptr;
  bool stated_on = stated != nullptr && (*stated == json(true) || *stated == json("true"));
  if (!parsed.relay.empty()) {
    if (parsed.downloads) {
      return At(
          at + ".downloads", slot["downloads"],
          "not for a relay slot: the relayed server keeps the files (if it manages downloads, "
          "put se:downloadsEnabled: true in the stereotype)");
    }
    return std::nullopt;
  }
  if (stated != nullptr && !slot.contains("downloads")) parsed.downloads = stated_on;
  if (stated != nullptr && stated_on != parsed.downloads) {
    return At(at + ".stereotype.se:downloadsEnabled", *stated,
              "contradicts the slot's downloads setting");
  }
  if (parsed.downloads) {
    parsed.stereotype[kKey] = true;
  } else {
    parsed.stereotype.erase(kKey);
  }
  return std::nullopt;
}

Parsed<SlotConfig> SlotFromJson(const json& slot, size_t index) {
  std::string at = "[" + std::to_string(index) + "]";
  if (!slot.is_object()) {
    return At(at, slot, "wrong type: a slot is a map, got " + std::string(KindName(slot)));
  }
  for (const auto& [key, value] : slot.items()) {
    if (std::find(std::begin(kSlotKeys), std::end(kSlotKeys), key) == std::end(kSlotKeys)) {
      std::string path = at;
      path += "." + key;
      return At(std::move(path), value,
                "unknown key (slots have label, max-sessions, stereotype, driver, relay, "
                "downloads)");
    }
  }
  SlotConfig parsed;
  if (slot.contains("stereotype")) {
    const json& stereotype = slot["stereotype"];
    if (!stereotype.is_object()) {
      return At(at + ".stereotype", stereotype, "wrong type: expected a map of capabilities");
    }
    parsed.stereotype = stereotype;
  }
  if (slot.contains("max-sessions")) {
    const json& raw = slot["max-sessions"];
    std::optional<std::string> text = ScalarText(raw);
    Result<int64_t> n = text ? IntFromText(*text) : Result<int64_t>(InvalidArgument("wrong type"));
    if (!n.ok()) return At(at + ".max-sessions", raw, n.error().message + ": expected an integer");
    if (*n < 1 || *n > 10'000) return At(at + ".max-sessions", raw, "must be 1 to 10000");
    parsed.max_sessions = static_cast<int>(*n);
  }
  Parsed<std::string> label = SlotLabel(slot, parsed, at);
  if (auto* p = std::get_if<Problem>(&label)) return std::move(*p);
  parsed.label = std::get<std::string>(std::move(label));

  bool has_driver = slot.contains("driver");
  bool has_relay = slot.contains("relay");
  if (has_driver == has_relay) {
    return At(at, slot, "a slot needs exactly one of driver and relay");
  }
  if (has_driver) {
    auto argv = DriverArgv(slot["driver"], at + ".driver");
    if (auto* p = std::get_if<Problem>(&argv)) return std::move(*p);
    parsed.driver = std::get<std::vector<std::string>>(std::move(argv));
  } else {
    const json& raw = slot["relay"];
    std::optional<std::string> url = ScalarText(raw);
    if (!url) return At(at + ".relay", raw, "not an http:// or https:// URL");
    if (std::optional<std::string> why = HttpUrlProblem(*url)) return At(at + ".relay", raw, *why);
    parsed.relay = *url;
  }
  if (std::optional<Problem> p = SlotDownloads(slot, at, parsed)) return std::move(*p);
  return parsed;
}

}  // namespace

Parsed<std::vector<SlotConfig>> SlotsFromJson(const json& value) {
  json list = value;
  if (value.is_string()) {
    // Environment and flags carry the list as YAML or JSON text.
    Result<YAML::Node> node = ParseYaml(value.get_ref<const std::string&>());
    if (!node.ok()) return Why(node.error().message);
    Result<json> converted = YamlToJson(*node, Scalars::kTyped, "");
    if (!converted.ok()) return Why(converted.error().message);
    list = std::move(*converted);
  }
  if (list.is_null()) return std::vector<SlotConfig>{};
  if (!list.is_array()) {
    return Why("wrong type: expected a list of slots, got " + std::string(KindName(list)));
  }
  std::vector<SlotConfig> slots;
  for (size_t i = 0; i < list.size(); ++i) {
    Parsed<SlotConfig> slot = SlotFromJson(list[i], i);
    if (auto* p = std::get_if<Problem>(&slot)) return std::move(*p);
    slots.push_back(std::get<SlotConfig>(std::move(slot)));
  }
  return slots;
}

}  // namespace gridhub::config::detail

namespace gridhub::config {

namespace {

// The port after ':' in an authority: 1 to 65535 in decimal digits.
Result<uint16_t> PortFromText(std::string_view text) {
  if (text.empty()) return Error{ErrorCode::kInvalidArgument, "URL has an empty port"};
  std::optional<uint64_t> n = text.size() <= 5 ? detail::Digits(text) : std::nullopt;
  if (!n) return Error{ErrorCode::kInvalidArgument, "URL port is not a number"};
  if (*n < 1 || *n > 65535) {
    return Error{ErrorCode::kInvalidArgument, "URL port out of range (1-65535)"};
  }
  return static_cast<uint16_t>(*n);
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view text) {
  auto invalid = [](std::string why) { return Error{ErrorCode::kInvalidArgument, std::move(why)}; };
  HttpUrl url;
  size_t scheme_end = text.find("://");
  url.scheme = scheme_end == std::string_view::npos ? "" : std::string(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return invalid("not an http:// or https:// URL");
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return invalid("URL contains a space or control character");
    }
  }
  std::string_view rest = text.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  url.rest = authority_end == std::string_view::npos ? "" : std::string(rest.substr(authority_end));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    url.user_info = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("URL has an unclosed [IPv6] host");
    host = authority.substr(1, close - 1);
    url.ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':'))
      return invalid("URL has junk after its [IPv6] host");
    if (!after.empty()) port = after.substr(1);
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return invalid("URL has no host");
  if (!url.ipv6 && host.find(':') != std::string_view::npos) {
    return invalid("URL has an IPv6 host without [brackets]");
  }
  url.host = std::string(host);
  if (port) {
    Result<uint16_t> number = PortFromText(*port);
    if (!number.ok()) return number.error();
    url.port = *number;
    url.explicit_port = true;
  } else {
    url.port = url.scheme == "https" ? 443 : 80;
  }
  return url;
}

Result<Duration> ParseDuration(std::string_view text) {
  Result<Duration> d = detail::DurationFromText(text);
  if (!d.ok()) {
    return Error{ErrorCode::kInvalidArgument,
                 "\"" + std::string(text) + "\": " + d.error().message};
  }
  return d;
}

Result<std::string> NormalizeLabel(std::string_view text) {
  // One parser for every label in gridhub, so cap keys compare equal to request labels.
  Result<matching::LabelKey> key = matching::LabelKey::Parse(text);
  if (!key.ok()) return key.error();
  return key->str();
}

}  // namespace gridhub::config
