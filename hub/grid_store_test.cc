// The Grid as the dispatcher of several hubs (DESIGN §8): the store journal, abdication and
// adoption from the store.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hub/grid.h"
#include "hub/grid_fakes.h"
#include "hub/outcome_http.h"
#include "hub/ticket_record.h"

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

// What StoreWriter leaves in the store, as text: the changes applied in order.
struct StoredGrid {
  std::map<std::string, std::string> nodes;
  std::map<std::string, std::string> routes;
  std::map<std::string, std::string> tickets;

  void Apply(const std::vector<StoreChange>& changes) {
    for (const StoreChange& change : changes) {
      switch (change.kind) {
        case Kind::kNodePut:
          nodes[change.node_id.str()] = change.registration;
          break;
        case Kind::kNodeRemoved:
          nodes.erase(change.node_id.str());
          break;
        case Kind::kSessionPut:
          routes[change.session.id.str()] = RouteToJson(change.session).dump();
          break;
        case Kind::kSessionEnded:
          routes.erase(change.session.id.str());
          break;
        case Kind::kTicketPut:
          tickets[change.ticket.id] = TicketToJson(change.ticket).dump();
          break;
        case Kind::kTicketRemoved:
          tickets.erase(change.ticket.id);
          break;
      }
    }
  }
  // The tickets as a new dispatcher reads them, newest first (the store keeps no order).
  std::vector<TicketRecord> TicketRecords() const {
    std::vector<TicketRecord> records;
    for (const auto& [id, text] : tickets) {
      Result<TicketRecord> record = TicketFromJson(json::parse(text));
      EXPECT_TRUE(record.ok()) << text;
      if (record.ok()) records.push_back(std::move(*record));
    }
    std::sort(records.begin(), records.end(),
              [](const TicketRecord& a, const TicketRecord& b) { return a.sequence > b.sequence; });
    return records;
  }
  std::vector<SessionRecord> RouteRecords() const {
    std::vector<SessionRecord> records;
    for (const auto& [id, text] : routes) records.push_back(*RouteFromJson(json::parse(text)));
    return records;
  }
};

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

  // A ticket for kUat: {id, token}.
  std::pair<std::string, std::string> OpenTicket(Effects* effects) {
    Result<json> ticket = grid_->CreateTicket(Spec(kUat), "run-t", effects, "http://front:4444");
    EXPECT_TRUE(ticket.ok());
    if (!ticket.ok()) return {};
    return {(*ticket)["id"].get<std::string>(), (*ticket)["token"].get<std::string>()};
  }
  // n1 registered, the journal on, and a ticket READY with session s1 (taking the cap of 1).
  std::pair<std::string, std::string> StartWithAReadyTicket(Effects* effects) {
    Register(Node("n1", 2));
    grid_->StartStoreJournal();
    auto ticket = OpenTicket(effects);
    const CreateJob job = effects->creates.at(0);
    grid_->OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
    return ticket;
  }
  // The grid's dispatcher dies; a fresh one (the same clock and ids) takes over what `store`
  // holds, as TakeOver does. Returns AdoptTickets' count of skipped tickets.
  size_t TakeOverFrom(const StoredGrid& store, Effects* effects) {
    grid_->Abdicate({ErrorCode::kUnavailable, "killed"});
    grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
    for (const auto& [id, body] : store.nodes) {
      Result<NodeRegistration> node = ParseNodeRegistration(json::parse(body));
      EXPECT_TRUE(node.ok());
      std::vector<SessionRecord> sessions;
      for (SessionRecord& r : store.RouteRecords()) {
        if (r.node_id.str() == id) sessions.push_back(std::move(r));
      }
      EXPECT_TRUE(grid_->AdoptNode(std::move(*node), body, std::move(sessions), effects).ok());
    }
    size_t skipped = grid_->AdoptTickets(store.TicketRecords(), effects);
    grid_->StartStoreJournal();
    return skipped;
  }

  FakeClock clock_;
  CountingIds ids_;
  // Whatever a test did, the room index and the published node views agree with the nodes.
  void TearDown() override {
    if (grid_) {
      EXPECT_EQ(grid_->IndexProblem(), "");
    }
  }

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

