#include "hub/session_map.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

SessionEntry Entry(const char* id, const char* node, const char* slot = "0") {
  return {.id = SessionId(id), .node = NodeId(node), .slot = SlotId(slot), .label = "chrome"};
}

TEST(SessionMapTest, FindsTheRouteOfAnAddedSession) {
  SessionMap sessions;
  ASSERT_TRUE(sessions.Add(Entry("s1", "n1", "slot-a")));
  const SessionEntry* found = sessions.Find(SessionId("s1"));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->node, NodeId("n1"));
  EXPECT_EQ(found->slot, SlotId("slot-a"));
  EXPECT_EQ(found->label, "chrome");
  EXPECT_EQ(sessions.Find(SessionId("s2")), nullptr);
  EXPECT_EQ(sessions.size(), 1u);
}

TEST(SessionMapTest, NeverOverwritesALiveRoute) {
  SessionMap sessions;
  ASSERT_TRUE(sessions.Add(Entry("s1", "n1")));
  EXPECT_FALSE(sessions.Add(Entry("s1", "n2")));
  EXPECT_EQ(sessions.Find(SessionId("s1"))->node, NodeId("n1"));
  EXPECT_TRUE(sessions.OnNode(NodeId("n2")).empty());
}

TEST(SessionMapTest, RemoveReturnsTheSessionAndForgetsIt) {
  SessionMap sessions;
  sessions.Add(Entry("s1", "n1"));
  sessions.Add(Entry("s2", "n1"));
  std::optional<SessionEntry> removed = sessions.Remove(SessionId("s1"));
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->node, NodeId("n1"));
  EXPECT_FALSE(sessions.Contains(SessionId("s1")));
  EXPECT_FALSE(sessions.Remove(SessionId("s1")).has_value());
  EXPECT_EQ(sessions.OnNode(NodeId("n1")), std::vector<SessionId>{SessionId("s2")});
}

TEST(SessionMapTest, ListsANodesSessionsOldestFirst) {
  SessionMap sessions;
  sessions.Add(Entry("b", "n1"));
  sessions.Add(Entry("x", "n2"));
  sessions.Add(Entry("a", "n1"));
  EXPECT_EQ(sessions.OnNode(NodeId("n1")),
            (std::vector<SessionId>{SessionId("b"), SessionId("a")}));
  EXPECT_EQ(sessions.OnNode(NodeId("n2")), std::vector<SessionId>{SessionId("x")});
  EXPECT_TRUE(sessions.OnNode(NodeId("n3")).empty());
  sessions.Remove(SessionId("x"));
  EXPECT_TRUE(sessions.OnNode(NodeId("n2")).empty());
}

TEST(SessionMapTest, ForgetNodeDropsOnlyAnEmptyNodesEntry) {
  SessionMap sessions;
  sessions.Add(Entry("a", "n1"));
  sessions.Add(Entry("b", "n2"));
  sessions.Remove(SessionId("b"));
  EXPECT_EQ(sessions.indexed_nodes(), 2u);  // kept for the node's next session
  sessions.ForgetNode(NodeId("n1"));        // still has one: kept
  sessions.ForgetNode(NodeId("n2"));
  EXPECT_EQ(sessions.indexed_nodes(), 1u);
  EXPECT_EQ(sessions.OnNode(NodeId("n1")), std::vector<SessionId>{SessionId("a")});
}

TEST(SessionMapTest, NotRoutedToListsUnknownAndForeignIdsOnce) {
  SessionMap sessions;
  sessions.Add(Entry("mine", "n1"));
  sessions.Add(Entry("theirs", "n2"));
  std::vector<SessionId> reported = {SessionId("mine"), SessionId("ghost"), SessionId("theirs"),
                                     SessionId("ghost")};
  EXPECT_EQ(sessions.NotRoutedTo(NodeId("n1"), reported),
            (std::vector<SessionId>{SessionId("ghost"), SessionId("theirs")}));
  EXPECT_TRUE(sessions.NotRoutedTo(NodeId("n1"), {SessionId("mine")}).empty());
}

}  // namespace
}  // namespace gridhub::hub
