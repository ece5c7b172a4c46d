#include "node-agent/local_browsers.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace gridhub::node {

using nlohmann::json;

std::optional<std::string> FindOnPath(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + std::string(name);
    std::error_code ec;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate, ec)) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

const std::vector<std::string>& HeadlessChromiumArgs() {
  static const std::vector<std::string> kArgs = {"--headless",
                                                 "--no-sandbox",
                                                 "--disable-gpu",
                                                 "--disable-background-networking",
                                                 "--disable-component-update",
                                                 "--disable-sync",
                                                 "--no-first-run"};
  return kArgs;
}

namespace {

std::optional<std::string> FirstFound(
    const std::function<std::optional<std::string>(std::string_view)>& which,
    std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (auto path = which(name)) return path;
  }
  return std::nullopt;
}

void AddSlots(LocalBrowsers& out, const std::string& driver, const json& stereotype,
              unsigned cores) {
  for (unsigned i = 0; i < cores; ++i) {
    config::SlotConfig slot;
    slot.label = stereotype["browserName"].get<std::string>();
    slot.max_sessions = 1;
    slot.stereotype = stereotype;
    slot.driver = {driver};
    out.slots.push_back(std::move(slot));
  }
}

}  // namespace

LocalBrowsers DetectLocalBrowsers(
    const std::function<std::optional<std::string>(std::string_view)>& which, unsigned cores) {
  if (cores == 0) cores = 1;
  LocalBrowsers out;
  std::string slots = std::to_string(cores) + (cores == 1 ? " slot" : " slots");

  std::optional<std::string> chromedriver = which("chromedriver");
  std::optional<std::string> chrome =
      FirstFound(which, {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"});
  if (chromedriver && chrome) {
    json stereotype = {
        {"browserName", "chrome"},
        {"platformName", "linux"},
        {"goog:chromeOptions", {{"binary", *chrome}, {"args", HeadlessChromiumArgs()}}}};
    AddSlots(out, *chromedriver, stereotype, cores);
    out.found.push_back("chrome: " + *chromedriver + " + " + *chrome + " (headless, " + slots +
                        ")");
  } else {
    out.missing.push_back(std::string("chrome: ") +
                          (chromedriver ? "" : "no chromedriver on PATH") +
                          (!chromedriver && !chrome ? ", " : "") +
                          (chrome ? "" : "no chromium/google-chrome on PATH"));
  }

  std::optional<std::string> geckodriver = which("geckodriver");
  std::optional<std::string> firefox = FirstFound(which, {"firefox", "firefox-esr"});
  if (geckodriver && firefox) {
    json stereotype = {{"browserName", "firefox"},
                       {"platformName", "linux"},
                       {"moz:firefoxOptions", {{"binary", *firefox}, {"args", {"-headless"}}}}};
    AddSlots(out, *geckodriver, stereotype, cores);
    out.found.push_back("firefox: " + *geckodriver + " + " + *firefox + " (headless, " + slots +
                        ")");
  } else {
    out.missing.push_back(std::string("firefox: ") + (geckodriver ? "" : "no geckodriver on PATH") +
                          (!geckodriver && !firefox ? ", " : "") +
                          (firefox ? "" : "no firefox on PATH"));
  }
  return out;
}

}  // namespace gridhub::node
