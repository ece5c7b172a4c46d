#include "node-agent/slot_choice.h"

#include <gtest/gtest.h>

#include <vector>

namespace gridhub::node {
namespace {

using nlohmann::json;

matching::NewSessionSpec Spec(const json& capabilities) {
  Result<matching::NewSessionSpec> spec =
      matching::ProcessNewSession({{"capabilities", capabilities}});
  EXPECT_TRUE(spec.ok());
  return *spec;
}

std::vector<NodeSlot> Slots(const std::vector<std::pair<json, std::string>>& stereotypes) {
  std::vector<NodeSlot> slots;
  for (size_t i = 0; i < stereotypes.size(); ++i) {
    Result<matching::Stereotype> parsed =
        matching::Stereotype::Parse(stereotypes[i].first, stereotypes[i].second);
    EXPECT_TRUE(parsed.ok());
    slots.push_back({SlotId("n-slot-" + std::to_string(i)), *parsed});
  }
  return slots;
}

const auto kAllFree = [](size_t) { return true; };

TEST(SlotChoiceTest, DirectCallTakesFirstMatchOrderThenSlotOrder) {
  std::vector<NodeSlot> slots = Slots({{{{"browserName", "chrome"}}, "chrome"},
                                       {{{"browserName", "firefox"}}, "firefox"},
                                       {{{"browserName", "chrome"}}, "chrome"}});
  matching::NewSessionSpec spec =
      Spec({{"firstMatch", {{{"browserName", "firefox"}}, {{"browserName", "chrome"}}}}});
  Result<SlotChoice> choice = ChooseSlot(spec, slots, std::nullopt, kAllFree);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->slot, 1u);
  EXPECT_EQ(choice->candidate, 0u);
  choice = ChooseSlot(spec, slots, std::nullopt, [](size_t s) { return s == 2; });
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->slot, 2u);
  EXPECT_EQ(choice->candidate, 1u);
  Result<SlotChoice> busy = ChooseSlot(spec, slots, std::nullopt, [](size_t) { return false; });
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kSessionNotCreated);
  EXPECT_NE(busy.error().message.find("busy"), std::string::npos);
}

TEST(SlotChoiceTest, DirectCallFollowsTheHubsMatchingRules) {
  std::vector<NodeSlot> slots =
      Slots({{{{"browserName", "chrome"},
               {"browserVersion", "156.0.8078.79"},
               {"platformName", "Windows 11"}},
              "appa"},
             {{{"browserName", "chrome"}, {"platformName", "linux"}}, "appb"}});
  auto slot_for = [&](const json& always) -> std::optional<size_t> {
    Result<SlotChoice> choice =
        ChooseSlot(Spec({{"alwaysMatch", always}}), slots, std::nullopt, kAllFree);
    return choice.ok() ? std::optional<size_t>(choice->slot) : std::nullopt;
  };
  EXPECT_EQ(slot_for({{"browserName", "Chrome"}}), 0u);
  EXPECT_EQ(slot_for({{"browserVersion", "156"}}), 0u);
  EXPECT_EQ(slot_for({{"platformName", "windows"}}), 0u);
  EXPECT_EQ(slot_for({{"platformName", "linux"}}), 1u);
  EXPECT_EQ(slot_for({{"gridhub:label", "appb"}}), 1u);  // labels restrict as on the hub
  EXPECT_EQ(slot_for({{"browserVersion", "15"}, {"platformName", "linux"}}), std::nullopt);
  EXPECT_EQ(slot_for({{"browserName", "firefox"}}), std::nullopt);
}

TEST(SlotChoiceTest, TheHubsSlotIsUsedExactly) {
  // Two slots that both serve the request: the hub named the second, so the second it is.
  std::vector<NodeSlot> slots =
      Slots({{{{"browserName", "chrome"}}, "chrome"}, {{{"browserName", "chrome"}}, "chrome"}});
  matching::NewSessionSpec spec = Spec({{"alwaysMatch", {{"browserName", "chrome"}}}});
  Result<SlotChoice> choice = ChooseSlot(spec, slots, SlotId("n-slot-1"), kAllFree);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->slot, 1u);
  // Full: an error, not another slot.
  Result<SlotChoice> busy =
      ChooseSlot(spec, slots, SlotId("n-slot-1"), [](size_t s) { return s == 0; });
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().message, "slot n-slot-1 is busy");
  Result<SlotChoice> missing = ChooseSlot(spec, slots, SlotId("n-slot-9"), kAllFree);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "no slot n-slot-9 on this node");
  Result<SlotChoice> wrong = ChooseSlot(Spec({{"alwaysMatch", {{"browserName", "firefox"}}}}),
                                        slots, SlotId("n-slot-0"), kAllFree);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kSessionNotCreated);
  EXPECT_EQ(wrong.error().message, "slot n-slot-0 does not serve these capabilities");
}

TEST(SlotChoiceTest, ASlotWhoseStereotypeDidNotParseServesNothing) {
  std::vector<NodeSlot> slots = {{SlotId("n-slot-0"), std::nullopt}};
  Result<SlotChoice> choice =
      ChooseSlot(Spec({{"alwaysMatch", json::object()}}), slots, std::nullopt, kAllFree);
  ASSERT_FALSE(choice.ok());
  EXPECT_NE(choice.error().message.find("no slot on this node"), std::string::npos);
}

}  // namespace
}  // namespace gridhub::node
