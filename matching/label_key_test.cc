#include "matching/label_key.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gridhub::matching {
namespace {

LabelKey Key(const std::string& text) {
  Result<LabelKey> key = LabelKey::Parse(text);
  EXPECT_TRUE(key.ok()) << text;
  return key.ok() ? *key : LabelKey();
}

struct NormaliseCase {
  std::string input;
  std::string canonical;
  size_t segments;
};

TEST(LabelKeyTest, NormalisesSpacesCaseAndEmptySegments) {
  const std::vector<NormaliseCase> cases = {
      {"AppA:Chromium:UAT", "appa:chromium:uat", 3},
      {" AppA : Chromium :UAT ", "appa:chromium:uat", 3},
      {"AppA::Chromium:::UAT", "appa:chromium:uat", 3},
      {":AppA:", "appa", 1},
      {"\tchrome\n", "chrome", 1},
      {"Team_1.sub-2", "team_1.sub-2", 1},
      {"a:b:c:d:e:f:g:h", "a:b:c:d:e:f:g:h", 8},
      {"a:b:c:d:e:f:g:h::", "a:b:c:d:e:f:g:h", 8},
      {"AppA:*:UAT", "appa:*:uat", 3},
  };
  for (const NormaliseCase& c : cases) {
    Result<LabelKey> key = LabelKey::Parse(c.input);
    ASSERT_TRUE(key.ok()) << c.input << ": " << key.error().message;
    EXPECT_EQ(key->str(), c.canonical) << c.input;
    EXPECT_EQ(key->size(), c.segments) << c.input;
    EXPECT_FALSE(key->empty());
  }
}

struct RejectCase {
  std::string input;
  std::string why;
};

TEST(LabelKeyTest, RejectsBadLabelsNamingTextAndReason) {
  const std::vector<RejectCase> cases = {
      {"", "no segments"},
      {"   ", "no segments"},
      {":: : :", "no segments"},
      {"a:b:c:d:e:f:g:h:i", "more than 8 segments"},
      {"App A:UAT", "segment 'App A'"},
      {"AppA/UAT", "segment 'AppA/UAT'"},
      {"caf\xc3\xa9", "may only hold"},
      {"a*:b", "segment 'a*'"},
      {"**", "segment '**'"},
      {"a,b", "may only hold"},
  };
  for (const RejectCase& c : cases) {
    Result<LabelKey> key = LabelKey::Parse(c.input);
    ASSERT_FALSE(key.ok()) << c.input;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(key.error().message.find("'" + c.input + "'"), std::string::npos)
        << key.error().message;
    EXPECT_NE(key.error().message.find(c.why), std::string::npos) << key.error().message;
  }
}

TEST(LabelKeyTest, EqualityIsOnCanonicalForm) {
  EXPECT_EQ(Key("AppA:Chromium"), Key(" appa :: CHROMIUM "));
  EXPECT_FALSE(Key("appa:chromium") == Key("appa"));
  EXPECT_EQ(Key("a:b").Parent(), Key("a"));
}

TEST(LabelKeyTest, SegmentsAndParents) {
  LabelKey key = Key("AppA:Chromium:UAT");
  EXPECT_EQ(key.segment(0), "appa");
  EXPECT_EQ(key.segment(1), "chromium");
  EXPECT_EQ(key.segment(2), "uat");
  LabelKey parent = key.Parent();
  EXPECT_EQ(parent.str(), "appa:chromium");
  EXPECT_EQ(parent.size(), 2u);
  EXPECT_EQ(parent.segment(1), "chromium");
  EXPECT_EQ(parent.Parent().str(), "appa");
  EXPECT_TRUE(parent.Parent().Parent().empty());
  EXPECT_EQ(parent.Parent().Parent().str(), "");
  EXPECT_TRUE(LabelKey().empty());
  EXPECT_EQ(LabelKey().size(), 0u);
}

TEST(LabelKeyTest, DerivesOneSegmentFromBrowserName) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"chrome", "chrome"},
      {"Chrome", "chrome"},
      {"MicrosoftEdge", "microsoftedge"},
      {" firefox ", "firefox"},
      {"internet explorer", "internet-explorer"},
      {"odd:name*", "odd-name-"},
      {"", "any"},
      {"  ", "any"},
  };
  for (const auto& [name, label] : cases) {
    LabelKey key = LabelKey::FromBrowserName(name);
    EXPECT_EQ(key.str(), label) << name;
    EXPECT_EQ(key.size(), 1u) << name;
    // A derived label is always one a config file could name too.
    EXPECT_EQ(Key(key.str()), key) << name;
  }
  EXPECT_EQ(LabelKey::Any().str(), "any");
}

