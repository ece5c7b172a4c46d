#include "hub/peer_held_requests.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

HeldRequest Held(uint64_t order, uint64_t connection) {
  HeldRequest held;
  held.order = order;
  held.request.method = "POST";
  held.request.path = "/session";
  held.request.body = "{\"n\":" + std::to_string(order) + "}";
  held.request.connection_id = connection;
  return held;
}

TEST(HeldRequestsTest, TakesAllInAdmissionOrderWhateverTheAddOrder) {
  HeldRequests held;
  EXPECT_TRUE(held.Add(Held(7, 1)));
  EXPECT_TRUE(held.Add(Held(3, 2)));
  EXPECT_TRUE(held.Add(Held(5, 3)));
  EXPECT_FALSE(held.Add(Held(5, 9)));  // a second request under one order is refused
  std::vector<HeldRequest> all = held.TakeAllInOrder();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].order, 3u);
  EXPECT_EQ(all[1].order, 5u);
  EXPECT_EQ(all[1].request.connection_id, 3u);
  EXPECT_EQ(all[2].request.body, "{\"n\":7}");
  EXPECT_EQ(held.size(), 0u);
}

TEST(HeldRequestsTest, RemovesOnAnswerAndOnDisconnect) {
  HeldRequests held;
  held.Add(Held(1, 10));
  held.Add(Held(2, 20));
  held.Add(Held(3, 10));  // pipelined on one connection
  held.Add(Held(4, 30));
  ASSERT_TRUE(held.Remove(2).has_value());
  EXPECT_FALSE(held.Remove(2).has_value());
  std::vector<HeldRequest> gone = held.RemoveConnection(10);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].order, 1u);
  EXPECT_EQ(gone[1].order, 3u);
  std::vector<HeldRequest> rest = held.TakeAllInOrder();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].order, 4u);
}

}  // namespace
}  // namespace gridhub::hub
