#pragma once

// The version of an installed browser, for the `browserVersion` of a stereotype: Selenium's
// standalone advertises it, and a client asking for `browserVersion: "156"` must find the
// Chromium 156 that is there.
//
//   std::optional<std::string> v = ProbeBrowserVersion("/usr/bin/chromium", 10s);
//   // "156.0.8078.108", from "Chromium 156.0.8078.108 built on Debian ..."
//   std::vector<std::string> lines = FillBrowserVersions(settings.node.slots, ProbeWithTimeout);

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/settings.h"

namespace gridhub::node {

// The first dotted number in the output of `<browser> --version`, without a letter suffix:
// "Chromium 156.0.8078.108 built on Debian GNU/Linux 12" -> "156.0.8078.108",
// "Mozilla Firefox 115.3.0esr" -> "115.3.0". nullopt when there is none (an undotted number is
// too likely to be something else, such as the "12" of Debian 12).
std::optional<std::string> ParseBrowserVersion(std::string_view version_output);

// Runs `binary --version` (in its own process group, stdin and stderr to /dev/null, no
// inherited descriptors) and parses its stdout. Gives up, killing the group, after `timeout`;
// nullopt when the program cannot start, fails, prints no version or takes too long.
std::optional<std::string> ProbeBrowserVersion(const std::string& binary,
                                               std::chrono::milliseconds timeout);

// How `gridhub node` and `standalone` probe: ProbeBrowserVersion with a 10 s bound.
std::optional<std::string> ProbeBrowserVersionBounded(const std::string& binary);

using VersionProbe = std::function<std::optional<std::string>(const std::string& binary)>;

// The browser binary a stereotype names (`goog:chromeOptions.binary`, `moz:firefoxOptions.binary`
// or `ms:edgeOptions.binary`), or an empty string.
std::string StereotypeBinary(const nlohmann::json& stereotype);

// For every driver slot whose stereotype names a binary but no browserVersion, sets
// browserVersion to what `probe` finds for that binary (each binary is probed once). Relay
// slots are left alone: their binary is on another machine. Returns one line per binary
// probed, saying what was found, for the start-up log.
std::vector<std::string> FillBrowserVersions(std::vector<config::SlotConfig>& slots,
                                             const VersionProbe& probe);

}  // namespace gridhub::node
