// The Grid as the dispatcher of several hubs (DESIGN §8): the store journal, abdication and
// adoption from the store.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/grid.h"
#include "hub/grid_fakes.h"
#include "hub/outcome_http.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Kind = StoreChange::Kind;

matching::NewSessionSpec Spec(json always) {
  auto spec = matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", always}}}});
  EXPECT_TRUE(spec.ok());
  return std::move(*spec);
}

// One slot "s" labelled AppA: a request for label AppA:UAT falls back to it and counts under
// appa:uat, not under the slot's own label appa.
json Node(const std::string& id, int max_sessions, const std::string& label = "AppA") {
  json slot = {
      {"id", "s"}, {"maxSessions", max_sessions}, {"stereotype", {{"browserName", "chrome"}}}};
  if (!label.empty()) slot["label"] = label;
  return {{"id", id}, {"uri", "http://" + id + ":5555"}, {"slots", {slot}}};
}

const json kUat = {{"browserName", "chrome"}, {"gridhub:label", "AppA:UAT"}};

class GridStoreTest : public ::testing::Test {
 protected:
  GridStoreTest() {
    settings_.queue.registration_grace = 0s;
    settings_.queue.concurrency_caps = {{"appa:uat", 1}};
    grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
  }
  void Register(const json& node) {
    Result<NodeRegistration> parsed = ParseNodeRegistration(node);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    Effects effects;
    ASSERT_TRUE(grid_->RegisterNode(std::move(*parsed), &effects, node.dump()).ok());
  }
  Effects Submit(const std::string& run_id = "", uint64_t connection = 0) {
    return grid_->SubmitNewSession(Spec(kUat), run_id, false,
                                   ReplyTarget{.connection_id = connection});
  }
  // A granted request's session, created.
  void Create(const std::string& session, const std::string& run_id) {
    Effects submitted = Submit(run_id);
    ASSERT_EQ(submitted.creates.size(), 1u);
    const CreateJob& job = submitted.creates[0];
    CreateAnswer answer = Created(session);
    answer.sockets.bidi = true;
    grid_->OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, std::move(answer));
  }

  FakeClock clock_;
  CountingIds ids_;
  config::Settings settings_;
  std::unique_ptr<Grid> grid_;
};

TEST_F(GridStoreTest, NothingIsRecordedUntilTheJournalStarts) {
  Register(Node("n1", 2));
  Create("s1", "r1");
  grid_->EndSession(SessionId("s1"));
  EXPECT_TRUE(grid_->TakeStoreChanges().empty());
}

TEST_F(GridStoreTest, JournalStartsWithTheGridThenRecordsEachChangeInOrder) {
  Register(Node("n1", 2));
  Create("s1", "r1");
  grid_->StartStoreJournal();
  std::vector<StoreChange> image = grid_->TakeStoreChanges();
  ASSERT_EQ(image.size(), 2u);
  EXPECT_EQ(image[0].kind, Kind::kNodePut);
  EXPECT_EQ(image[0].node_id, NodeId("n1"));
  EXPECT_EQ(json::parse(image[0].registration), Node("n1", 2));
  ASSERT_EQ(image[1].kind, Kind::kSessionPut);
  const SessionRecord& s1 = image[1].session;
  EXPECT_EQ(s1.id, SessionId("s1"));
  EXPECT_EQ(s1.node_id, NodeId("n1"));
  EXPECT_EQ(s1.node_uri, "http://n1:5555");
  EXPECT_EQ(s1.slot_id, SlotId("s"));
  EXPECT_EQ(s1.label, "appa:uat");
  EXPECT_EQ(s1.run_id, "r1");
  EXPECT_TRUE(s1.sockets.bidi);
  EXPECT_EQ(s1.capabilities["se:gridhubNode"], "n1");
  EXPECT_TRUE(grid_->TakeStoreChanges().empty());

  grid_->EndSession(SessionId("s1"));
  Create("s2", "");
  Effects effects;
  ASSERT_TRUE(grid_->Deregister(NodeId("n1"), &effects));
  std::vector<StoreChange> changes = grid_->TakeStoreChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].kind, Kind::kSessionEnded);
  EXPECT_EQ(changes[0].session.id, SessionId("s1"));
  EXPECT_EQ(changes[1].kind, Kind::kSessionPut);
  EXPECT_EQ(changes[1].session.id, SessionId("s2"));
  EXPECT_EQ(changes[2].kind, Kind::kSessionEnded);
  EXPECT_EQ(changes[2].session.id, SessionId("s2"));
  EXPECT_EQ(changes[3].kind, Kind::kNodeRemoved);
  EXPECT_EQ(changes[3].node_id, NodeId("n1"));
}

