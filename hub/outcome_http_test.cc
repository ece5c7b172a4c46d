#include "hub/outcome_http.h"

#include <gtest/gtest.h>

namespace gridhub::hub {
namespace {

TEST(OutcomeHttpTest, TicketRefusalsHaveTheTicketApisStatuses) {
  EXPECT_EQ(TicketRefusalStatus(ErrorCode::kUnsatisfiable), 422);
  EXPECT_EQ(TicketRefusalStatus(ErrorCode::kQueueFull), 429);
  EXPECT_EQ(TicketRefusalStatus(ErrorCode::kRunLimit), 429);
  EXPECT_EQ(TicketRefusalStatus(ErrorCode::kNoWait), 429);
  EXPECT_EQ(TicketRefusalStatus(ErrorCode::kSessionNotCreated), 500);
  EXPECT_EQ(TicketRefusalStatus(ErrorCode::kInvalidArgument), 400);
}

TEST(OutcomeHttpTest, TakeAnswersEachOutcome) {
  EXPECT_EQ(TakeAnswer({TakeOutcome::kSession, "{\"value\":{}}", {}}).status, 200);
  EXPECT_EQ(TakeAnswer({TakeOutcome::kSession, "{\"value\":{}}", {}}).body, "{\"value\":{}}");
  HttpAnswer waiting = TakeAnswer({TakeOutcome::kWaiting, "", {ErrorCode::kUnavailable, "w"}});
  EXPECT_EQ(waiting.status, 503);
  EXPECT_NE(waiting.body.find("\"message\":\"w\""), std::string::npos) << waiting.body;
  EXPECT_EQ(TakeAnswer({TakeOutcome::kUnknown, "", {ErrorCode::kNotFound, ""}}).status, 404);
  EXPECT_EQ(TakeAnswer({TakeOutcome::kWrongToken, "", {ErrorCode::kForbidden, ""}}).status, 403);
  HttpAnswer failed =
      TakeAnswer({TakeOutcome::kFailed, "", {ErrorCode::kSessionNotCreated, "driver crashed"}});
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("session not created"), std::string::npos) << failed.body;
}

TEST(OutcomeHttpTest, W3CAnswerUsesTheW3CTable) {
  EXPECT_EQ(W3CAnswer(std::string("{}")).status, 200);
  HttpAnswer error = W3CAnswer(Error{ErrorCode::kQueueFull, "full"});
  EXPECT_EQ(error.status, 500);
  EXPECT_NE(error.body.find("session not created"), std::string::npos);
}

}  // namespace
}  // namespace gridhub::hub
