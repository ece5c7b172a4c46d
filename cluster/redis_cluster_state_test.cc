#include "cluster/redis_cluster_state.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_keys.h"
#include "redis/redis_connection.h"
#include "redis/testing/redis_server.h"

namespace gridhub::cluster {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using redis::testing::RedisServer;

// Short timings: lease 500 ms, a round every 167 ms, a leader without the store steps down
// 300 ms after its last renewal began.
constexpr milliseconds kPeerTimeout(1000);
constexpr milliseconds kLeaseTtl(500);
constexpr milliseconds kCommandTimeout(100);
// How long a test waits for something that should happen within a round or a lease.
constexpr milliseconds kPatience(5000);

// One hub's ClusterState and everything its callbacks reported.
struct TestHub {
  std::mutex mu;
  std::condition_variable cv;
  int elected = 0;
  int deposed = 0;
  int resets = 0;
  std::string deposed_why;
  std::vector<bool> store_states;
  std::vector<std::string> ended;
  std::vector<std::string> settings;
  // Last, so it stops (and joins the threads calling back) before the rest is destroyed.
  std::unique_ptr<ClusterState> state;

  ClusterCallbacks Callbacks() {
    auto note = [this](auto change) {
      {
        std::lock_guard<std::mutex> lock(mu);
        change();
      }
      cv.notify_all();
    };
    return {
        .on_elected = [this, note] { note([this] { ++elected; }); },
        .on_deposed =
            [this, note](std::string_view why) {
              note([this, w = std::string(why)] {
                ++deposed;
                deposed_why = w;
              });
            },
        .on_leader_changed = [](const std::optional<PeerHub>&) {},
        .on_session_ended =
            [this, note](const std::string& id) { note([this, id] { ended.push_back(id); }); },
        .on_settings = [this,
                        note](const std::string& s) { note([this, s] { settings.push_back(s); }); },
        .on_store_state =
            [this, note](bool up, std::string_view) {
              note([this, up] { store_states.push_back(up); });
            },
        .on_store_reset = [this, note] { note([this] { ++resets; }); },
    };
  }

  // Waits (bounded) until `done` holds under the lock.
  template <typename Predicate>
  bool WaitFor(Predicate done, milliseconds timeout = kPatience) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, done);
  }
};

class RedisClusterStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!RedisServer::Available()) GTEST_SKIP() << RedisServer::kBinary << " is not installed";
    ASSERT_TRUE(server_.Start()) << server_.last_error();
    redis_ = std::make_unique<redis::RedisConnection>(redis::RedisOptions{.url = server_.url()});
  }

  RedisClusterOptions Options(const std::string& id) {
    return {.url = server_.url(),
            .self = {.id = id, .url = "http://127.0.0.1:4444/" + id},
            .peer_timeout = kPeerTimeout,
            .lease_ttl = kLeaseTtl,
            .command_timeout = kCommandTimeout};
  }

  // Starts `n` hubs, hub-0 ... hub-(n-1).
  void StartHubs(int n) {
    for (int i = 0; i < n; ++i) {
      auto hub = std::make_unique<TestHub>();
      hub->state = MakeRedisClusterState(Options("hub-" + std::to_string(i)));
      ASSERT_TRUE(hub->state->Start(hub->Callbacks()).ok());
      hubs_.push_back(std::move(hub));
    }
  }

  // Polls (bounded) until exactly one running hub leads and every running hub knows it.
  TestHub* WaitForOneLeader() {
    const auto deadline = SteadyClock::now() + kPatience;
    while (SteadyClock::now() < deadline) {
      TestHub* leader = nullptr;
      int leaders = 0;
      bool agreed = true;
      for (auto& hub : hubs_) {
        if (!running(*hub)) continue;
        if (hub->state->IsLeader()) {
          ++leaders;
          leader = hub.get();
        }
      }
      for (auto& hub : hubs_) {
        if (running(*hub) && leader != nullptr) {
          agreed = agreed && hub->state->Leader() == leader->state->self();
        }
      }
      if (leaders == 1 && agreed) return leader;
      ::poll(nullptr, 0, 10);
    }
    return nullptr;
  }

  bool running(const TestHub& hub) const { return hub.state != nullptr; }

  std::optional<std::string> Get(const std::string& key) {
    Result<redis::Reply> reply = redis_->Command("GET", key);
    if (!reply.ok() || !reply->is_string()) return std::nullopt;
    return reply->str();
  }

  RedisServer server_;
  std::unique_ptr<redis::RedisConnection> redis_;
  std::vector<std::unique_ptr<TestHub>> hubs_;
};