TEST_F(GridStoreTest, AbdicatingAnswersWaitersAndForgetsSessionsWithoutEndingThem) {
  Register(Node("n1", 1));
  Register(Node("n2", 1, ""));  // unlabelled: serves requests by browser name
  Create("s1", "r1");           // n1's slot
  grid_->StartStoreJournal();
  Effects waiting = Submit("r2", 7);  // capped: waits
  ASSERT_TRUE(waiting.creates.empty());
  Effects ticket_effects;
  Result<json> ticket = grid_->CreateTicket(Spec(kUat), "", &ticket_effects);
  ASSERT_TRUE(ticket.ok());
  Effects in_flight = grid_->SubmitNewSession(Spec({{"browserName", "chrome"}}), "", false,
                                              ReplyTarget{.connection_id = 8});
  ASSERT_EQ(in_flight.creates.size(), 1u);  // on n2
  grid_->TakeEndedSessions();

  Effects effects = grid_->Abdicate({ErrorCode::kUnavailable, "the dispatcher moved"});
  EXPECT_TRUE(effects.deletes.empty());
  EXPECT_TRUE(effects.creates.empty());
  EXPECT_TRUE(effects.events.empty());    // nothing ended, nothing was refused
  ASSERT_EQ(effects.replies.size(), 2u);  // the held request and the one being created
  for (const Reply& reply : effects.replies) {
    EXPECT_EQ(StatusOf(reply), 502);
    EXPECT_NE(BodyOf(reply).find("the dispatcher moved"), std::string::npos);
  }
  EXPECT_TRUE(grid_->TakeEndedSessions().empty());
  EXPECT_TRUE(grid_->TakeStoreChanges().empty());
  EXPECT_FALSE(grid_->FindSession(SessionId("s1")).has_value());
  EXPECT_EQ(
      grid_->TicketStatus((*ticket)["id"], (*ticket)["token"].get<std::string>()).error().code,
      ErrorCode::kNotFound);
  EXPECT_TRUE(grid_->snapshot()->nodes.empty());
  EXPECT_EQ(grid_->snapshot()->queue_size, 0u);
  EXPECT_EQ(grid_->QueueCounters()["appa:uat"].active, 0u);
  EXPECT_EQ(grid_->footprint().sessions, 0u);
  EXPECT_EQ(grid_->footprint().tickets, 0u);

  // The creation in flight answers later: nobody may use that session.
  const CreateJob& job = in_flight.creates[0];
  Effects late =
      grid_->OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s9"));
  ASSERT_EQ(late.deletes.size(), 1u);
  EXPECT_EQ(late.deletes[0].session_id, SessionId("s9"));
  EXPECT_TRUE(late.replies.empty());
  EXPECT_EQ(grid_->footprint().waiters, 0u);
  EXPECT_TRUE(grid_->TakeStoreChanges().empty());  // the journal stopped
}

