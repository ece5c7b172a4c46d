// The metrics the Grid records at its events and the gauges projected from its snapshot,
// driven through the Grid's public API with a FakeClock (no HTTP, no threads).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hub/grid.h"
#include "hub/grid_fakes.h"
#include "hub/metrics_gauges.h"

namespace gridhub::hub {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json Node(const std::string& id, int max_sessions = 1, const std::string& label = "") {
  json slot = {
      {"id", "s"}, {"maxSessions", max_sessions}, {"stereotype", {{"browserName", "chrome"}}}};
  if (!label.empty()) slot["label"] = label;
  return {{"id", id}, {"uri", "http://" + id + ":5555"}, {"slots", {slot}}};
}

class GridMetricsTest : public ::testing::Test {
 protected:
  GridMetricsTest() { settings_.queue.registration_grace = 0s; }

  Grid& grid() {
    if (!grid_) grid_ = std::make_unique<Grid>(clock_, ids_, settings_);
    return *grid_;
  }
  void Register(const json& node) {
    Effects effects;
    ASSERT_TRUE(RegisterNode(grid(), node, &effects).ok());
  }
  Effects Submit(json always = {{"browserName", "chrome"}}, bool no_wait = false) {
    auto spec = matching::ProcessNewSession({{"capabilities", {{"alwaysMatch", always}}}});
    EXPECT_TRUE(spec.ok());
    return grid().SubmitNewSession(std::move(*spec), "", no_wait, ReplyTarget());
  }
  void Create(const CreateJob& job, const std::string& session_id) {
    grid().OnCreateResult(job.request, job.node_id, job.node_uri, job.slot_id, Created(session_id));
  }
  // One scrape, as "name{labels}" -> value.
  std::map<std::string, double> Scrape() {
    std::istringstream lines(grid().metrics().Render(GaugesFromSnapshot(*grid().snapshot())));
    std::map<std::string, double> samples;
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty() || line[0] == '#') continue;
      size_t space = line.rfind(' ');
      samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return samples;
  }
  double Outcome(const std::string& label, const std::string& outcome) {
    return Scrape().at("gridhub_session_request_outcomes_total{label=\"" + label + "\",outcome=\"" +
                       outcome + "\"}");
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

TEST_F(GridMetricsTest, ImmediateSessionIsObservedWithZeroWait) {
  Register(Node("n1"));
  CreateJob job = Submit().creates.at(0);
  clock_.Advance(2s);  // the node takes 2 s to create it
  Create(job, "s1");
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_session_requests_total{label=\"chrome\"}"), 1);
  EXPECT_EQ(m.at("gridhub_session_request_outcomes_total{label=\"chrome\",outcome=\"success\"}"),
            1);
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_count{label=\"chrome\"}"), 1);
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_sum{label=\"chrome\"}"), 0);
  EXPECT_EQ(m.at("gridhub_session_request_duration_seconds_sum{label=\"chrome\"}"), 2);
  EXPECT_EQ(m.at("gridhub_sessions_active{label=\"chrome\"}"), 1);
  EXPECT_EQ(m.at("gridhub_slots{label=\"chrome\",state=\"busy\"}"), 1);
  EXPECT_EQ(m.at("gridhub_slots{label=\"chrome\",state=\"available\"}"), 0);
  EXPECT_EQ(m.at("gridhub_slot_utilization_ratio{label=\"chrome\"}"), 1);
  EXPECT_EQ(m.at("gridhub_nodes{availability=\"up\"}"), 1);
}

TEST_F(GridMetricsTest, QueuedRequestObservesItsWaitOnce) {
  Register(Node("n1"));
  Create(Submit().creates.at(0), "s1");
  EXPECT_TRUE(Submit().creates.empty());
  EXPECT_EQ(Scrape().at("gridhub_queue_length{label=\"chrome\"}"), 1);
  clock_.Advance(5s);
  CreateJob second = grid().EndSession(SessionId("s1")).creates.at(0);
  // The creation fails once and is retried: still one wait observation for the request.
  grid().OnCreateResult(second.request, second.node_id, second.node_uri, second.slot_id, Refused());
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_count{label=\"chrome\"}"), 2);
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_sum{label=\"chrome\"}"), 5);
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"5\"}"), 2);
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"2.5\"}"), 1);
  EXPECT_EQ(m.at("gridhub_session_request_outcomes_total{label=\"chrome\",outcome=\"failed\"}"), 0);
  EXPECT_EQ(m.at("gridhub_queue_length{label=\"chrome\"}"), 1);  // the failed node rests
  clock_.Advance(1s);
  ASSERT_EQ(grid().Tick().creates.size(), 1u);  // granted again once it is offered
  m = Scrape();
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_count{label=\"chrome\"}"), 2);
  EXPECT_EQ(m.at("gridhub_queue_length{label=\"chrome\"}"), 0);
}

