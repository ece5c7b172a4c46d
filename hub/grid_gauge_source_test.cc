#include "hub/grid_gauge_source.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace gridhub::hub {
namespace {

using std::chrono::milliseconds;

// A dispatcher that answers only when the test says so.
struct FakeDispatcher {
  std::vector<GridGaugeSource::Reply> pending;
  int fetches = 0;
  GridGaugeSource::Fetch fetch() {
    return [this](GridGaugeSource::Reply reply) {
      ++fetches;
      pending.push_back(std::move(reply));
    };
  }
  void Answer(std::optional<std::string> text) {
    std::vector<GridGaugeSource::Reply> replies;
    replies.swap(pending);
    for (auto& reply : replies) reply(text);
  }
};

TEST(GridGaugeSourceTest, ScrapesThatComeTogetherShareOneFetch) {
  FakeClock clock;
  FakeDispatcher dispatcher;
  GridGaugeSource source(clock, milliseconds(1000), dispatcher.fetch());
  std::vector<std::optional<std::string>> got;
  for (int i = 0; i < 3; ++i) source.Get([&](std::optional<std::string> t) { got.push_back(t); });
  EXPECT_EQ(dispatcher.fetches, 1);
  EXPECT_TRUE(got.empty());
  dispatcher.Answer("gridhub_nodes 1\n");
  ASSERT_EQ(got.size(), 3u);
  for (const auto& text : got) EXPECT_EQ(text, "gridhub_nodes 1\n");
}

TEST(GridGaugeSourceTest, AnswerIsKeptForMaxAgeThenFetchedAgain) {
  FakeClock clock;
  FakeDispatcher dispatcher;
  GridGaugeSource source(clock, milliseconds(1000), dispatcher.fetch());
  std::optional<std::string> got;
  auto keep = [&](std::optional<std::string> t) { got = std::move(t); };
  source.Get(keep);
  dispatcher.Answer("a");
  clock.Advance(milliseconds(999));
  got.reset();
  source.Get(keep);
  EXPECT_EQ(got, "a");  // from the cache, at once
  EXPECT_EQ(dispatcher.fetches, 1);
  clock.Advance(milliseconds(1));
  got.reset();
  source.Get(keep);
  EXPECT_EQ(dispatcher.fetches, 2);
  EXPECT_FALSE(got.has_value());
  dispatcher.Answer("b");
  EXPECT_EQ(got, "b");
}

TEST(GridGaugeSourceTest, FailureIsAnsweredButNotKept) {
  FakeClock clock;
  FakeDispatcher dispatcher;
  GridGaugeSource source(clock, milliseconds(1000), dispatcher.fetch());
  std::optional<std::string> got = "unset";
  source.Get([&](std::optional<std::string> t) { got = std::move(t); });
  dispatcher.Answer(std::nullopt);
  EXPECT_FALSE(got.has_value());
  source.Get([&](std::optional<std::string> t) { got = std::move(t); });
  EXPECT_EQ(dispatcher.fetches, 2);  // tried again at once, not served the failure
  dispatcher.Answer("c");
  EXPECT_EQ(got, "c");
}

}  // namespace
}  // namespace gridhub::hub
