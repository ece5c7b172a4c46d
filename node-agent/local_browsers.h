#pragma once

// What `gridhub standalone` offers when no slots are configured: the WebDriver + browser pairs
// found on PATH, one slot per CPU core each, with stereotypes that run headless.
//
//   LocalBrowsers found = DetectLocalBrowsers(FindOnPath, std::thread::hardware_concurrency());
//   settings.node.slots = found.slots;
//   puts(found.summary.c_str());   // "chrome: /usr/bin/chromedriver + /usr/bin/chromium ..."

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"

namespace gridhub::node {

// The absolute path of an executable `name` on $PATH, or nullopt.
std::optional<std::string> FindOnPath(std::string_view name);

struct LocalBrowsers {
  std::vector<config::SlotConfig> slots;
  std::vector<std::string> found;    // one human line per browser offered
  std::vector<std::string> missing;  // one human line per browser not offered, and why
};

// Looks for chromedriver with chromium / chromium-browser / google-chrome / google-chrome-stable
// (browserName chrome, headless Chromium args) and geckodriver with firefox / firefox-esr
// (browserName firefox, -headless). browserVersion is not set here: FillBrowserVersions
// (browser_version.h) adds it from the binary's --version. `which` resolves a program name to its
// path; `cores` (at least 1) is how many slots of max-sessions 1 each browser gets.
LocalBrowsers DetectLocalBrowsers(
    const std::function<std::optional<std::string>(std::string_view)>& which, unsigned cores);

// The arguments every detected Chromium gets: headless and quiet on a server.
const std::vector<std::string>& HeadlessChromiumArgs();

}  // namespace gridhub::node
