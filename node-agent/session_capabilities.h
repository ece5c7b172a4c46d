#pragma once

// What the node does with a new session's capabilities before a driver sees them: the W3C
// processing and the merge over the slot's stereotype are matching/'s (the hub's own rules);
// what stays here is node-specific — dropping the hub's keys, a private Chromium profile, the
// body a driver is sent. Pure functions over JSON.
//
//   Result<matching::NewSessionSpec> spec = matching::ProcessNewSession(body);
//   nlohmann::json caps = DriverCapabilities(spec->candidates[0], stereotype);
//   PrepareForBrowser(caps, {.user_data_dir = "/tmp/gridhub-node/s1/profile", .as_root = true});
//   nlohmann::json driver_body = NewSessionBody(caps);

#include <nlohmann/json.hpp>
#include <string>

#include "matching/capabilities.h"
#include "matching/stereotype.h"

namespace gridhub::node {

// matching::CapabilitiesForNode (the candidate over the stereotype, vendor options merged key
// by key, `args` unioned) without the keys meant for the hub only (gridhub:*, se:*): drivers
// may reject what they do not know. Merging the hub's already merged capabilities again gives
// the same result, so a session through the hub and a direct one reach the driver alike.
nlohmann::json DriverCapabilities(const matching::Candidate& candidate,
                                  const matching::Stereotype& stereotype);

struct BrowserPreparation {
  std::string user_data_dir;  // a fresh, empty directory for this session
  bool as_root = false;       // Chromium's sandbox refuses to run as root
  std::string download_dir;   // managed downloads go here (absolute); "" = none
};
// For Chrome/Chromium (browserName chrome/chromium/MicrosoftEdge or any *:chromeOptions key):
// replaces any --user-data-dir argument with prep.user_data_dir, so concurrent sessions never
// share a profile, and adds --no-sandbox as root. With a download_dir, the browser saves there
// without asking: Chromium prefs download.default_directory, download.prompt_for_download false
// and savefile.default_directory; Firefox (browserName firefox or moz:firefoxOptions)
// browser.download.dir, browser.download.folderList 2 and browser.download.useDownloadDir.
// The client's other prefs are kept; these win over the client's.
void PrepareForBrowser(nlohmann::json& caps, const BrowserPreparation& prep);

// A driver's new-session answer `body` with `se:downloadsEnabled: true` in its capabilities,
// as Selenium's node answers (the bindings check it before a download call); `body` unchanged
// when it has no value.capabilities object.
std::string WithDownloadsEnabled(const std::string& body);

// {"capabilities": {"alwaysMatch": caps, "firstMatch": [{}]}}
nlohmann::json NewSessionBody(const nlohmann::json& caps);

}  // namespace gridhub::node