TEST_F(RedisClusterStateTest, ExactlyOneOfThreeLeadsAndAllKnowItsUrl) {
  StartHubs(3);
  TestHub* leader = WaitForOneLeader();
  ASSERT_NE(leader, nullptr);
  EXPECT_EQ(Get(ClusterKeys::Leader()), ClusterKeys::LeaseOwner(leader->state->self()));
  EXPECT_TRUE(leader->WaitFor([&] { return leader->elected == 1; }));
  for (auto& hub : hubs_) {
    EXPECT_TRUE(hub->state->Health().ok());
    EXPECT_FALSE(hub->state->PeerSecret().empty());
    EXPECT_EQ(hub->state->PeerSecret(), leader->state->PeerSecret());
    EXPECT_EQ(Get(ClusterKeys::Hub(hub->state->self().id)), hub->state->self().url);
  }
}

TEST_F(RedisClusterStateTest, CleanStopOfTheLeaderReleasesTheLeaseForAnother) {
  StartHubs(2);
  TestHub* leader = WaitForOneLeader();
  ASSERT_NE(leader, nullptr);
  const std::string leader_id = leader->state->self().id;
  leader->state->Stop();
  // Released at once, not left to expire: the other hub's next round takes it.
  const std::optional<std::string> holder = Get(ClusterKeys::Leader());
  EXPECT_TRUE(!holder || holder->rfind(leader_id + " ", 0) != 0) << *holder;
  EXPECT_EQ(Get(ClusterKeys::Hub(leader_id)), std::nullopt);
  leader->state.reset();
  TestHub* next = WaitForOneLeader();
  ASSERT_NE(next, nullptr);
  EXPECT_NE(next->state->self().id, leader_id);
  EXPECT_FALSE(next->state->PeerAlive(leader_id));
}

TEST_F(RedisClusterStateTest, KilledStoreDeposesTheLeaderWithinTheLeaseAndRestartHeals) {
  StartHubs(2);
  TestHub* leader = WaitForOneLeader();
  ASSERT_NE(leader, nullptr);
  const auto killed = SteadyClock::now();
  server_.Kill();
  ASSERT_TRUE(leader->WaitFor([&] { return leader->deposed == 1; }));
  // Stepped down before its lease could lapse on the server (plus scheduling slack).
  EXPECT_LT(SteadyClock::now() - killed, kLeaseTtl + milliseconds(500));
  EXPECT_FALSE(leader->state->IsLeader());
  EXPECT_NE(leader->deposed_why.find("state store redis://127.0.0.1:"), std::string::npos)
      << leader->deposed_why;
  for (auto& hub : hubs_) {
    ASSERT_TRUE(hub->WaitFor([&] { return !hub->store_states.empty(); }));
    EXPECT_EQ(hub->store_states.front(), false);
    Status health = hub->state->Health();
    ASSERT_FALSE(health.ok());
    EXPECT_NE(health.error().message.find("state store redis://127.0.0.1:" +
                                          std::to_string(server_.port())),
              std::string::npos)
        << health.error().message;
  }
  ASSERT_TRUE(server_.Restart()) << server_.last_error();
  ASSERT_NE(WaitForOneLeader(), nullptr);
  for (auto& hub : hubs_) {
    // Back, and the empty store was noticed as a reset.
    EXPECT_TRUE(hub->WaitFor([&] { return hub->store_states.size() == 2 && hub->resets == 1; }));
    EXPECT_TRUE(hub->state->Health().ok());
  }
}

TEST_F(RedisClusterStateTest, PausedStoreDeposesTheLeaderAndResumeElectsAgain) {
  StartHubs(2);
  TestHub* leader = WaitForOneLeader();
  ASSERT_NE(leader, nullptr);
  server_.Pause();
  EXPECT_TRUE(leader->WaitFor([&] { return leader->deposed == 1; }));
  for (auto& hub : hubs_) EXPECT_FALSE(hub->state->IsLeader());
  server_.Resume();
  EXPECT_NE(WaitForOneLeader(), nullptr);
  for (auto& hub : hubs_) {
    EXPECT_TRUE(hub->WaitFor([&] { return hub->store_states == std::vector<bool>{false, true}; }));
  }
}

