#include "hub/label_counts.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace gridhub::hub {
namespace {

TEST(LabelCountsTest, EmptyHasNoLabels) { EXPECT_TRUE(LabelCounts().ToMap().empty()); }

TEST(LabelCountsTest, ShowsEachChangeAndLeavesEarlierValuesAlone) {
  LabelCounts::Map live;
  LabelCounts v0;
  live["chrome"] = 2;
  LabelCounts v1 = v0.With("chrome", 2, live);
  live["firefox"] = 1;
  LabelCounts v2 = v1.With("firefox", 1, live);
  live.erase("chrome");
  LabelCounts v3 = v2.With("chrome", 0, live);  // 0: the label is gone
  EXPECT_TRUE(v0.ToMap().empty());
  EXPECT_EQ(v1.ToMap(), (LabelCounts::Map{{"chrome", 2}}));
  EXPECT_EQ(v2.ToMap(), (LabelCounts::Map{{"chrome", 2}, {"firefox", 1}}));
  EXPECT_EQ(v3.ToMap(), (LabelCounts::Map{{"firefox", 1}}));
}

// The chain of changes is cut once it is as long as the writer's map (at least kMinChanges),
// so a reader never walks more than O(labels) changes.
TEST(LabelCountsTest, StartsAgainFromTheWritersMapAfterAsManyChangesAsLabels) {
  LabelCounts::Map live;
  LabelCounts value;
  size_t longest = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string label = "l" + std::to_string(i % 3);
    live[label] = static_cast<size_t>(i);
    if (live[label] == 0) live.erase(label);
    value = value.With(label, static_cast<size_t>(i), live);
    longest = std::max(longest, value.changes());
    ASSERT_EQ(value.ToMap(), live) << "after change " << i;
  }
  EXPECT_LT(longest, LabelCounts::kMinChanges);
  EXPECT_GT(longest, 0u);
}

TEST(LabelCountsTest, OfCopiesTheMap) {
  LabelCounts::Map live{{"a", 1}, {"b", 4}};
  LabelCounts value = LabelCounts::Of(live);
  live["a"] = 7;
  EXPECT_EQ(value.ToMap(), (LabelCounts::Map{{"a", 1}, {"b", 4}}));
  EXPECT_EQ(value.changes(), 0u);
}

// Many labels, random counts: every value read back equals the writer's map at that moment,
// including values kept from long ago while the writer went on.
TEST(LabelCountsTest, ManyLabelsMatchTheWritersMapAtEveryStep) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick_label(0, 1999);
  std::uniform_int_distribution<int> pick_count(0, 3);
  LabelCounts::Map live;
  LabelCounts value;
  std::vector<std::pair<LabelCounts, LabelCounts::Map>> kept;
  for (int i = 0; i < 20'000; ++i) {
    const std::string label = "app" + std::to_string(pick_label(rng));
    const size_t count = static_cast<size_t>(pick_count(rng));
    if (count == 0) {
      live.erase(label);
    } else {
      live[label] = count;
    }
    value = value.With(label, count, live);
    if (i % 997 == 0) kept.emplace_back(value, live);
  }
  EXPECT_EQ(value.ToMap(), live);
  for (const auto& [old_value, then] : kept) EXPECT_EQ(old_value.ToMap(), then);
}

// A chain far longer than kMinChanges (a writer with many labels) is freed without recursing
// once per change: 200,000 nested destructor frames would overflow an 8 MiB stack if it did.
TEST(LabelCountsTest, FreesALongChainWithoutRecursion) {
  LabelCounts::Map live;
  for (int i = 0; i < 200'001; ++i) live["l" + std::to_string(i)] = 1;
  LabelCounts value = LabelCounts::Of(live);
  for (int i = 0; i < 200'000; ++i) value = value.With("l0", static_cast<size_t>(i + 1), live);
  EXPECT_EQ(value.changes(), 200'000u);
  value = LabelCounts();  // frees the chain
  EXPECT_TRUE(value.ToMap().empty());
}

}  // namespace
}  // namespace gridhub::hub
