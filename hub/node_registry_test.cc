#include "hub/node_registry.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

using namespace std::chrono_literals;
using Node = NodeRegistry::Node;

std::unique_ptr<Node> MakeNode(const std::string& id,
                               const std::string& uri = "http://10.0.0.1:5555", int slots = 1,
                               int max_sessions = 1) {
  auto node = std::make_unique<Node>();
  node->id = id;
  node->uri = uri;
  for (int i = 0; i < slots; ++i) {
    Result<matching::Stereotype> stereotype =
        matching::Stereotype::Parse({{"browserName", "chrome"}}, "");
    NodeRegistry::Slot& slot =
        node->slots.emplace_back(std::to_string(i), std::move(*stereotype), max_sessions);
    slot.unit_id = id + '\x1f' + slot.id;
  }
  return node;
}

class NodeRegistryTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  NodeRegistry nodes_{{.node_timeout = 30s, .health_check_period = 10s}};
};

TEST_F(NodeRegistryTest, OffersOnlySlotsWithRoomOnUsableNodes) {
  nodes_.Put(MakeNode("a", "http://10.0.0.1:5555", 2), clock_.Now());
  nodes_.Put(MakeNode("b", "http://10.0.0.2:5555"), clock_.Now());
  EXPECT_EQ(nodes_.FreeOffers(clock_.Now()).size(), 3u);
  nodes_.Find(NodeId("a"))->slots[0].reserved = 1;  // a creation in flight
  nodes_.Touch(*nodes_.Find(NodeId("a")));
  nodes_.Find(NodeId("b"))->slots[0].sessions.push_back(SessionId("s1"));
  nodes_.Touch(*nodes_.Find(NodeId("b")));
  std::vector<NodeRegistry::Offer> offer = nodes_.FreeOffers(clock_.Now());
  ASSERT_EQ(offer.size(), 1u);
  EXPECT_EQ(offer[0].node->id, "a");
  EXPECT_EQ(offer[0].slot->id, "1");
  nodes_.Drain(*nodes_.Find(NodeId("a")));
  EXPECT_TRUE(nodes_.FreeOffers(clock_.Now()).empty());
  EXPECT_EQ(nodes_.Pool().size(), 1u);  // a DRAINING node leaves the pool; b's slot stays
  EXPECT_EQ(nodes_.IndexProblem(), "");
}

TEST_F(NodeRegistryTest, TheRoomIndexFollowsTouchedChangesAndNamesAnUntouchedOne) {
  nodes_.Put(MakeNode("a"), clock_.Now());
  nodes_.Put(MakeNode("b"), clock_.Now());
  Node& a = *nodes_.Find(NodeId("a"));
  a.slots[0].sessions.push_back(SessionId("s1"));
  nodes_.Touch(a);
  ASSERT_EQ(nodes_.FreeOffers(clock_.Now()).size(), 1u);
  EXPECT_EQ(nodes_.FreeOffers(clock_.Now())[0].node->id, "b");
  a.slots[0].sessions.clear();  // room again, but nobody said so
  EXPECT_NE(nodes_.IndexProblem(), "");
  nodes_.Touch(a);
  EXPECT_EQ(nodes_.IndexProblem(), "");
  EXPECT_EQ(nodes_.FreeOffers(clock_.Now()).size(), 2u);
  // Availability changes the registry makes itself are touched by it.
  clock_.Advance(30s);
  EXPECT_EQ(nodes_.MarkSilentDown(clock_.Now()).size(), 2u);
  EXPECT_TRUE(nodes_.FreeOffers(clock_.Now()).empty());
  nodes_.Heartbeat(a, clock_.Now());
  ASSERT_EQ(nodes_.FreeOffers(clock_.Now()).size(), 1u);
  // A removed or replaced node leaves the index; the changed list names each node once.
  bool membership = false;
  nodes_.TakeChanged(&membership);
  EXPECT_TRUE(membership);
  nodes_.Touch(a);
  nodes_.Touch(a);
  std::vector<Node*> changed = nodes_.TakeChanged(&membership);
  EXPECT_FALSE(membership);
  EXPECT_EQ(changed, std::vector<Node*>{&a});
  nodes_.Touch(a);
  nodes_.Remove(NodeId("a"));
  EXPECT_TRUE(nodes_.TakeChanged(&membership).empty());
  EXPECT_TRUE(membership);
  EXPECT_TRUE(nodes_.FreeOffers(clock_.Now()).empty());
  nodes_.Heartbeat(*nodes_.Find(NodeId("b")), clock_.Now());
  nodes_.Put(MakeNode("b"), clock_.Now());
  ASSERT_EQ(nodes_.FreeOffers(clock_.Now()).size(), 1u);
  EXPECT_EQ(nodes_.FreeOffers(clock_.Now())[0].node, nodes_.Find(NodeId("b")));
  EXPECT_EQ(nodes_.IndexProblem(), "");
}

