#include "matching/slot_matcher.h"

#include <algorithm>
#include <functional>
#include <set>
#include <string_view>
#include <vector>

namespace gridhub::matching {

using nlohmann::json;

namespace {

// Most distinct offered values listed in an explanation; more are elided with "...".
constexpr size_t kMaxOffered = 8;

bool FamilyFits(PlatformFamily requested, PlatformFamily offered) {
  if (offered == PlatformFamily::kUnknown) return false;
  return requested == offered ||
         (requested == PlatformFamily::kUnix && offered == PlatformFamily::kLinux);
}

bool PlatformFits(const CapabilityDigest& candidate, const CapabilityDigest& stereotype) {
  if (candidate.platform_name.empty() || candidate.platform_name == stereotype.platform_name) {
    return true;
  }
  return candidate.platform_is_family &&
         FamilyFits(candidate.platform_family, stereotype.platform_family);
}

// Both lists are sorted by key: one merge walk compares the keys present in both.
bool ComparableAgree(const std::vector<ComparableCapability>& candidate,
                     const std::vector<ComparableCapability>& stereotype) {
  auto c = candidate.begin();
  auto s = stereotype.begin();
  while (c != candidate.end() && s != stereotype.end()) {
    int order = c->key.compare(s->key);
    if (order < 0) {
      ++c;
    } else if (order > 0) {
      ++s;
    } else {
      if (!(c->value == s->value)) return false;
      ++c;
      ++s;
    }
  }
  return true;
}

const ComparableValue* FindComparable(const CapabilityDigest& digest, const std::string& key) {
  auto it = std::lower_bound(
      digest.comparable.begin(), digest.comparable.end(), key,
      [](const ComparableCapability& cap, const std::string& k) { return cap.key < k; });
  return it != digest.comparable.end() && it->key == key ? &it->value : nullptr;
}

std::string Shown(const json& caps, const std::string& key) {
  auto it = caps.find(key);
  if (it == caps.end() || it->is_null()) return "(none)";
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

// "offered: a, b, c" over the distinct values of `key` among `slots`.
std::string OfferedList(const std::vector<const Stereotype*>& slots, const std::string& key) {
  std::vector<std::string> seen;
  for (const Stereotype* slot : slots) {
    std::string value = Shown(slot->json(), key);
    if (std::find(seen.begin(), seen.end(), value) == seen.end()) seen.push_back(value);
  }
  std::string out = "offered: ";
  for (size_t i = 0; i < seen.size() && i < kMaxOffered; ++i) {
    if (i > 0) out += ", ";
    out += seen[i];
  }
  if (seen.size() > kMaxOffered) out += ", ...";
  return out;
}

using SlotFilter = std::function<bool(const CapabilityDigest&)>;

// Narrows `pool` to the slots passing `keep`; on emptying it, sets `why` naming `key`.
bool Narrow(std::vector<const Stereotype*>& pool, const json& request, const std::string& key,
            const SlotFilter& keep, std::string& why) {
  std::vector<const Stereotype*> kept;
  for (const Stereotype* slot : pool) {
    if (keep(slot->digest())) kept.push_back(slot);
  }
  if (kept.empty()) {
    why = key + " " + Shown(request, key) + " not offered; " + OfferedList(pool, key);
    return false;
  }
  pool = std::move(kept);
  return true;
}

// The first rule, in DESIGN §2 order, that leaves no slot for `candidate`.
std::string ExplainCandidate(const Candidate& candidate, std::vector<const Stereotype*> pool) {
  const CapabilityDigest& c = candidate.digest();
  std::string why;
  if (!c.browser_name.empty() &&
      !Narrow(
          pool, candidate.json(), "browserName",
          [&](const CapabilityDigest& s) { return s.browser_name == c.browser_name; }, why)) {
    return why;
  }
  if (!Narrow(
          pool, candidate.json(), "browserVersion",
          [&](const CapabilityDigest& s) {
            return VersionSelects(c.browser_version, s.browser_version);
          },
          why) ||
      !Narrow(
          pool, candidate.json(), "platformName",
          [&](const CapabilityDigest& s) { return PlatformFits(c, s); }, why)) {
    return why;
  }
  if (c.downloads_enabled &&
      !Narrow(
          pool, candidate.json(), "se:downloadsEnabled",
          [](const CapabilityDigest& s) { return s.downloads_enabled; }, why)) {
    return why;
  }
  for (const ComparableCapability& cap : c.comparable) {
    auto agrees = [&](const CapabilityDigest& s) {
      const ComparableValue* offered = FindComparable(s, cap.key);
      return offered == nullptr || *offered == cap.value;
    };
    if (!Narrow(pool, candidate.json(), cap.key, agrees, why)) return why;
  }
  return "some registered slot matches";
}

std::string JoinLabels(const std::vector<LabelKey>& labels) {
  std::string out;
  for (const LabelKey& label : labels) {
    if (!out.empty()) out += ", ";
    out += label.str();
  }
  return out;
}

}  // namespace

bool CandidateFits(const CapabilityDigest& candidate, const CapabilityDigest& stereotype) {
  if (!candidate.browser_name.empty() && candidate.browser_name != stereotype.browser_name) {
    return false;
  }
  // A slot with managed downloads also serves requests that do not ask for them (Selenium's
  // rule); a request asking for them needs such a slot.
  if (candidate.downloads_enabled && !stereotype.downloads_enabled) return false;
  return VersionSelects(candidate.browser_version, stereotype.browser_version) &&
         PlatformFits(candidate, stereotype) &&
         ComparableAgree(candidate.comparable, stereotype.comparable);
}

std::optional<size_t> SlotMatcher::Match(const NewSessionSpec& request, const LabelKey* restriction,
                                         const Stereotype& slot) const {
  if (restriction != nullptr && !LabelAccepts(*restriction, slot.label(), options_)) {
    return std::nullopt;
  }
  for (size_t i = 0; i < request.candidates.size(); ++i) {
    if (CandidateFits(request.candidates[i].digest(), slot.digest())) return i;
  }
  return std::nullopt;
}

std::optional<LabelKey> SlotMatcher::ResolveRestriction(
    const NewSessionSpec& request, std::span<const Stereotype* const> slots) const {
  if (!request.explicit_label) return std::nullopt;
  for (const LabelKey& label : FallbackChain(request.label, options_)) {
    for (const Stereotype* slot : slots) {
      if (Match(request, &label, *slot)) return label;
    }
  }
  // Nothing could ever serve it: keep the request on its own label rather than widen it.
  return request.label;
}

bool SlotMatcher::Satisfiable(const NewSessionSpec& request,
                              std::span<const Stereotype* const> slots) const {
  std::optional<LabelKey> restriction = ResolveRestriction(request, slots);
  const LabelKey* label = restriction ? &*restriction : nullptr;
  return std::any_of(slots.begin(), slots.end(), [&](const Stereotype* slot) {
    return Match(request, label, *slot).has_value();
  });
}

std::string SlotMatcher::ExplainNoMatch(const NewSessionSpec& request,
                                        std::span<const Stereotype* const> slots) const {
  if (slots.empty()) return "no slots are registered";
  std::vector<const Stereotype*> pool;
  std::vector<LabelKey> chain;
  if (request.explicit_label) {
    chain = FallbackChain(request.label, options_);
    for (const Stereotype* slot : slots) {
      bool accepted = std::any_of(chain.begin(), chain.end(), [&](const LabelKey& label) {
        return LabelAccepts(label, slot->label(), options_);
      });
      if (accepted) pool.push_back(slot);
    }
    if (pool.empty()) {
      std::vector<LabelKey> offered;
      for (const Stereotype* slot : slots) {
        if (std::find(offered.begin(), offered.end(), slot->label()) == offered.end()) {
          offered.push_back(slot->label());
        }
      }
      return "gridhub:label " + JoinLabels(chain) + " not offered; offered: " + JoinLabels(offered);
    }
  } else {
    pool.assign(slots.begin(), slots.end());
  }
  if (request.candidates.size() == 1) return ExplainCandidate(request.candidates[0], pool);
  std::string out;
  for (size_t i = 0; i < request.candidates.size(); ++i) {
    if (!out.empty()) out += "; ";
    out +=
        "firstMatch[" + std::to_string(i) + "]: " + ExplainCandidate(request.candidates[i], pool);
  }
  return out;
}

namespace {

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Vendor option objects: the request's keys over the stereotype's, `args` unioned in order.
void MergeVendorOptions(json& base, const json& over) {
  for (const auto& [key, value] : over.items()) {
    auto it = base.find(key);
    if (key == "args" && it != base.end() && it->is_array() && value.is_array()) {
      // A set keeps a request with thousands of args from costing quadratic time.
      std::set<std::string> present;
      for (const json& arg : *it) present.insert(Dump(arg));
      for (const json& arg : value) {
        if (present.insert(Dump(arg)).second) it->push_back(arg);
      }
    } else {
      base[key] = value;
    }
  }
}

// The request's value for a matched key only overrides the stereotype when it says something:
// "156" matched "156.0.8078.79" and "windows" matched "Windows 11"; the stereotype's is the
// concrete one the driver must see, and "latest"/"any" mean nothing to a driver.
bool KeepStereotypeValue(const std::string& key, const CapabilityDigest& request, const json& out) {
  if (key == "browserName") return out.contains(key) || request.browser_name.empty();
  if (key == "browserVersion") return out.contains(key) || request.browser_version.empty();
  if (key == "platformName") return out.contains(key) || request.platform_name.empty();
  return false;
}

}  // namespace

json CapabilitiesForNode(const Candidate& candidate, const Stereotype& stereotype) {
  json out = json::object();
  for (const auto& [key, value] : stereotype.json().items()) {
    if (!value.is_null() && !key.starts_with("gridhub:")) out[key] = value;
  }
  for (const auto& [key, value] : candidate.json().items()) {
    if (key.starts_with("gridhub:") || KeepStereotypeValue(key, candidate.digest(), out)) continue;
    auto it = out.find(key);
    if (it != out.end() && it->is_object() && value.is_object() && IsPassThroughKey(key)) {
      MergeVendorOptions(*it, value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

}  // namespace gridhub::matching