TEST_F(RedisClusterStateTest, FlushAllFiresStoreResetOnEveryHubAndALeaderReturns) {
  StartHubs(3);
  ASSERT_NE(WaitForOneLeader(), nullptr);
  ASSERT_TRUE(redis_->Command("FLUSHALL").ok());
  for (auto& hub : hubs_) {
    EXPECT_TRUE(hub->WaitFor([&] { return hub->resets == 1; })) << hub->state->self().id;
  }
  ASSERT_NE(WaitForOneLeader(), nullptr);
  const std::optional<std::string> secret = Get(ClusterKeys::PeerSecret());
  ASSERT_TRUE(secret.has_value());
  for (auto& hub : hubs_) {
    EXPECT_EQ(hub->state->PeerSecret(), *secret);
    EXPECT_EQ(hub->resets, 1);
  }
}

TEST_F(RedisClusterStateTest, EndedRouteReachesEveryHub) {
  StartHubs(2);
  ClusterState& a = *hubs_[0]->state;
  ClusterState& b = *hubs_[1]->state;
  ASSERT_TRUE(a.PutRoute("s1", R"({"node":"n1"})").ok());
  ASSERT_TRUE(a.PutRoute("s2", R"({"node":"n2"})").ok());
  Result<std::optional<std::string>> route = b.GetRoute("s1");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(*route, R"({"node":"n1"})");
  Result<std::vector<std::pair<std::string, std::string>>> all = b.Routes();
  ASSERT_TRUE(all.ok());
  std::sort(all->begin(), all->end());
  EXPECT_EQ(*all, (std::vector<std::pair<std::string, std::string>>{{"s1", R"({"node":"n1"})"},
                                                                    {"s2", R"({"node":"n2"})"}}));
  ASSERT_TRUE(a.EndRoute("s1").ok());
  for (auto& hub : hubs_) {
    EXPECT_TRUE(hub->WaitFor([&] { return hub->ended == std::vector<std::string>{"s1"}; }));
  }
  route = b.GetRoute("s1");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ(*route, std::nullopt);
}

TEST_F(RedisClusterStateTest, NodesAreStoredForANewLeader) {
  StartHubs(1);
  ClusterState& a = *hubs_[0]->state;
  ASSERT_TRUE(a.PutNode("n1", "{1}").ok());
  ASSERT_TRUE(a.PutNode("n2", "{2}").ok());
  ASSERT_TRUE(a.PutNode("n1", "{1b}").ok());
  ASSERT_TRUE(a.DeleteNode("n2").ok());
  Result<std::vector<std::pair<std::string, std::string>>> nodes = a.Nodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_EQ(*nodes, (std::vector<std::pair<std::string, std::string>>{{"n1", "{1b}"}}));
}

TEST_F(RedisClusterStateTest, TicketsAreStoredForANewLeader) {
  StartHubs(2);
  ClusterState& a = *hubs_[0]->state;
  ClusterState& b = *hubs_[1]->state;
  ASSERT_TRUE(a.PutTicket("t1", R"({"state":"waiting"})").ok());
  ASSERT_TRUE(a.PutTicket("t2", R"({"state":"waiting"})").ok());
  ASSERT_TRUE(a.PutTicket("t1", R"({"state":"ready"})").ok());  // replaces t1's entry
  ASSERT_TRUE(a.DeleteTicket("t2").ok());
  ASSERT_TRUE(a.DeleteTicket("t-never").ok());  // deleting what is gone is no error
  // Another hub (the next leader) reads what the first wrote, in the one documented hash.
  Result<std::vector<std::pair<std::string, std::string>>> tickets = b.Tickets();
  ASSERT_TRUE(tickets.ok());
  EXPECT_EQ(*tickets,
            (std::vector<std::pair<std::string, std::string>>{{"t1", R"({"state":"ready"})"}}));
  Result<redis::Reply> stored = redis_->Command("HGET", ClusterKeys::Tickets(), "t1");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->str(), R"({"state":"ready"})");
  // Tickets and nodes are kept apart.
  Result<std::vector<std::pair<std::string, std::string>>> nodes = b.Nodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE(nodes->empty());
}

