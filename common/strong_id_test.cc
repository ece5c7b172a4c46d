#include "common/strong_id.h"

#include <gtest/gtest.h>

#include <map>
#include <type_traits>
#include <unordered_set>

namespace gridhub {
namespace {

TEST(StrongIdTest, KindsDoNotConvertIntoEachOther) {
  static_assert(!std::is_convertible_v<NodeId, SessionId>);
  static_assert(!std::is_convertible_v<std::string, NodeId>);  // explicit at the edge only
  static_assert(std::is_constructible_v<NodeId, std::string>);
}

TEST(StrongIdTest, ComparesOrdersAndHashesByValue) {
  EXPECT_EQ(SessionId("a"), SessionId(std::string("a")));
  EXPECT_NE(SessionId("a"), SessionId("b"));
  EXPECT_LT(NodeId("a"), NodeId("b"));
  std::unordered_set<SessionId> set = {SessionId("x"), SessionId("x"), SessionId("y")};
  EXPECT_EQ(set.size(), 2u);
  std::map<NodeId, int> map = {{NodeId("b"), 2}, {NodeId("a"), 1}};
  EXPECT_EQ(map.begin()->first.str(), "a");
  EXPECT_TRUE(SlotId().empty());
}

}  // namespace
}  // namespace gridhub