TEST_F(GridStoreTest, TicketsAreJournaledThroughTheirLifeOnlyWhileTheJournalRuns) {
  Register(Node("n1", 2));
  Effects effects;
  auto [before_id, before_token] = OpenTicket(&effects);  // granted at once (cap 1)
  EXPECT_TRUE(grid_->TakeStoreChanges().empty());         // a single hub records nothing
  grid_->StartStoreJournal();
  auto [waiting_id, waiting_token] = OpenTicket(&effects);  // the cap is taken: it waits
  std::vector<StoreChange> changes = grid_->TakeStoreChanges();
  ASSERT_EQ(changes.size(), 3u);  // node, the first (granted, still WAITING), the second
  ASSERT_EQ(changes[1].kind, Kind::kTicketPut);
  EXPECT_EQ(changes[1].ticket.id, before_id);
  ASSERT_EQ(changes[2].kind, Kind::kTicketPut);
  const TicketRecord& waiting = changes[2].ticket;
  EXPECT_EQ(waiting.id, waiting_id);
  EXPECT_EQ(waiting.token, waiting_token);
  EXPECT_EQ(waiting.state, TicketState::kWaiting);
  EXPECT_GT(waiting.sequence, changes[1].ticket.sequence);
  EXPECT_EQ(waiting.label, "appa:uat");
  EXPECT_EQ(waiting.run_id, "run-t");
  EXPECT_EQ(waiting.public_base, "http://front:4444");
  EXPECT_EQ(waiting.capabilities, json({{"firstMatch", {kUat}}}));
  EXPECT_GT(waiting.deadline, waiting.enqueued_at);

  // The granted one's session is created: its route, then the ticket READY.
  ASSERT_EQ(effects.creates.size(), 1u);
  const CreateJob& job = effects.creates[0];
  grid_->OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created("s1"));
  changes = grid_->TakeStoreChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind, Kind::kSessionPut);
  ASSERT_EQ(changes[1].kind, Kind::kTicketPut);
  EXPECT_EQ(changes[1].ticket.state, TicketState::kReady);
  EXPECT_EQ(changes[1].ticket.session, SessionId("s1"));
  EXPECT_NE(changes[1].ticket.body.find("s1"), std::string::npos);

  // Taken, deleted: gone from the store. A take that gets nothing removes nothing.
  EXPECT_EQ(grid_->TakeTicket(waiting_id, waiting_token).outcome, TakeOutcome::kWaiting);
  EXPECT_EQ(grid_->TakeTicket(before_id, "wrong").outcome, TakeOutcome::kWrongToken);
  EXPECT_TRUE(grid_->TakeStoreChanges().empty());
  EXPECT_EQ(grid_->TakeTicket(before_id, before_token).outcome, TakeOutcome::kSession);
  ASSERT_TRUE(grid_->DeleteTicket(waiting_id, waiting_token, &effects).ok());
  changes = grid_->TakeStoreChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].kind, Kind::kTicketRemoved);
  EXPECT_EQ(changes[0].ticket.id, before_id);
  EXPECT_EQ(changes[1].kind, Kind::kTicketRemoved);
  EXPECT_EQ(changes[1].ticket.id, waiting_id);
}

TEST_F(GridStoreTest, LapsedAndTimedOutTicketsLeaveTheStoreAndFailedOnesKeepTheirError) {
  settings_.queue.abandon_after = 10s;
  settings_.queue.timeout = 15s;
  grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
  Register(Node("n1", 2));
  grid_->StartStoreJournal();
  Effects effects;
  auto [granted, granted_token] = OpenTicket(&effects);  // its creation never answers
  auto [abandoned, abandoned_token] = OpenTicket(&effects);
  auto [timed_out, timed_out_token] = OpenTicket(&effects);
  auto [cancelled, cancelled_token] = OpenTicket(&effects);
  StoredGrid store;
  store.Apply(grid_->TakeStoreChanges());
  ASSERT_EQ(store.tickets.size(), 4u);
  // An operator cancels the last waiter: its ticket is FAILED, with why, for one take.
  const json queue = grid_->QueueJson()["value"];
  ASSERT_EQ(queue.size(), 3u);
  ASSERT_TRUE(grid_->CancelWaiter(queue.back()["id"].get<std::string>(), &effects).ok());
  store.Apply(grid_->TakeStoreChanges());
  Result<TicketRecord> failed = TicketFromJson(json::parse(store.tickets.at(cancelled)));
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->state, TicketState::kFailed);
  EXPECT_EQ(failed->error.code, ErrorCode::kSessionNotCreated);
  EXPECT_EQ(failed->error.message, "cancelled by an operator");

  clock_.Advance(8s);
  ASSERT_TRUE(grid_->TicketHeartbeat(granted, granted_token).ok());
  ASSERT_TRUE(grid_->TicketHeartbeat(timed_out, timed_out_token).ok());
  clock_.Advance(4s);  // `abandoned` lapses
  grid_->Tick();
  store.Apply(grid_->TakeStoreChanges());
  EXPECT_EQ(store.tickets.count(abandoned), 0u);
  EXPECT_EQ(store.tickets.count(timed_out), 1u);
  clock_.Advance(3s);  // queue.timeout: an expired ticket is simply gone, granted or waiting
  grid_->Tick();
  store.Apply(grid_->TakeStoreChanges());
  EXPECT_EQ(store.tickets.count(timed_out), 0u);
  EXPECT_EQ(store.tickets.count(granted), 0u);
  EXPECT_EQ(store.tickets.count(cancelled), 1u);
  EXPECT_EQ(grid_->TakeTicket(cancelled, cancelled_token).outcome, TakeOutcome::kFailed);
  store.Apply(grid_->TakeStoreChanges());
  EXPECT_TRUE(store.tickets.empty());
}

