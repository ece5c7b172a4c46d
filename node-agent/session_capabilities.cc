#include "node-agent/session_capabilities.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

namespace gridhub::node {
namespace {

using nlohmann::json;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsVendorOptions(std::string_view key) {
  return StartsWith(key, "goog:") || StartsWith(key, "moz:") || StartsWith(key, "ms:") ||
         StartsWith(key, "safari:") || key.find("options") != std::string_view::npos ||
         key.find("Options") != std::string_view::npos;
}

bool IsHubOnly(std::string_view key) {
  return StartsWith(key, "gridhub:") || StartsWith(key, "se:");
}

// A request string value, or "" when absent/null/not a string.
std::string StringOf(const json& caps, const char* key) {
  auto it = caps.find(key);
  if (it == caps.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

bool VersionMatches(std::string_view wanted, std::string_view offered) {
  if (wanted.empty() || wanted == "stable" || wanted == "latest") return true;
  if (!StartsWith(offered, wanted)) return false;
  // "156" fits "156.0.1"; "156.0.1" does not fit "156.0.12".
  return offered.size() == wanted.size() || offered[wanted.size()] == '.';
}

json MergeArgs(const json& base, const json& extra) {
  json out = json::array();
  // A set, not a search of `out`: a request may carry a long args list.
  std::set<json> seen;
  auto add = [&out, &seen](const json& v) {
    if (seen.insert(v).second) out.push_back(v);
  };
  for (const json& v : base) add(v);
  for (const json& v : extra) add(v);
  return out;
}

json MergeVendorOptions(const json& stereotype_value, const json& request_value) {
  if (!stereotype_value.is_object() || !request_value.is_object()) return request_value;
  json out = stereotype_value;
  for (auto it = request_value.begin(); it != request_value.end(); ++it) {
    if (it.key() == "args" && it.value().is_array() && out.contains("args") &&
        out["args"].is_array()) {
      out["args"] = MergeArgs(out["args"], it.value());
    } else {
      out[it.key()] = it.value();
    }
  }
  return out;
}

bool IsChromium(const json& caps) {
  std::string browser = Lower(StringOf(caps, "browserName"));
  if (browser == "chrome" || browser == "chromium" || browser == "microsoftedge" ||
      browser == "msedge") {
    return true;
  }
  for (auto it = caps.begin(); it != caps.end(); ++it) {
    if (it.key().size() > 13 && it.key().ends_with(":chromeOptions")) return true;
  }
  return caps.contains("goog:chromeOptions") || caps.contains("ms:edgeOptions");
}

}  // namespace

Result<std::vector<json>> CandidatesFromBody(const json& body) {
  if (!body.is_object() || !body.contains("capabilities") || !body["capabilities"].is_object()) {
    return Error{ErrorCode::kInvalidArgument, "capabilities must be a JSON object"};
  }
  const json& caps = body["capabilities"];
  json always = json::object();
  if (auto it = caps.find("alwaysMatch"); it != caps.end() && !it->is_null()) {
    if (!it->is_object()) {
      return Error{ErrorCode::kInvalidArgument, "alwaysMatch must be a JSON object"};
    }
    always = *it;
  }
  json first = json::array({json::object()});
  if (auto it = caps.find("firstMatch"); it != caps.end() && !it->is_null()) {
    if (!it->is_array() || it->empty()) {
      return Error{ErrorCode::kInvalidArgument, "firstMatch must be a non-empty JSON array"};
    }
    if (it->size() > kMaxFirstMatch) {
      return Error{ErrorCode::kInvalidArgument,
                   "firstMatch has more than " + std::to_string(kMaxFirstMatch) + " entries"};
    }
    first = *it;
  }
  // Each candidate is a copy of alwaysMatch: bound what the copies add up to.
  if (first.size() > 1 &&
      always.dump(-1, ' ', false, json::error_handler_t::replace).size() * first.size() >
          kMaxCandidateBytes) {
    return Error{ErrorCode::kInvalidArgument,
                 "alwaysMatch repeated into " + std::to_string(first.size()) +
                     " firstMatch entries is over " + std::to_string(kMaxCandidateBytes >> 20) +
                     " MiB"};
  }
  std::vector<json> candidates;
  for (const json& entry : first) {
    if (!entry.is_object()) {
      return Error{ErrorCode::kInvalidArgument, "firstMatch entries must be JSON objects"};
    }
    json merged = always;
    for (auto it = entry.begin(); it != entry.end(); ++it) merged[it.key()] = it.value();
    // null counts as absent (W3C).
    for (auto it = merged.begin(); it != merged.end();) {
      it = it.value().is_null() ? merged.erase(it) : std::next(it);
    }
    candidates.push_back(std::move(merged));
  }
  return candidates;
}

bool StereotypeServes(const json& stereotype, const json& candidate) {
  std::string browser = StringOf(candidate, "browserName");
  if (!browser.empty() && Lower(browser) != Lower(StringOf(stereotype, "browserName"))) {
    return false;
  }
  if (!VersionMatches(StringOf(candidate, "browserVersion"),
                      StringOf(stereotype, "browserVersion"))) {
    return false;
  }
  std::string platform = Lower(StringOf(candidate, "platformName"));
  if (!platform.empty() && platform != "any") {
    std::string offered = Lower(StringOf(stereotype, "platformName"));
    // A node that declares no platform serves any (it is wherever it runs).
    if (!offered.empty() && offered != platform && !StartsWith(offered, platform)) return false;
  }
  return true;
}

bool CarriesStereotype(const json& stereotype, const json& candidate) {
  if (!stereotype.is_object() || !candidate.is_object()) return false;
  for (auto it = stereotype.begin(); it != stereotype.end(); ++it) {
    if (IsHubOnly(it.key())) continue;
    auto found = candidate.find(it.key());
    if (found == candidate.end()) return false;
    if (IsVendorOptions(it.key())) {
      // Merged options keep the stereotype's binary; its args may have grown.
      if (it->is_object() && found->is_object() && it->contains("binary") &&
          found->value("binary", json()) != (*it)["binary"]) {
        return false;
      }
    } else if (*found != *it) {
      return false;
    }
  }
  return true;
}

std::optional<SlotMatch> FirstServingSlot(const std::vector<json>& candidates,
                                          const std::vector<json>& stereotypes,
                                          const std::function<bool(size_t)>& has_room) {
  // The hub sends its chosen stereotype merged into the request: a slot whose stereotype the
  // candidate carries whole is the one the hub picked (or one just like it).
  for (size_t c = 0; c < candidates.size(); ++c) {
    for (size_t s = 0; s < stereotypes.size(); ++s) {
      if (CarriesStereotype(stereotypes[s], candidates[c]) && has_room(s)) return SlotMatch{s, c};
    }
  }
  for (size_t c = 0; c < candidates.size(); ++c) {
    for (size_t s = 0; s < stereotypes.size(); ++s) {
      if (StereotypeServes(stereotypes[s], candidates[c]) && has_room(s)) return SlotMatch{s, c};
    }
  }
  return std::nullopt;
}

json MergeOverStereotype(const json& request, const json& stereotype) {
  json out = json::object();
  if (stereotype.is_object()) out = stereotype;
  if (request.is_object()) {
    for (auto it = request.begin(); it != request.end(); ++it) {
      if (IsVendorOptions(it.key()) && out.contains(it.key())) {
        out[it.key()] = MergeVendorOptions(out[it.key()], it.value());
      } else {
        out[it.key()] = it.value();
      }
    }
  }
  for (auto it = out.begin(); it != out.end();) {
    it = (IsHubOnly(it.key()) || it.value().is_null()) ? out.erase(it) : std::next(it);
  }
  return out;
}

void PrepareForBrowser(json& caps, const BrowserPreparation& prep) {
  if (!IsChromium(caps)) return;
  const char* key = caps.contains("ms:edgeOptions") && !caps.contains("goog:chromeOptions")
                        ? "ms:edgeOptions"
                        : "goog:chromeOptions";
  json& options = caps[key];
  if (!options.is_object()) options = json::object();
  json& args = options["args"];
  if (!args.is_array()) args = json::array();
  json kept = json::array();
  for (const json& a : args) {
    if (a.is_string() && StartsWith(a.get<std::string>(), "--user-data-dir")) continue;
    kept.push_back(a);
  }
  kept.push_back("--user-data-dir=" + prep.user_data_dir);
  if (prep.as_root && std::find(kept.begin(), kept.end(), json("--no-sandbox")) == kept.end()) {
    kept.push_back("--no-sandbox");
  }
  args = std::move(kept);
}

json NewSessionBody(const json& caps) {
  return json{
      {"capabilities", {{"alwaysMatch", caps}, {"firstMatch", json::array({json::object()})}}}};
}

}  // namespace gridhub::node
