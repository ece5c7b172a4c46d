#include "hub/create_answer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gridhub::hub {
namespace {

using nlohmann::json;

CreateAnswer Answer(int status, const std::string& body) {
  return ClassifyCreateAnswer(status, /*transport_ok=*/true, "", body);
}

TEST(CreateAnswerTest, AW3CAnswerGivesTheSessionAndTheBodyUntouched) {
  json body = {{"value", {{"sessionId", "abc"}, {"capabilities", {{"browserName", "chrome"}}}}}};
  CreateAnswer answer = Answer(200, body.dump());
  EXPECT_EQ(answer.session_id, SessionId("abc"));
  EXPECT_EQ(answer.body, body);
  EXPECT_FALSE(answer.unreachable);
  EXPECT_EQ(answer.failure, "");
}

TEST(CreateAnswerTest, TheLegacyTopLevelSessionIdCounts) {
  CreateAnswer answer = Answer(201, R"({"sessionId":"old-1","status":0,"value":{}})");
  EXPECT_EQ(answer.session_id, SessionId("old-1"));
}

TEST(CreateAnswerTest, NoAnswerAtAllIsUnreachable) {
  CreateAnswer answer = ClassifyCreateAnswer(0, /*transport_ok=*/false, "Connection refused", "");
  EXPECT_FALSE(answer.session_id.has_value());
  EXPECT_TRUE(answer.unreachable);
  EXPECT_EQ(answer.failure, "no answer: Connection refused");
}

TEST(CreateAnswerTest, AnErrorStatusIsDescribedByItsW3CMessage) {
  CreateAnswer answer =
      Answer(500, R"({"value":{"error":"session not created","message":"driver crashed"}})");
  EXPECT_FALSE(answer.session_id.has_value());
  EXPECT_FALSE(answer.unreachable);
  EXPECT_EQ(answer.failure, "HTTP 500: driver crashed");
  EXPECT_TRUE(answer.body.is_null());
}

TEST(CreateAnswerTest, AnErrorWithoutAMessageShowsTheStartOfTheBody) {
  EXPECT_EQ(Answer(502, "Bad Gateway").failure, "HTTP 502: Bad Gateway");
  EXPECT_EQ(Answer(503, "").failure, "HTTP 503");
  EXPECT_EQ(Answer(500, std::string(300, 'x')).failure, "HTTP 500: " + std::string(200, 'x'));
  // Even an error status that names a session creates nothing.
  EXPECT_FALSE(Answer(500, R"({"value":{"sessionId":"abc"}})").session_id.has_value());
}

TEST(CreateAnswerTest, ASuccessWithoutASessionIdFails) {
  for (const char* body :
       {"", "not json", "[]", R"({"value":{"sessionId":5}})", R"({"value":{}})"}) {
    CreateAnswer answer = Answer(200, body);
    EXPECT_FALSE(answer.session_id.has_value()) << body;
    EXPECT_FALSE(answer.unreachable);
    EXPECT_EQ(answer.failure, "answer without a sessionId") << body;
  }
}

TEST(CreateAnswerTest, ASessionIdTheHubCannotRouteIsRefused) {
  for (const std::string& id : std::vector<std::string>{"../x", "a/b", "", std::string(129, 'a')}) {
    CreateAnswer answer = Answer(200, json{{"value", {{"sessionId", id}}}}.dump());
    EXPECT_FALSE(answer.session_id.has_value()) << id;
    EXPECT_FALSE(answer.unreachable);
    EXPECT_EQ(answer.failure,
              "answered with a sessionId the hub cannot route (not 1-128 of A-Z a-z 0-9 . _ -)")
        << id;
  }
}

TEST(CreateAnswerTest, ABodyNestedTooDeeplyIsNotParsed) {
  std::string deep = std::string(1000, '[') + std::string(1000, ']');
  CreateAnswer answer = Answer(200, deep);
  EXPECT_TRUE(answer.body.is_null());
  EXPECT_EQ(answer.failure, "answer without a sessionId");
}

}  // namespace
}  // namespace gridhub::hub
