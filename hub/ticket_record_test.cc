#include "hub/ticket_record.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace gridhub::hub {
namespace {

using nlohmann::json;

TicketRecord Waiting() {
  return {.id = "t-1",
          .token = "0123abcd",
          .sequence = 7,
          .label = "chrome",
          .run_id = "run-7",
          .state = TicketState::kWaiting,
          .enqueued_at = 1700000000.25,
          .deadline = 1700000300.5,
          .capabilities = {{"firstMatch", {{{"browserName", "chrome"}}, {{"browserName", "x"}}}}},
          .public_base = "https://grid.example/wd/hub"};
}

Result<TicketRecord> RoundTrip(const TicketRecord& record) {
  return TicketFromJson(json::parse(TicketToJson(record).dump()));
}

TEST(TicketRecordTest, AWaitingTicketKeepsItsRequest) {
  Result<TicketRecord> back = RoundTrip(Waiting());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->id, "t-1");
  EXPECT_EQ(back->token, "0123abcd");
  EXPECT_EQ(back->sequence, 7u);
  EXPECT_EQ(back->label, "chrome");
  EXPECT_EQ(back->run_id, "run-7");
  EXPECT_EQ(back->state, TicketState::kWaiting);
  EXPECT_DOUBLE_EQ(back->enqueued_at, 1700000000.25);
  EXPECT_DOUBLE_EQ(back->deadline, 1700000300.5);
  EXPECT_EQ(back->capabilities, Waiting().capabilities);
  EXPECT_EQ(back->public_base, "https://grid.example/wd/hub");
}

TEST(TicketRecordTest, AReadyTicketKeepsItsSessionAndBody) {
  TicketRecord ready = Waiting();
  ready.state = TicketState::kReady;
  ready.session = SessionId("s-9");
  ready.body = R"({"value":{"sessionId":"s-9"}})";
  Result<TicketRecord> back = RoundTrip(ready);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->state, TicketState::kReady);
  EXPECT_EQ(back->session, SessionId("s-9"));
  EXPECT_EQ(back->body, ready.body);
  // What only a waiting ticket needs is not written.
  EXPECT_FALSE(TicketToJson(ready).contains("capabilities"));
}

TEST(TicketRecordTest, AFailedTicketKeepsItsErrorByName) {
  TicketRecord failed = Waiting();
  failed.state = TicketState::kFailed;
  failed.error = {ErrorCode::kUnsatisfiable, "no slot could ever serve it"};
  json stored = TicketToJson(failed);
  EXPECT_EQ(stored["error"]["code"], "unsatisfiable");
  Result<TicketRecord> back = TicketFromJson(stored);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->state, TicketState::kFailed);
  EXPECT_EQ(back->error.code, ErrorCode::kUnsatisfiable);
  EXPECT_EQ(back->error.message, "no slot could ever serve it");
}

TEST(TicketRecordTest, RefusesWhatAnotherProcessGotWrong) {
  const json good = TicketToJson(Waiting());
  struct Case {
    const char* key;
    json value;
    const char* names;
  };
  for (const Case& c : {Case{"id", "", "id"}, Case{"id", "a/b", "id"}, Case{"token", 5, "token"},
                        Case{"sequence", -1, "sequence"}, Case{"sequence", "7", "sequence"},
                        Case{"state", "lost", "state"}, Case{"enqueuedAt", "x", "enqueuedAt"},
                        Case{"capabilities", json::object(), "capabilities"},
                        Case{"capabilities", {{"firstMatch", {1}}}, "capabilities"},
                        Case{"label", json::array(), "label"}}) {
    json bad = good;
    bad[c.key] = c.value;
    Result<TicketRecord> back = TicketFromJson(bad);
    ASSERT_FALSE(back.ok()) << c.key;
    EXPECT_NE(back.error().message.find(c.names), std::string::npos) << back.error().message;
  }
  EXPECT_FALSE(TicketFromJson(json::array()).ok());
  json ready = TicketToJson(Waiting());
  ready["state"] = "ready";
  ready["sessionId"] = "../x";
  ready["body"] = "{}";
  EXPECT_FALSE(TicketFromJson(ready).ok());
  json failed = TicketToJson(Waiting());
  failed["state"] = "failed";
  failed["error"] = {{"code", "no_such_code"}, {"message", "m"}};
  EXPECT_FALSE(TicketFromJson(failed).ok());
}

}  // namespace
}  // namespace gridhub::hub