TEST_F(RedisClusterStateTest, SettingsReachOtherHubsButNotThePublisher) {
  StartHubs(2);
  TestHub& a = *hubs_[0];
  TestHub& b = *hubs_[1];
  ASSERT_TRUE(a.state->PublishSettings(R"({"from":"a"})").ok());
  EXPECT_TRUE(b.WaitFor([&] { return b.settings.size() == 1; }, milliseconds(1000)));
  ASSERT_TRUE(b.state->PublishSettings(R"({"from":"b"})").ok());
  // Messages arrive in publishing order: once a has b's, it would have had its own before.
  ASSERT_TRUE(a.WaitFor([&] { return !a.settings.empty(); }, milliseconds(1000)));
  EXPECT_EQ(a.settings, std::vector<std::string>{R"({"from":"b"})"});
  EXPECT_EQ(b.settings, std::vector<std::string>{R"({"from":"a"})"});
  Result<std::optional<std::string>> stored = a.state->StoredSettings();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, R"({"from":"b"})");
}

TEST_F(RedisClusterStateTest, PeerIsNotAliveOncePresenceIsOlderThanPeerTimeout) {
  StartHubs(2);
  ClusterState& a = *hubs_[0]->state;
  EXPECT_TRUE(a.PeerAlive("hub-1"));  // present once Start returned
  EXPECT_FALSE(a.PeerAlive("hub-never"));
  // A hub that died unclean: its last refresh, then nothing.
  ASSERT_TRUE(redis_
                  ->Command("SET", ClusterKeys::Hub("hub-dead"), "http://x", "PX",
                            std::to_string(kPeerTimeout.count()))
                  .ok());
  const auto refreshed = SteadyClock::now();
  EXPECT_TRUE(a.PeerAlive("hub-dead"));
  while (a.PeerAlive("hub-dead") && SteadyClock::now() - refreshed < kPatience) {
    ::poll(nullptr, 0, 10);
  }
  EXPECT_FALSE(a.PeerAlive("hub-dead"));
  EXPECT_GE(SteadyClock::now() - refreshed, kPeerTimeout - milliseconds(50));
  // A running hub's presence outlives peer_timeout: the keeper refreshes it.
  EXPECT_TRUE(a.PeerAlive("hub-1"));
}

TEST_F(RedisClusterStateTest, StartsNotReadyWhileTheStoreIsDownAndJoinsWhenItAnswers) {
  server_.Kill();
  TestHub hub;
  hub.state = MakeRedisClusterState(Options("hub-x"));
  ASSERT_TRUE(hub.state->Start(hub.Callbacks()).ok());
  Status health = hub.state->Health();
  ASSERT_FALSE(health.ok());
  EXPECT_NE(health.error().message.find("state store redis://127.0.0.1:"), std::string::npos)
      << health.error().message;
  // No secret yet, so no peer call can be believed; no dispatcher.
  EXPECT_EQ(hub.state->PeerSecret(), "");
  EXPECT_FALSE(hub.state->IsLeader());
  EXPECT_FALSE(hub.state->Leader().has_value());

  ASSERT_TRUE(server_.Restart()) << server_.last_error();
  EXPECT_TRUE(hub.WaitFor([&] { return hub.elected == 1; }));
  EXPECT_TRUE(hub.state->Health().ok());
  EXPECT_EQ(hub.state->PeerSecret(), Get(ClusterKeys::PeerSecret()).value_or("missing"));
  EXPECT_TRUE(hub.WaitFor([&] { return hub.store_states == std::vector<bool>{true}; }));
  EXPECT_EQ(hub.resets, 0);  // a first contact is no store reset
}

TEST_F(RedisClusterStateTest, StartFailsNamingTheStoreWhenItRefusesTheLogin) {
  RedisServer guarded({.password = "right-one"});
  ASSERT_TRUE(guarded.Start()) << guarded.last_error();
  for (const std::string& password : {std::string("wrong-one"), std::string()}) {
    RedisClusterOptions options = Options("hub-x");
    options.url = guarded.url();
    options.url.password = password;
    std::unique_ptr<ClusterState> state = MakeRedisClusterState(options);
    Status started = state->Start({});
    ASSERT_FALSE(started.ok()) << "password '" << password << "'";
    EXPECT_EQ(started.error().code, ErrorCode::kForbidden);
    EXPECT_NE(started.error().message.find("state store redis://"), std::string::npos)
        << started.error().message;
    state->Stop();  // nothing to stop; must not hang or crash
  }
}

}  // namespace
}  // namespace gridhub::cluster
