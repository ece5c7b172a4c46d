#pragma once

// What the node does with the capabilities of a new-session request before a driver sees them:
// find the slot that serves them, merge them over that slot's stereotype, and give Chromium a
// private profile. Pure functions over JSON.
//
//   Result<std::vector<nlohmann::json>> candidates = CandidatesFromBody(body);
//   std::optional<size_t> slot = FirstServingSlot(*candidates, stereotypes, has_room);
//   nlohmann::json caps = MergeOverStereotype(candidate, stereotype);
//   PrepareForBrowser(caps, {.user_data_dir = "/tmp/gridhub-node/s1/profile", .as_root = true});
//   nlohmann::json driver_body = NewSessionBody(caps);

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace gridhub::node {

// The hub's bounds (matching/capabilities.h), repeated so that the node, which does not link
// the matcher, refuses the same bodies when called directly.
inline constexpr size_t kMaxFirstMatch = 64;
inline constexpr size_t kMaxCandidateBytes = size_t{64} << 20;

// alwaysMatch merged with each firstMatch entry, in firstMatch order (W3C "process
// capabilities", without the type checks the hub already made). kInvalidArgument naming the
// key when the body has no capabilities object or an entry is not an object, and when firstMatch
// has more than kMaxFirstMatch entries or the candidates would exceed kMaxCandidateBytes.
Result<std::vector<nlohmann::json>> CandidatesFromBody(const nlohmann::json& body);

// Selenium Grid's matching rules for the standard keys (browserName case-insensitively,
// browserVersion by prefix with stable/latest as wildcards, platformName with `any`); the hub
// already applied the full rules, the node only has to tell its own slots apart.
bool StereotypeServes(const nlohmann::json& stereotype, const nlohmann::json& candidate);

// True when every stereotype key (hub-only keys aside) is in `candidate` with the same value;
// for vendor option objects only their `binary` must agree. The hub sends the request merged
// over the stereotype of the slot it chose, so this recognises that slot.
bool CarriesStereotype(const nlohmann::json& stereotype, const nlohmann::json& candidate);

struct SlotMatch {
  size_t slot = 0;
  size_t candidate = 0;
};
// The first (candidate, slot) pair in firstMatch order, then slot order, where
// `has_room(slot)` and the candidate carries the slot's stereotype whole; failing that, the
// first pair where the slot merely serves the candidate.
std::optional<SlotMatch> FirstServingSlot(const std::vector<nlohmann::json>& candidates,
                                          const std::vector<nlohmann::json>& stereotypes,
                                          const std::function<bool(size_t)>& has_room);

// The request merged over the stereotype's defaults: request values win; vendor option objects
// (keys prefixed goog:, moz:, ms:, safari: or containing "options") are merged key by key, their
// `args` arrays concatenated without duplicates (stereotype first). Keys for the hub only
// (gridhub:*, se:*) are removed: drivers may reject what they do not know.
nlohmann::json MergeOverStereotype(const nlohmann::json& request, const nlohmann::json& stereotype);

struct BrowserPreparation {
  std::string user_data_dir;  // a fresh, empty directory for this session
  bool as_root = false;       // Chromium's sandbox refuses to run as root
};
// For Chrome/Chromium (browserName chrome/chromium/MicrosoftEdge or any *:chromeOptions key):
// replaces any --user-data-dir argument with prep.user_data_dir, so concurrent sessions never
// share a profile, and adds --no-sandbox as root. Other browsers are left alone.
void PrepareForBrowser(nlohmann::json& caps, const BrowserPreparation& prep);

// {"capabilities": {"alwaysMatch": caps, "firstMatch": [{}]}}
nlohmann::json NewSessionBody(const nlohmann::json& caps);

}  // namespace gridhub::node