TEST_F(GridMetricsTest, RefusalsAreCountedWithoutAWait) {
  settings_.queue.max_per_label = 1;
  Register(Node("n1"));
  Create(Submit().creates.at(0), "s1");
  Submit();  // waits
  Effects full = Submit();
  ASSERT_EQ(full.replies.size(), 1u);
  Submit({{"browserName", "chrome"}}, /*no_wait=*/true);
  Submit({{"browserName", "firefox"}});  // no slot could ever serve it
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_session_requests_total{label=\"chrome\"}"), 4);
  EXPECT_EQ(m.at("gridhub_session_requests_total{label=\"other\"}"), 1);
  EXPECT_EQ(Outcome("chrome", "queue_full"), 1);
  EXPECT_EQ(Outcome("chrome", "no_wait"), 1);
  EXPECT_EQ(Outcome("other", "unsatisfiable"), 1);
  EXPECT_EQ(m.at("gridhub_queue_wait_seconds_count{label=\"chrome\"}"), 1);
  EXPECT_EQ(m.at("gridhub_queue_length{label=\"chrome\"}"), 1);
}

TEST_F(GridMetricsTest, TimeoutsAndClearedWaitersHaveTheirOwnOutcomes) {
  settings_.queue.timeout = 10s;
  Register(Node("n1"));
  Create(Submit().creates.at(0), "s1");
  Submit();
  clock_.Advance(11s);
  grid().Tick();
  EXPECT_EQ(Outcome("chrome", "timeout"), 1);
  Submit();
  Effects cleared;
  EXPECT_EQ(grid().ClearQueue(&cleared), 1u);
  EXPECT_EQ(Outcome("chrome", "cancelled"), 1);
  EXPECT_EQ(Outcome("chrome", "failed"), 0);  // counted once, as cancelled
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_session_request_duration_seconds_count{label=\"chrome\"}"), 3);
}

TEST_F(GridMetricsTest, CapsDeclareLabelsAndSetTheLimitGauge) {
  settings_.queue.concurrency_caps = {{"appa:uat", 2}};
  settings_.queue.concurrency_default = 5;
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_label_concurrency_limit{label=\"appa:uat\"}"), 2);
  EXPECT_EQ(m.at("gridhub_label_concurrency_limit{label=\"other\"}"), 5);
  EXPECT_EQ(m.at("gridhub_session_requests_total{label=\"appa:uat\"}"), 0);
  EXPECT_EQ(m.count("gridhub_session_requests_total{label=\"chrome\"}"), 0u);

  config::Settings more = settings_;
  more.queue.concurrency_caps["appb"] = 1;
  grid().Reconfigure(more);
  EXPECT_EQ(Scrape().at("gridhub_label_concurrency_limit{label=\"appb\"}"), 1);
}

TEST_F(GridMetricsTest, SessionsCountByRequestLabelSlotsBySlotLabel) {
  Register(Node("n1", 3, "appa:chromium"));
  Create(Submit({{"browserName", "chrome"}, {"gridhub:label", "appa:chromium"}}).creates.at(0),
         "s1");
  Create(Submit({{"browserName", "chrome"}, {"gridhub:label", "appa"}}).creates.at(0), "s2");
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_slots{label=\"appa:chromium\",state=\"busy\"}"), 2);
  EXPECT_EQ(m.at("gridhub_slots{label=\"appa:chromium\",state=\"available\"}"), 1);
  EXPECT_EQ(m.at("gridhub_sessions_active{label=\"appa:chromium\"}"), 1);
  EXPECT_EQ(m.at("gridhub_sessions_active{label=\"other\"}"), 1);  // "appa" is not declared
  EXPECT_EQ(Outcome("other", "success"), 1);
}

TEST_F(GridMetricsTest, DrainingNodeOffersNoAvailableSlots) {
  Register(Node("n1", 2));
  Create(Submit().creates.at(0), "s1");
  Effects effects;
  ASSERT_TRUE(grid().Drain(NodeId("n1"), &effects));
  auto m = Scrape();
  EXPECT_EQ(m.at("gridhub_nodes{availability=\"draining\"}"), 1);
  EXPECT_EQ(m.at("gridhub_nodes{availability=\"up\"}"), 0);
  EXPECT_EQ(m.at("gridhub_slots{label=\"chrome\",state=\"available\"}"), 0);
  EXPECT_EQ(m.at("gridhub_slots{label=\"chrome\",state=\"busy\"}"), 1);
}

// A label's series exist only while some slot or cap declares it: a node with 200 labels
// registered and deregistered leaves the series there were before it.
TEST_F(GridMetricsTest, SeriesOfLabelsNoSlotDeclaresAnyMoreAreRemoved) {
  settings_.queue.concurrency_caps = {{"capped", 2}};
  Register(Node("base"));
  const size_t baseline = Scrape().size();
  json slots = json::array();
  for (int i = 0; i < 200; ++i) {
    slots.push_back({{"id", "s" + std::to_string(i)},
                     {"label", "team" + std::to_string(i)},
                     {"stereotype", {{"browserName", "chrome"}}}});
  }
  Register({{"id", "wide"}, {"uri", "http://wide:5555"}, {"slots", slots}});
  EXPECT_GT(Scrape().size(), baseline + 200 * 20);
  EXPECT_EQ(grid().footprint().metric_labels, 203u);  // 200 + chrome + capped + other
  Effects effects;
  ASSERT_TRUE(grid().Deregister(NodeId("wide"), &effects));
  EXPECT_EQ(Scrape().size(), baseline);
  EXPECT_EQ(grid().footprint().metric_labels, 3u);
  EXPECT_EQ(Scrape().count("gridhub_session_requests_total{label=\"capped\"}"), 1u);
}

}  // namespace
}  // namespace gridhub::hub
