#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

namespace gridhub::log {
namespace {

using nlohmann::json;

// Captures every line and restores the process-wide options and secrets afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = Current();
    SetSinkForTesting([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetSinkForTesting({});
    ForgetSecretsForTesting();
    Configure(saved_);
  }
  json OnlyLineAsJson() {
    EXPECT_EQ(lines_.size(), 1u);
    if (lines_.empty()) return json();
    json parsed = json::parse(lines_.back(), nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << lines_.back();
    return parsed;
  }

  Options saved_;
  std::vector<std::string> lines_;
};

TEST_F(LogTest, JsonLineCarriesTimeLevelEventFieldsAndMessage) {
  Configure({.format = Format::kJson, .level = Level::kInfo});
  Info("session.granted", "chrome session on node-1",
       {.label = "chrome", .run_id = "run-7", .session_id = "s1", .node_id = "node-1"});
  json line = OnlyLineAsJson();
  EXPECT_TRUE(std::regex_match(line["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << line;
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["event"], "session.granted");
  EXPECT_EQ(line["label"], "chrome");
  EXPECT_EQ(line["run_id"], "run-7");
  EXPECT_EQ(line["session_id"], "s1");
  EXPECT_EQ(line["node_id"], "node-1");
  EXPECT_EQ(line["message"], "chrome session on node-1");
  EXPECT_EQ(line.size(), 8u);
}

TEST_F(LogTest, JsonLineLeavesOutEmptyFields) {
  Configure({.format = Format::kJson, .level = Level::kDebug});
  Warn("node.down", "", {.node_id = "n1"});
  json line = OnlyLineAsJson();
  EXPECT_EQ(line["level"], "warn");
  EXPECT_EQ(line["node_id"], "n1");
  for (const char* absent : {"label", "run_id", "session_id", "message"}) {
    EXPECT_FALSE(line.contains(absent)) << absent << " in " << line;
  }
}

TEST_F(LogTest, JsonEscapesQuotesControlsAndBytesThatAreNotUtf8) {
  Configure({.format = Format::kJson, .level = Level::kInfo});
  const std::string hostile =
      std::string("a\"b\\c\nd\re\tf\x01g\x7fh\x1b[31m \xc3\xa9 \xe2\x82\xac") +
      " bad:\xff\xc3 overlong:\xc0\xaf surrogate:\xed\xa0\x80";
  Info("t", hostile, {.label = "l\"1", .run_id = "r\n2"});
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].find('\n'), std::string::npos);
  json line = OnlyLineAsJson();
  EXPECT_EQ(line["message"],
            std::string("a\"b\\c\nd\re\tf\x01g\x7fh\x1b[31m \xc3\xa9 \xe2\x82\xac") +
                " bad:\xef\xbf\xbd\xef\xbf\xbd overlong:\xef\xbf\xbd\xef\xbf\xbd "
                "surrogate:\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(line["label"], "l\"1");
  EXPECT_EQ(line["run_id"], "r\n2");
}

TEST_F(LogTest, TextLineHasLevelEventFieldsAndMessageOnOneLine) {
  Configure({.format = Format::kText, .level = Level::kInfo});
  Error("node.failed", "driver said:\nboom\x1b[0m",
        {.label = "chrome", .run_id = "my run", .session_id = "s1"});
  ASSERT_EQ(lines_.size(), 1u);
  const std::string& line = lines_[0];
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR node\.failed .*)")))
      << line;
  EXPECT_NE(line.find(" label=chrome run=\"my run\" session=s1: driver said:\\nboom\\x1b[0m"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
}

TEST_F(LogTest, LevelDropsWhatIsBelowIt) {
  Configure({.format = Format::kText, .level = Level::kWarn});
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Debug("a", "");
  Info("b", "");
  Warn("c", "");
  Error("d", "");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[0].find(" WARN c"), std::string::npos) << lines_[0];
  EXPECT_NE(lines_[1].find(" ERROR d"), std::string::npos) << lines_[1];
  Configure({.format = Format::kText, .level = Level::kDebug});
  Debug("e", "");
  EXPECT_EQ(lines_.size(), 3u);
}

TEST_F(LogTest, ConfigureSwitchesFormatForTheNextLine) {
  Configure({.format = Format::kText, .level = Level::kInfo});
  Info("first", "x");
  Configure({.format = Format::kJson, .level = Level::kInfo});
  Info("second", "y");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[0][0], '{');
  EXPECT_EQ(json::parse(lines_[1])["event"], "second");
  EXPECT_EQ(Current().format, Format::kJson);
}

TEST(RedactTest, MasksCredentialsAfterSchemesAndNames) {
  EXPECT_EQ(Redact("Authorization: Bearer abc.def"), "Authorization: Bearer <redacted>");
  EXPECT_EQ(Redact("header authorization: basic dXNlcjpwYXNz, then"),
            "header authorization: basic <redacted>, then");
  EXPECT_EQ(Redact("X-Queue-Token: t0k3n rest"), "X-Queue-Token: <redacted> rest");
  EXPECT_EQ(Redact("x-registration-secret=abc&y=1"), "x-registration-secret=<redacted>&y=1");
  EXPECT_EQ(Redact(R"({"token":"abc","n":1})"), R"({"token":"<redacted>","n":1})");
  EXPECT_EQ(Redact(R"(hub.admin-token = ["abc"]: wrong type)"),
            R"(hub.admin-token = ["<redacted>"]: wrong type)");
  EXPECT_EQ(Redact("password: hunter2"), "password: <redacted>");
  EXPECT_EQ(Redact("password=hunter"), "password=<redacted>");
  EXPECT_EQ(Redact("token: 0123456789abcdef0123"), "token: <redacted>");
  EXPECT_EQ(Redact("node.hub http://user:pw@hub:4444/x"),
            "node.hub http://user:<redacted>@hub:4444/x");
}

TEST(RedactTest, LeavesOrdinaryTextAlone) {
  for (const char* text :
       {"settings reloaded; changed: hub.client-token, hub.registration-secret",
        "session abc started on slot s0 (chrome)", "the token was wrong",
        "missing or wrong X-Registration-Secret: with hub.registration-secret set, ...",
        "http://hub:4444/status"}) {
    EXPECT_EQ(Redact(text), text);
  }
}

TEST_F(LogTest, RegisteredSecretsNeverReachALine) {
  AddSecrets({"s3cr3t-value", "ab", "s3cr3t-value-longer"});
  Configure({.format = Format::kJson, .level = Level::kInfo});
  Info("x", "got s3cr3t-value-longer and s3cr3t-value and ab",
       {.label = "appa:secret:uat", .run_id = "s3cr3t-value"});
  json line = OnlyLineAsJson();
  EXPECT_EQ(line["message"], "got <redacted> and <redacted> and ab");
  EXPECT_EQ(line["run_id"], "<redacted>");
  EXPECT_EQ(line["label"], "appa:secret:uat");  // only known values are masked in fields
}

TEST_F(LogTest, OnlyTheMostRecentSecretsAreKept) {
  std::vector<std::string> many;
  for (size_t i = 0; i <= kMaxSecrets; ++i) many.push_back("secret-number-" + std::to_string(i));
  AddSecrets(many);
  EXPECT_EQ(Redact("secret-number-0"), "secret-number-0");
  EXPECT_EQ(Redact("secret-number-" + std::to_string(kMaxSecrets)), "<redacted>");
  // Registering a known value again makes it the newest.
  AddSecrets({"secret-number-1"});
  AddSecrets({"one-more-secret"});
  EXPECT_EQ(Redact("secret-number-1"), "<redacted>");
}

TEST(LogNamesTest, ParsesAndNamesFormatsAndLevels) {
  Format format = Format::kText;
  EXPECT_TRUE(ParseFormat("json", &format));
  EXPECT_EQ(format, Format::kJson);
  EXPECT_FALSE(ParseFormat("JSON ", &format));
  EXPECT_EQ(FormatName(format), "json");
  Level level = Level::kInfo;
  for (const char* name : {"debug", "info", "warn", "error"}) {
    ASSERT_TRUE(ParseLevel(name, &level)) << name;
    EXPECT_EQ(LevelConfigName(level), name);
  }
  EXPECT_FALSE(ParseLevel("warning", &level));
  EXPECT_EQ(LevelName(Level::kWarn), "WARN");
}

TEST_F(LogTest, LongMessagesAreCut) {
  Configure({.format = Format::kJson, .level = Level::kInfo});
  Info("big", std::string(100000, 'x'));
  json line = OnlyLineAsJson();
  EXPECT_LT(line["message"].get<std::string>().size(), 20000u);
}

}  // namespace
}  // namespace gridhub::log