TEST_F(NodeRegistryTest, SilentNodeGoesDownAndAHeartbeatBringsItBack) {
  nodes_.Put(MakeNode("a"), clock_.Now());
  EXPECT_EQ(nodes_.NextDeadline(), clock_.Now() + 30s);
  clock_.Advance(29s);
  EXPECT_TRUE(nodes_.MarkSilentDown(clock_.Now()).empty());
  clock_.Advance(1s);
  std::vector<Node*> down = nodes_.MarkSilentDown(clock_.Now());
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0]->availability, Availability::kDown);
  EXPECT_TRUE(nodes_.FreeOffers(clock_.Now()).empty());
  EXPECT_EQ(nodes_.Pool().size(), 1u);  // DOWN may come back: still in the pool
  EXPECT_FALSE(nodes_.NextDeadline().has_value());

  NodeRegistry::Beat beat = nodes_.Heartbeat(*down[0], clock_.Now());
  EXPECT_TRUE(beat.came_back);
  EXPECT_FALSE(beat.previous.has_value());
  EXPECT_EQ(down[0]->availability, Availability::kUp);
  const SteadyTime first = clock_.Now();
  clock_.Advance(5s);
  beat = nodes_.Heartbeat(*down[0], clock_.Now());
  EXPECT_FALSE(beat.came_back);
  EXPECT_EQ(beat.previous, first);
}

TEST_F(NodeRegistryTest, ADrainRequestedWhileDownHoldsWhenTheNodeComesBack) {
  nodes_.Put(MakeNode("a"), clock_.Now());
  clock_.Advance(30s);
  Node* node = nodes_.MarkSilentDown(clock_.Now()).at(0);
  nodes_.Drain(*node);
  EXPECT_EQ(node->availability, Availability::kDown);
  nodes_.Heartbeat(*node, clock_.Now());
  EXPECT_EQ(node->availability, Availability::kDraining);
}

TEST_F(NodeRegistryTest, CoolDownDoublesPerFailureUpToNodeTimeout) {
  nodes_.Put(MakeNode("a"), clock_.Now());
  Node& node = *nodes_.Find(NodeId("a"));
  std::vector<Duration> rests;
  for (int i = 0; i < 7; ++i) {
    nodes_.CoolDown(node, clock_.Now(), /*unreachable=*/false);
    EXPECT_TRUE(nodes_.FreeOffers(clock_.Now()).empty());
    rests.push_back(*node.cooldown_until - clock_.Now());
    // A failure while it rests counts once.
    nodes_.CoolDown(node, clock_.Now() + 1ms, false);
    EXPECT_EQ(*node.cooldown_until - clock_.Now(), rests.back());
    clock_.Advance(rests.back());
    EXPECT_TRUE(nodes_.EndCooldowns(clock_.Now()));
    nodes_.Heartbeat(node, clock_.Now());
  }
  EXPECT_EQ(rests, (std::vector<Duration>{1s, 2s, 4s, 8s, 16s, 30s, 30s}));
  EXPECT_EQ(nodes_.FreeOffers(clock_.Now()).size(), 1u);
  NodeRegistry::OnCreated(node);
  nodes_.CoolDown(node, clock_.Now(), false);
  EXPECT_EQ(*node.cooldown_until - clock_.Now(), 1s);  // the streak ended
}

