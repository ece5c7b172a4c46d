#include "node-agent/session_capabilities.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "matching/slot_matcher.h"

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

bool IsHubOnly(std::string_view key) {
  return StartsWith(key, "gridhub:") || StartsWith(key, "se:");
}

// A request string value, or "" when absent/null/not a string.
std::string StringOf(const json& caps, const char* key) {
  auto it = caps.find(key);
  if (it == caps.end() || !it->is_string()) return "";
  return it->get<std::string>();
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

json DriverCapabilities(const matching::Candidate& candidate,
                        const matching::Stereotype& stereotype) {
  json out = matching::CapabilitiesForNode(candidate, stereotype);
  for (auto it = out.begin(); it != out.end();) {
    it = IsHubOnly(it.key()) ? out.erase(it) : std::next(it);
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