struct AcceptCase {
  std::string requested;
  std::string slot;
  LabelMatchOptions options;
  bool accepted;
};

constexpr LabelMatchOptions kDefaults{};
constexpr LabelMatchOptions kNoPrefix{.prefix_expand = false};
constexpr LabelMatchOptions kWildcards{.wildcards = true};
constexpr LabelMatchOptions kWildcardsNoPrefix{.prefix_expand = false, .wildcards = true};

TEST(LabelAcceptsTest, ExactPrefixAndWildcardRules) {
  const std::vector<AcceptCase> cases = {
      // Exact, case- and space-insensitively.
      {"AppA:Chromium:UAT", "appa:chromium:uat", kDefaults, true},
      {"AppA:Chromium:UAT", "appa:chromium:uat", kNoPrefix, true},
      {"AppA:Chromium:UAT", "appa:chromium:prod", kDefaults, false},
      // prefix-expand on: a shorter request accepts deeper slots, segment-wise only.
      {"AppA", "AppA:Chromium:UAT", kDefaults, true},
      {"AppA:Chromium", "AppA:Chromium:UAT", kDefaults, true},
      {"App", "AppA:Chromium", kDefaults, false},
      {"AppA:Chrom", "AppA:Chromium", kDefaults, false},
      {"AppA:Chromium:UAT", "AppA:Chromium", kDefaults, false},
      // prefix-expand off: only exact.
      {"AppA", "AppA:Chromium:UAT", kNoPrefix, false},
      {"AppA", "AppA", kNoPrefix, true},
      // wildcards off: '*' is literal.
      {"AppA:*:UAT", "AppA:Chromium:UAT", kDefaults, false},
      {"AppA:*:UAT", "AppA:*:UAT", kDefaults, true},
      // wildcards on: '*' is any one segment.
      {"AppA:*:UAT", "AppA:Chromium:UAT", kWildcards, true},
      {"AppA:*:UAT", "AppA:Firefox:UAT", kWildcards, true},
      {"AppA:*:UAT", "AppA:Firefox:PROD", kWildcards, false},
      {"*", "chrome", kWildcards, true},
      {"AppA:*", "AppA", kWildcards, false},
      {"AppA:*", "AppA:Chromium:UAT", kWildcards, true},
      {"AppA:*", "AppA:Chromium:UAT", kWildcardsNoPrefix, false},
      {"AppA:*", "AppA:Chromium", kWildcardsNoPrefix, true},
      {"AppB:*", "AppA:Chromium", kWildcards, false},
  };
  for (const AcceptCase& c : cases) {
    EXPECT_EQ(LabelAccepts(Key(c.requested), Key(c.slot), c.options), c.accepted)
        << c.requested << " vs " << c.slot << " prefix=" << c.options.prefix_expand
        << " wildcards=" << c.options.wildcards;
  }
}

TEST(LabelAcceptsTest, EmptyRequestAcceptsEverySlot) {
  EXPECT_TRUE(LabelAccepts(LabelKey(), Key("AppA:Chromium"), kNoPrefix));
}

TEST(FallbackChainTest, DropsTrailingSegmentsWhenOn) {
  std::vector<LabelKey> chain = FallbackChain(Key("AppA:Chromium:UAT"), kDefaults);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].str(), "appa:chromium:uat");
  EXPECT_EQ(chain[1].str(), "appa:chromium");
  EXPECT_EQ(chain[2].str(), "appa");
}

TEST(FallbackChainTest, OnlyTheLabelWhenOff) {
  LabelMatchOptions off{.trailing_fallback = false};
  std::vector<LabelKey> chain = FallbackChain(Key("AppA:Chromium:UAT"), off);
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_EQ(chain[0].str(), "appa:chromium:uat");
  EXPECT_EQ(FallbackChain(Key("chrome"), kDefaults).size(), 1u);
  EXPECT_EQ(FallbackChain(LabelKey(), kDefaults).size(), 1u);
}

}  // namespace
}  // namespace gridhub::matching