TEST_F(NodeRegistryTest, ProbedNodeIsProbedOnScheduleAndAtOnceWhenUnreachable) {
  std::unique_ptr<Node> probed = MakeNode("p");
  probed->probe = true;
  nodes_.Put(std::move(probed), clock_.Now());
  EXPECT_TRUE(nodes_.DueProbes(clock_.Now()).empty());
  clock_.Advance(10s);
  std::vector<ProbeJob> probes = nodes_.DueProbes(clock_.Now());
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].node_id, NodeId("p"));
  EXPECT_EQ(probes[0].timeout, 10s);
  EXPECT_TRUE(nodes_.DueProbes(clock_.Now()).empty());                  // one in flight at a time
  EXPECT_FALSE(nodes_.OnProbeResult(NodeId("p"), true, clock_.Now()));  // was UP already
  nodes_.CoolDown(*nodes_.Find(NodeId("p")), clock_.Now(), /*unreachable=*/true);
  EXPECT_EQ(nodes_.DueProbes(clock_.Now()).size(), 1u);
}

TEST_F(NodeRegistryTest, ReRegistrationKeepsSessionsOfSlotsThatStillExist) {
  nodes_.Put(MakeNode("a", "http://10.0.0.1:5555", 2), clock_.Now());
  Node& old = *nodes_.Find(NodeId("a"));
  old.slots[0].sessions.push_back(SessionId("kept"));
  old.slots[1].sessions.push_back(SessionId("gone"));
  old.slots[0].reserved = 1;
  std::vector<SessionId> dropped =
      nodes_.Put(MakeNode("a", "http://10.0.0.1:5555", 1), clock_.Now());
  EXPECT_EQ(dropped, std::vector<SessionId>{SessionId("gone")});
  Node& now = *nodes_.Find(NodeId("a"));
  EXPECT_EQ(now.slots[0].sessions, std::vector<SessionId>{SessionId("kept")});
  EXPECT_EQ(now.slots[0].reserved, 1);
}

TEST_F(NodeRegistryTest, ALiveNodeCannotMoveToAnotherUri) {
  nodes_.Put(MakeNode("a", "http://10.0.0.1:5555"), clock_.Now());
  EXPECT_TRUE(nodes_.CheckReplace(*MakeNode("a", "http://10.0.0.9:5555")).ok());  // idle
  nodes_.Find(NodeId("a"))->slots[0].sessions.push_back(SessionId("s1"));
  Status moved = nodes_.CheckReplace(*MakeNode("a", "http://10.0.0.9:5555"));
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(nodes_.CheckReplace(*MakeNode("a", "http://10.0.0.1:5555")).ok());  // restart
}

TEST_F(NodeRegistryTest, AnEmptyDrainedNodeLeavesAndIsRemembered) {
  nodes_.Put(MakeNode("a"), clock_.Now());
  Node& node = *nodes_.Find(NodeId("a"));
  node.slots[0].sessions.push_back(SessionId("s1"));
  nodes_.Drain(node);
  EXPECT_FALSE(nodes_.RemoveIfDrained(NodeId("a")));  // a session still runs
  node.slots[0].sessions.clear();
  nodes_.Touch(node);
  EXPECT_TRUE(nodes_.RemoveIfDrained(NodeId("a")));
  EXPECT_EQ(nodes_.Find(NodeId("a")), nullptr);
  EXPECT_TRUE(nodes_.DepartedDrained(NodeId("a")));
  nodes_.Put(MakeNode("a"), clock_.Now());  // registering again forgets it
  EXPECT_FALSE(nodes_.DepartedDrained(NodeId("a")));
}

TEST_F(NodeRegistryTest, NodeJsonShowsSlotsAndSessions) {
  nodes_.Put(MakeNode("a", "http://10.0.0.1:5555", 1, 3), clock_.Now());
  nodes_.Find(NodeId("a"))->slots[0].sessions.push_back(SessionId("s1"));
  clock_.Advance(2s);
  nlohmann::json nodes = nodes_.NodesJson(clock_.Now());
  ASSERT_EQ(nodes["value"].size(), 1u);
  const nlohmann::json& a = nodes["value"][0];
  EXPECT_EQ(a["id"], "a");
  EXPECT_EQ(a["availability"], "UP");
  EXPECT_EQ(a["maxSessions"], 3);
  EXPECT_EQ(a["sessionCount"], 1);
  EXPECT_EQ(a["lastSeenSecondsAgo"], 2.0);
  EXPECT_EQ(a["slots"][0]["sessions"], nlohmann::json::array({"s1"}));
}

}  // namespace
}  // namespace gridhub::hub
