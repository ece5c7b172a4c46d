#pragma once

// Which of the node's slots a new session goes to. The hub decides once and names its slot in
// `X-Gridhub-Slot`; the node then uses exactly that slot and only checks that it exists, serves
// the request and has room. Called directly (no header), the node takes its first slot that
// matches, by the same matcher the hub uses (matching/slot_matcher.h). Pure.
//
//   std::vector<NodeSlot> slots = ...;  // one per configured slot, in slot order
//   Result<SlotChoice> choice = ChooseSlot(spec, slots, SlotId("n1-slot-1"), has_room);
//   if (!choice.ok()) return Send(choice.error());  // kSessionNotCreated, says why
//   book.Reserve(choice->slot);
//
// Thread-compatible: plain functions over values.

#include <cstddef>
#include <functional>
#include <optional>
#include <span>

#include "common/result.h"
#include "common/strong_id.h"
#include "matching/capabilities.h"
#include "matching/stereotype.h"

namespace gridhub::node {

// One slot as the matcher sees it: its hub-facing id and its parsed stereotype (nullopt when
// the configured stereotype does not parse; such a slot serves nothing).
struct NodeSlot {
  SlotId id;
  std::optional<matching::Stereotype> stereotype;
};

struct SlotChoice {
  size_t slot = 0;       // index into the node's slots
  size_t candidate = 0;  // index into spec.candidates
};

// `wanted` is the hub's X-Gridhub-Slot (nullopt for a direct call); `has_room(i)` says whether
// slot i has a free place. kSessionNotCreated naming the reason when no slot fits.
Result<SlotChoice> ChooseSlot(const matching::NewSessionSpec& spec, std::span<const NodeSlot> slots,
                              const std::optional<SlotId>& wanted,
                              const std::function<bool(size_t)>& has_room);

}  // namespace gridhub::node