TEST_F(GridStoreTest, AdoptedSessionsKeepTheirLabelAndRunSoCapsCountThemExactly) {
  Register(Node("n1", 2));
  grid_->StartStoreJournal();
  Create("s1", "r1");
  std::vector<StoreChange> stored = grid_->TakeStoreChanges();
  ASSERT_EQ(stored.size(), 2u);
  const std::string registration = stored[0].registration;
  // Through the store's text, as a new dispatcher reads it.
  Result<SessionRecord> record = RouteFromJson(json::parse(RouteToJson(stored[1].session).dump()));
  ASSERT_TRUE(record.ok());
  grid_->Abdicate({ErrorCode::kUnavailable, "lease lost"});

  Result<NodeRegistration> node = ParseNodeRegistration(json::parse(registration));
  ASSERT_TRUE(node.ok());
  Effects effects;
  ASSERT_TRUE(grid_->AdoptNode(std::move(*node), registration, {*record}, &effects).ok());
  std::optional<SessionRoute> route = grid_->FindSession(SessionId("s1"));
  ASSERT_TRUE(route.has_value());
  EXPECT_EQ(route->label, "appa:uat");  // not its slot's label, appa
  EXPECT_EQ(route->run_id, "r1");
  EXPECT_TRUE(route->sockets.bidi);
  EXPECT_EQ(grid_->QueueCounters()["appa:uat"].active, 1u);
  // The cap of 1 holds although the slot has a free unit.
  EXPECT_TRUE(Submit().creates.empty());
  EXPECT_EQ(grid_->EndSession(SessionId("s1")).creates.size(), 1u);
}

TEST_F(GridStoreTest, ARecordWithoutRoomIsNotAdoptedAndItsRouteIsDropped) {
  grid_->StartStoreJournal();
  SessionRecord a{.id = SessionId("a"), .label = "appa:uat", .slot_id = SlotId("s")};
  SessionRecord b{.id = SessionId("b"), .label = "appa:uat"};
  const json body = Node("n1", 1);
  Result<NodeRegistration> node = ParseNodeRegistration(body);
  ASSERT_TRUE(node.ok());
  Effects effects;
  ASSERT_TRUE(grid_->AdoptNode(std::move(*node), body.dump(), {a, b}, &effects).ok());
  EXPECT_TRUE(grid_->FindSession(SessionId("a")).has_value());
  EXPECT_FALSE(grid_->FindSession(SessionId("b")).has_value());
  std::vector<StoreChange> changes = grid_->TakeStoreChanges();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].kind, Kind::kNodePut);
  EXPECT_EQ(changes[1].kind, Kind::kSessionPut);
  EXPECT_EQ(changes[1].session.node_uri, "http://n1:5555");  // the node's, filled in
  EXPECT_EQ(changes[2].kind, Kind::kSessionEnded);
  EXPECT_EQ(changes[2].session.id, SessionId("b"));
}

TEST_F(GridStoreTest, ABareNodeIsAdoptedWithItsSessionsAndProbed) {
  json body = Node("bare", 1, "");
  body["healthCheck"] = "status";
  Result<NodeRegistration> node = ParseNodeRegistration(body);
  ASSERT_TRUE(node.ok());
  SessionRecord record{.id = SessionId("x"), .bare_node = true, .label = "chrome"};
  record.sockets.bidi_upstream = "ws://bare:9000/session/x";
  Effects effects;
  ASSERT_TRUE(grid_->AdoptNode(std::move(*node), body.dump(), {record}, &effects).ok());
  std::optional<SessionRoute> route = grid_->FindSession(SessionId("x"));
  ASSERT_TRUE(route.has_value());
  EXPECT_TRUE(route->bare_node);
  EXPECT_EQ(route->sockets.bidi_upstream, "ws://bare:9000/session/x");
  clock_.Advance(settings_.hub.health_check_period);
  EXPECT_EQ(grid_->Tick().probes.size(), 1u);
}

TEST_F(GridStoreTest, ACreationOrphanedByAbdicationFreesNoReservationOfTheNewNode) {
  Register(Node("n1", 1, ""));
  const json chrome = {{"browserName", "chrome"}};
  CreateJob old = grid_->SubmitNewSession(Spec(chrome), "", false, {}).creates.at(0);
  grid_->Abdicate({ErrorCode::kUnavailable, "lease lost"});
  Register(Node("n1", 1, ""));  // the same node, registered again on a fresh grid
  CreateJob fresh = grid_->SubmitNewSession(Spec(chrome), "", false, {}).creates.at(0);
  EXPECT_EQ(fresh.node_id, NodeId("n1"));
  grid_->OnCreateResult(old.request, old.node_id, old.node_uri, old.slot_id, Created("late"));
  // n1's only unit is still reserved for `fresh`.
  EXPECT_TRUE(grid_->SubmitNewSession(Spec(chrome), "", false, {}).creates.empty());
}

}  // namespace
}  // namespace gridhub::hub
