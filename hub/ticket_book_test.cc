#include "hub/ticket_book.h"

#include <gtest/gtest.h>

#include "hub/grid_fakes.h"

namespace gridhub::hub {
namespace {

using namespace std::chrono_literals;

class TicketBookTest : public ::testing::Test {
 protected:
  const TicketBook::Ticket& Open(queue::RequestId request = 7) {
    return book_.Open(request, "chrome", clock_.Now(), clock_.Now() + 300s);
  }

  FakeClock clock_;
  CountingIds ids_;
  TicketBook book_{clock_, ids_, {.abandon_after = 60s, .ready_ttl = 30s}};
};

TEST_F(TicketBookTest, OpensAWaitingTicketWithItsOwnIdAndToken) {
  const TicketBook::Ticket& ticket = Open();
  EXPECT_EQ(ticket.state, TicketState::kWaiting);
  EXPECT_EQ(ticket.request, 7u);
  EXPECT_EQ(ticket.label, "chrome");
  EXPECT_FALSE(ticket.id.empty());
  EXPECT_NE(ticket.id, ticket.token);
  EXPECT_EQ(book_.size(), 1u);
}

TEST_F(TicketBookTest, FindChecksTheToken) {
  const TicketBook::Ticket& ticket = Open();
  const std::string id = ticket.id;
  const std::string token = ticket.token;
  ASSERT_TRUE(book_.Find(id, token).ok());
  for (std::string_view wrong :
       {std::string_view(), std::string_view(token).substr(1), std::string_view(id)}) {
    Result<TicketBook::Ticket*> found = book_.Find(id, wrong);
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, ErrorCode::kForbidden);
  }
  Result<TicketBook::Ticket*> unknown = book_.Find("nope", token);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_F(TicketBookTest, TakeHandsAReadySessionOverOnce) {
  const TicketBook::Ticket& ticket = Open();
  const std::string id = ticket.id;
  const std::string token = ticket.token;
  EXPECT_EQ(book_.Take(id, token).outcome, TakeOutcome::kWaiting);
  EXPECT_EQ(book_.Take(id, "wrong").outcome, TakeOutcome::kWrongToken);
  book_.Finish(id, SessionId("s1"), R"({"value":{"sessionId":"s1"}})");
  EXPECT_EQ(book_.Take(id, "wrong").outcome, TakeOutcome::kWrongToken);  // still there
  TicketBook::Taken taken = book_.Take(id, token);
  EXPECT_EQ(taken.outcome, TakeOutcome::kSession);
  EXPECT_EQ(taken.body, R"({"value":{"sessionId":"s1"}})");
  EXPECT_EQ(book_.Take(id, token).outcome, TakeOutcome::kUnknown);
  EXPECT_EQ(book_.size(), 0u);
}

TEST_F(TicketBookTest, TakeHandsAFailureOverOnce) {
  const TicketBook::Ticket& ticket = Open();
  const std::string id = ticket.id;
  const std::string token = ticket.token;
  book_.Fail(id, {ErrorCode::kSessionNotCreated, "driver crashed"});
  TicketBook::Taken taken = book_.Take(id, token);
  EXPECT_EQ(taken.outcome, TakeOutcome::kFailed);
  EXPECT_EQ(taken.error.code, ErrorCode::kSessionNotCreated);
  EXPECT_EQ(taken.error.message, "driver crashed");
  EXPECT_EQ(book_.Take(id, token).outcome, TakeOutcome::kUnknown);
}

TEST_F(TicketBookTest, AWaitingTicketLapsesAbandonAfterItsLastActivity) {
  const std::string id = Open(7).id;
  EXPECT_EQ(book_.NextDeadline(), clock_.Now() + 60s);
  clock_.Advance(59s);
  EXPECT_TRUE(book_.ExpireDue().empty());
  clock_.Advance(1s);
  std::vector<TicketBook::Lapsed> lapsed = book_.ExpireDue();
  ASSERT_EQ(lapsed.size(), 1u);
  EXPECT_EQ(lapsed[0].request, 7u);
  EXPECT_EQ(lapsed[0].state, TicketState::kWaiting);
  EXPECT_EQ(book_.size(), 0u);
  EXPECT_FALSE(book_.NextDeadline().has_value());
}

TEST_F(TicketBookTest, ActivityPostponesAbandonment) {
  const TicketBook::Ticket& ticket = Open();
  const std::string id = ticket.id;
  const std::string token = ticket.token;
  clock_.Advance(50s);
  ASSERT_TRUE(book_.Find(id, token).ok());  // a poll
  EXPECT_EQ(book_.NextDeadline(), clock_.Now() + 60s);
  clock_.Advance(50s);
  EXPECT_TRUE(book_.ExpireDue().empty());
  clock_.Advance(10s);
  EXPECT_EQ(book_.ExpireDue().size(), 1u);
}

TEST_F(TicketBookTest, AFinishedTicketLapsesReadyTtlAfterItFinished) {
  const std::string id = Open(9).id;
  clock_.Advance(40s);
  book_.Finish(id, SessionId("s9"), "{}");
  EXPECT_EQ(book_.NextDeadline(), clock_.Now() + 30s);  // no longer abandon_after
  clock_.Advance(29s);
  EXPECT_TRUE(book_.ExpireDue().empty());
  clock_.Advance(1s);
  std::vector<TicketBook::Lapsed> lapsed = book_.ExpireDue();
  ASSERT_EQ(lapsed.size(), 1u);
  EXPECT_EQ(lapsed[0].state, TicketState::kReady);
  EXPECT_EQ(lapsed[0].session, SessionId("s9"));
  EXPECT_EQ(lapsed[0].request, 9u);
}

TEST_F(TicketBookTest, NewLimitsApplyToTicketsAlreadyOpen) {
  Open();
  book_.set_limits({.abandon_after = 5s, .ready_ttl = 30s});
  EXPECT_EQ(book_.NextDeadline(), clock_.Now() + 5s);
  clock_.Advance(5s);
  EXPECT_EQ(book_.ExpireDue().size(), 1u);
}

TEST_F(TicketBookTest, AnAdoptedTicketKeepsItsIdentityAndItsDeadlineRestarts) {
  TicketBook::Ticket stored{.id = "other-hub-ticket",
                            .token = "its-token",
                            .sequence = 41,
                            .label = "chrome",
                            .state = TicketState::kReady,
                            .body = "{}",
                            .session = SessionId("s1")};
  clock_.Advance(1h);
  const TicketBook::Ticket* adopted = book_.Adopt(stored);
  ASSERT_NE(adopted, nullptr);
  EXPECT_EQ(adopted->sequence, 41u);
  EXPECT_EQ(book_.Adopt(stored), nullptr);  // already open
  ASSERT_TRUE(book_.Find("other-hub-ticket", "its-token").ok());
  EXPECT_EQ(Open().sequence, 42u);  // after every adopted one
  clock_.Advance(29s);
  EXPECT_TRUE(book_.ExpireDue().empty());  // ready-ttl counts from the adoption
  clock_.Advance(1s);
  std::vector<TicketBook::Lapsed> lapsed = book_.ExpireDue();
  ASSERT_EQ(lapsed.size(), 1u);
  EXPECT_EQ(lapsed[0].id, "other-hub-ticket");
  EXPECT_EQ(lapsed[0].session, SessionId("s1"));
}

}  // namespace
}  // namespace gridhub::hub
