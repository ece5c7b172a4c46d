#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

#include "matching/capabilities.h"
#include "matching/label_key.h"
#include "matching/stereotype.h"

namespace gridhub::matching {

// Decides which slots may serve a request, by Selenium Grid's rules (DESIGN §2) plus gridhub's
// labels. Holds only the label toggles; const methods are safe to call from any thread. The hub
// swaps in a new SlotMatcher when the toggles change at run time.
//
//   SlotMatcher matcher(LabelMatchOptions{});
//   std::optional<LabelKey> restriction = matcher.ResolveRestriction(spec, all_slots);
//   if (auto i = matcher.Match(spec, restriction ? &*restriction : nullptr, slot)) {
//     json caps = CapabilitiesForNode(spec.candidates[*i], slot);
//   }
class SlotMatcher {
 public:
  explicit SlotMatcher(LabelMatchOptions options) : options_(options) {}

  // Index of the first candidate that `slot` can serve, honouring `restriction` (the request's
  // explicit label, or the fallback label chosen for it; nullptr = no label restriction).
  // Touches no JSON: cost is a few string compares per candidate.
  std::optional<size_t> Match(const NewSessionSpec& request, const LabelKey* restriction,
                              const Stereotype& slot) const;

  // The label restriction for `request` given every registered slot (free or busy):
  // nullopt when the request has no explicit label; else the first label of FallbackChain that
  // some slot could serve (label accepted and a candidate fits); else the explicit label itself
  // (so the request stays unsatisfiable rather than escaping its label).
  std::optional<LabelKey> ResolveRestriction(const NewSessionSpec& request,
                                             std::span<const Stereotype* const> slots) const;

  // Could any of `slots` ever serve `request` (ignoring load), with trailing fallback?
  bool Satisfiable(const NewSessionSpec& request, std::span<const Stereotype* const> slots) const;

  // Human explanation of why nothing matched, e.g.
  // "browserVersion 120 not offered; offered: 156.0.8078.79".
  std::string ExplainNoMatch(const NewSessionSpec& request,
                             std::span<const Stereotype* const> slots) const;

  const LabelMatchOptions& options() const { return options_; }

 private:
  LabelMatchOptions options_;
};

// Does `candidate` fit `stereotype` by the capability rules alone (labels aside)?
bool CandidateFits(const CapabilityDigest& candidate, const CapabilityDigest& stereotype);

// The capabilities to send to a node: the candidate merged over the stereotype (vendor option
// objects like goog:chromeOptions merged key by key over the stereotype's, `args` arrays
// concatenated without duplicates), all gridhub:* keys removed.
nlohmann::json CapabilitiesForNode(const Candidate& candidate, const Stereotype& stereotype);

}  // namespace gridhub::matching
