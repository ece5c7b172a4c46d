#include "node-agent/slot_choice.h"

#include <vector>

#include "matching/label_key.h"
#include "matching/slot_matcher.h"

namespace gridhub::node {

namespace {

Error NotCreated(std::string message) {
  return Error{ErrorCode::kSessionNotCreated, std::move(message)};
}

}  // namespace

Result<SlotChoice> ChooseSlot(const matching::NewSessionSpec& spec, std::span<const NodeSlot> slots,
                              const std::optional<SlotId>& wanted,
                              const std::function<bool(size_t)>& has_room) {
  // The hub's default label rules: a direct caller's gridhub:label restricts slots as it would
  // through the hub (the hub strips gridhub:* before it calls, so its requests are unrestricted).
  const matching::LabelMatchOptions options;
  const matching::SlotMatcher matcher(options);
  std::vector<const matching::Stereotype*> all;
  for (const NodeSlot& slot : slots) {
    if (slot.stereotype) all.push_back(&*slot.stereotype);
  }
  std::optional<matching::LabelKey> restriction = matcher.ResolveRestriction(spec, all);
  auto fits = [&](size_t c, size_t s) {
    const std::optional<matching::Stereotype>& stereotype = slots[s].stereotype;
    return stereotype &&
           (!restriction || LabelAccepts(*restriction, stereotype->label(), options)) &&
           matching::CandidateFits(spec.candidates[c].digest(), stereotype->digest());
  };

  if (wanted) {
    for (size_t s = 0; s < slots.size(); ++s) {
      if (slots[s].id != *wanted) continue;
      for (size_t c = 0; c < spec.candidates.size(); ++c) {
        if (!fits(c, s)) continue;
        if (!has_room(s)) return NotCreated("slot " + wanted->str() + " is busy");
        return SlotChoice{s, c};
      }
      return NotCreated("slot " + wanted->str() + " does not serve these capabilities");
    }
    return NotCreated("no slot " + wanted->str().substr(0, 200) + " on this node");
  }
  // firstMatch order first (the client's preference), then slot order.
  bool servable = false;
  for (size_t c = 0; c < spec.candidates.size(); ++c) {
    for (size_t s = 0; s < slots.size(); ++s) {
      if (!fits(c, s)) continue;
      servable = true;
      if (has_room(s)) return SlotChoice{s, c};
    }
  }
  return NotCreated(servable ? "every slot that serves these capabilities is busy"
                             : "no slot on this node serves these capabilities");
}

}  // namespace gridhub::node
