#include "http/json_body.h"

#include <gtest/gtest.h>

#include <string>

namespace gridhub::http {
namespace {

using nlohmann::json;

std::string Nested(int depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonBodyTest, BuildsTheSameValueAsJsonParse) {
  const std::string text =
      R"({"a": [1, -2, 3.5, "x\u00e9", true, false, null, {"b": {}}, []], "c": {"d": [[]]},)"
      R"( "big": 18446744073709551615, "neg": -9223372036854775808, "e": "", "a2": 1e3})";
  Result<json> parsed = ParseJsonBody(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, json::parse(text));
  EXPECT_EQ(ParseJsonBody("  7 ").value(), json(7));
  EXPECT_EQ(ParseJsonBody(R"("s")").value(), json("s"));
  EXPECT_EQ(ParseJsonBody("null").value(), json(nullptr));
}

TEST(JsonBodyTest, ARepeatedKeyKeepsItsLastValueLikeJsonParse) {
  Result<json> parsed = ParseJsonBody(R"({"k": 1, "k": [2]})");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, json::parse(R"({"k": 1, "k": [2]})"));
  EXPECT_EQ((*parsed)["k"], json::array({2}));
}

TEST(JsonBodyTest, RefusesInvalidJsonWithAReason) {
  for (const char* bad : {"", "{nope", "[1,]", "{\"a\":1} trailing", "1e999", "[\"\\ud800\"]"}) {
    Result<json> parsed = ParseJsonBody(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().message.rfind("request body is not valid JSON", 0), 0u)
        << parsed.error().message;
  }
}

TEST(JsonBodyTest, AcceptsTheLimitAndRefusesOneLevelMore) {
  EXPECT_TRUE(ParseJsonBody(Nested(kMaxJsonDepth, '[', ']')).ok());
  std::string objects;
  for (int i = 0; i < kMaxJsonDepth; ++i) objects += R"({"k":)";
  objects += "1" + std::string(kMaxJsonDepth, '}');
  EXPECT_TRUE(ParseJsonBody(objects).ok());

  Result<json> deeper = ParseJsonBody(Nested(kMaxJsonDepth + 1, '[', ']'));
  ASSERT_FALSE(deeper.ok());
  EXPECT_EQ(deeper.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(deeper.error().message.find("nests deeper than 64 levels"), std::string::npos);
  EXPECT_FALSE(ParseJsonBody(R"({"k": [{"k": [[]]}]})", 4).ok());
  EXPECT_TRUE(ParseJsonBody(R"({"k": [{"k": [[]]}]})", 5).ok());
}

TEST(JsonBodyTest, ADeeplyNestedBodyIsRefusedEvenWhenItIsNotValidJson) {
  // The finding: ~600 KB of brackets. Refused at the first bracket over the limit, so neither
  // an unterminated body nor a huge one costs more than the limit's worth of work.
  std::string deep(600 * 1024, '[');
  Result<json> parsed = ParseJsonBody(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("deeper"), std::string::npos);
  std::string mixed;
  for (int i = 0; i < 300000; ++i) mixed += R"({"a":[)";
  EXPECT_FALSE(ParseJsonBody(mixed).ok());
}

TEST(JsonBodyTest, DepthWithinCountsContainersNotScalars) {
  EXPECT_TRUE(JsonDepthWithin(json::parse("[[1]]"), 2));
  EXPECT_FALSE(JsonDepthWithin(json::parse("[[[1]]]"), 2));
  EXPECT_TRUE(JsonDepthWithin(json(5), 0));
}

}  // namespace
}  // namespace gridhub::http
