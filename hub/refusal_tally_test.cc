#include "hub/refusal_tally.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

TEST(RefusalTallyTest, CountsByLabelAndReason) {
  RefusalTally tally;
  EXPECT_TRUE(tally.Count("chrome", "queue_full"));
  EXPECT_TRUE(tally.Count("chrome", "queue_full"));
  EXPECT_TRUE(tally.Count("chrome", "failed"));
  EXPECT_TRUE(tally.Count("other", "unsatisfiable"));
  RefusalTally::Counts counts = tally.Snapshot();
  EXPECT_EQ(counts["chrome"][0], 2u);  // queue_full
  EXPECT_EQ(counts["chrome"][6], 1u);  // failed
  EXPECT_EQ(counts["other"][2], 1u);   // unsatisfiable
}

TEST(RefusalTallyTest, IgnoresWordsThatAreNoRefusalReason) {
  RefusalTally tally;
  EXPECT_FALSE(tally.Count("chrome", "success"));
  EXPECT_FALSE(tally.Count("chrome", ""));
  EXPECT_TRUE(tally.Snapshot().empty());
}

TEST(RefusalTallyTest, RetainKeepsDeclaredLabelsAndOther) {
  RefusalTally tally;
  tally.Count("chrome", "timeout");
  tally.Count("firefox", "timeout");
  tally.Count("other", "timeout");
  tally.Retain({"chrome"});
  RefusalTally::Counts counts = tally.Snapshot();
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.count("chrome"), 1u);
  EXPECT_EQ(counts.count("other"), 1u);
}

}  // namespace
}  // namespace gridhub::hub
