#include "hub/session_event.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::hub {
namespace {

using nlohmann::json;

TEST(SessionEventTest, ValidEventTypes) {
  for (const char* ok : {"test:failed", "a", "Z9", "my.event_type-2:x", "test:started"}) {
    EXPECT_TRUE(IsValidEventType(ok)) << ok;
  }
  EXPECT_TRUE(IsValidEventType(std::string(128, 'a')));
}

TEST(SessionEventTest, InvalidEventTypes) {
  for (const char* bad : {"", "1test", ":x", "_x", "-x", "test failed", "test/failed", "tést",
                          "a\nb", "a\"b", "a;b"}) {
    EXPECT_FALSE(IsValidEventType(bad)) << bad;
  }
  EXPECT_FALSE(IsValidEventType(std::string(129, 'a')));
}

TEST(SessionEventTest, ParsesTypeAndPayload) {
  Result<SessionEvent> event =
      ParseSessionEvent({{"eventType", "test:passed"}, {"payload", {{"name", "login"}}}});
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->event_type, "test:passed");
  EXPECT_EQ(event->payload["name"], "login");
  Result<SessionEvent> bare = ParseSessionEvent({{"eventType", "x"}, {"payload", nullptr}});
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->payload.is_object());
}

TEST(SessionEventTest, RefusesWhatIsNotAnEvent) {
  for (const json& body : {json::array(), json("x"), json::object(), json{{"eventType", 3}},
                           json{{"eventType", "1x"}}, json{{"eventType", "x"}, {"payload", 3}},
                           json{{"eventType", "x"}, {"payload", json::array()}}}) {
    Result<SessionEvent> event = ParseSessionEvent(body);
    ASSERT_FALSE(event.ok()) << body.dump();
    EXPECT_EQ(event.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_NE(ParseSessionEvent({{"eventType", "a b"}}).error().message.find("eventType"),
            std::string::npos);
}

}  // namespace
}  // namespace gridhub::hub