TEST_F(GridStoreTest, ANewDispatcherServesStoredTicketsInTheirOrderAndEndsALapsedOnesSession) {
  settings_.queue.ready_ttl = 5s;  // well within hub.node-timeout: the node stays UP unheard
  grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
  Effects effects;
  auto [ready, ready_token] = StartWithAReadyTicket(&effects);
  auto [first, first_token] = OpenTicket(&effects);    // waits: the cap of 1 is taken
  auto [second, second_token] = OpenTicket(&effects);  // waits behind it
  StoredGrid store;
  store.Apply(grid_->TakeStoreChanges());

  Effects adopted;
  EXPECT_EQ(TakeOverFrom(store, &adopted), 0u);  // fed newest first
  EXPECT_TRUE(adopted.creates.empty());          // s1 still holds the cap
  Result<json> status = grid_->TicketStatus(first, first_token);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ((*status)["status"], "waiting");
  EXPECT_EQ((*status)["position"], 1);
  EXPECT_EQ((*grid_->TicketStatus(second, second_token))["position"], 2);
  EXPECT_EQ(grid_->TicketStatus(second, "wrong").error().code, ErrorCode::kForbidden);
  EXPECT_EQ((*grid_->TicketStatus(ready, ready_token))["status"], "ready");
  // The new journal writes every ticket again (an emptied store is filled).
  StoredGrid rewritten;
  rewritten.Apply(grid_->TakeStoreChanges());
  EXPECT_EQ(rewritten.tickets.size(), 3u);
  EXPECT_EQ(rewritten.routes.size(), 1u);

  // Nobody takes the ready one: at its ready-ttl (counted from the take-over) its adopted
  // session ends on the node, and the cap goes to the oldest waiting ticket.
  clock_.Advance(settings_.queue.ready_ttl - 1s);
  ASSERT_TRUE(grid_->TicketHeartbeat(first, first_token).ok());
  ASSERT_TRUE(grid_->TicketHeartbeat(second, second_token).ok());
  EXPECT_TRUE(grid_->Tick().deletes.empty());
  clock_.Advance(1s);
  Effects lapsed = grid_->Tick();
  ASSERT_EQ(lapsed.deletes.size(), 1u);
  EXPECT_EQ(lapsed.deletes[0].session_id, SessionId("s1"));
  ASSERT_EQ(lapsed.creates.size(), 1u);
  EXPECT_EQ(grid_->TakeTicket(ready, ready_token).outcome, TakeOutcome::kUnknown);
  const CreateJob next = lapsed.creates[0];
  grid_->OnCreateResult(next.request, next.node_id, next.node_uri, next.slot_id, Created("s2"));
  TicketBook::Taken taken = grid_->TakeTicket(first, first_token);
  ASSERT_EQ(taken.outcome, TakeOutcome::kSession);
  EXPECT_NE(taken.body.find("s2"), std::string::npos);
  EXPECT_EQ(grid_->TakeTicket(second, second_token).outcome, TakeOutcome::kWaiting);
  EXPECT_EQ(next.public_base, "http://front:4444");
}

TEST_F(GridStoreTest, ANewDispatcherHandsOverReadyAndFailedTicketsAndFailsWhatItCannotQueue) {
  Effects effects;
  auto [ready, ready_token] = StartWithAReadyTicket(&effects);
  auto [waiting, waiting_token] = OpenTicket(&effects);
  StoredGrid store;
  store.Apply(grid_->TakeStoreChanges());
  // A failed ticket and one that does not make a request any more, as another hub wrote them.
  TicketRecord failed{.id = "failed",
                      .token = "tok",
                      .sequence = 1,
                      .state = TicketState::kFailed,
                      .error = {ErrorCode::kUnsatisfiable, "nothing serves it"}};
  store.tickets["failed"] = TicketToJson(failed).dump();
  TicketRecord broken = failed;
  broken.id = "broken";
  broken.state = TicketState::kWaiting;
  broken.capabilities = {{"firstMatch", {{{"browserName", 7}}}}};
  store.tickets["broken"] = TicketToJson(broken).dump();
  // The new dispatcher's queue holds no waiter for the cap's label any more.
  settings_.queue.max_per_label = 0;

  Effects adopted;
  EXPECT_EQ(TakeOverFrom(store, &adopted), 1u);  // "broken"
  EXPECT_EQ(grid_->footprint().tickets, 3u);
  TicketBook::Taken taken = grid_->TakeTicket(ready, ready_token);
  ASSERT_EQ(taken.outcome, TakeOutcome::kSession);
  EXPECT_NE(taken.body.find("s1"), std::string::npos);
  EXPECT_TRUE(grid_->FindSession(SessionId("s1")).has_value());  // the session lives on
  taken = grid_->TakeTicket("failed", "tok");
  ASSERT_EQ(taken.outcome, TakeOutcome::kFailed);
  EXPECT_EQ(taken.error.code, ErrorCode::kUnsatisfiable);
  taken = grid_->TakeTicket(waiting, waiting_token);
  ASSERT_EQ(taken.outcome, TakeOutcome::kFailed);
  EXPECT_EQ(taken.error.code, ErrorCode::kQueueFull);
  EXPECT_EQ(grid_->footprint().tickets, 0u);
  EXPECT_EQ(grid_->footprint().waiters, 0u);
}

}  // namespace
}  // namespace gridhub::hub
