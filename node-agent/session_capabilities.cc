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

bool IsFirefox(const json& caps) {
  return Lower(StringOf(caps, "browserName")) == "firefox" || caps.contains("moz:firefoxOptions");
}

// `options[key]` as an object, made one if absent or of another type.
json& ObjectAt(json& options, const char* key) {
  json& value = options[key];
  if (!value.is_object()) value = json::object();
  return value;
}

// Chromium reads prefs both dotted and nested ({"download": {"default_directory": ...}}): the
// node's dotted ones must not lose to a nested copy of the client's.
void SetChromiumPref(json& prefs, const std::string& dotted, json value) {
  size_t dot = dotted.find('.');
  if (auto nested = prefs.find(dotted.substr(0, dot));
      nested != prefs.end() && nested->is_object()) {
    nested->erase(dotted.substr(dot + 1));
  }
  prefs[dotted] = std::move(value);
}

void PrepareChromium(json& options, const BrowserPreparation& prep) {
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
  if (prep.download_dir.empty()) return;
  json& prefs = ObjectAt(options, "prefs");
  SetChromiumPref(prefs, "download.default_directory", prep.download_dir);
  SetChromiumPref(prefs, "download.prompt_for_download", false);
  SetChromiumPref(prefs, "savefile.default_directory", prep.download_dir);
}

void PrepareFirefox(json& caps, const BrowserPreparation& prep) {
  if (prep.download_dir.empty()) return;
  json& prefs = ObjectAt(ObjectAt(caps, "moz:firefoxOptions"), "prefs");
  prefs["browser.download.dir"] = prep.download_dir;
  prefs["browser.download.folderList"] = 2;
  prefs["browser.download.useDownloadDir"] = true;
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
  if (IsChromium(caps)) {
    const char* key = caps.contains("ms:edgeOptions") && !caps.contains("goog:chromeOptions")
                          ? "ms:edgeOptions"
                          : "goog:chromeOptions";
    PrepareChromium(ObjectAt(caps, key), prep);
  } else if (IsFirefox(caps)) {
    PrepareFirefox(caps, prep);
  }
}

std::string WithDownloadsEnabled(const std::string& body) {
  json answer = json::parse(body, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) return body;
  auto value = answer.find("value");
  if (value == answer.end() || !value->is_object()) return body;
  auto caps = value->find("capabilities");
  if (caps == value->end() || !caps->is_object()) return body;
  (*caps)["se:downloadsEnabled"] = true;
  return answer.dump(-1, ' ', false, json::error_handler_t::replace);
}

json NewSessionBody(const json& caps) {
  return json{
      {"capabilities", {{"alwaysMatch", caps}, {"firstMatch", json::array({json::object()})}}}};
}

}  // namespace gridhub::node
