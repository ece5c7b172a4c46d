#include "metrics/hub_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace gridhub::metrics {
namespace {

using std::chrono::milliseconds;

// Every sample line of a text exposition, as "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// The value of one series, failing the test when it is missing.
double Value(const std::map<std::string, double>& samples, const std::string& series) {
  auto it = samples.find(series);
  EXPECT_NE(it, samples.end()) << "missing series " << series;
  return it == samples.end() ? -1 : it->second;
}

constexpr const char* kOutcomeNames[] = {"success",       "timeout", "queue_full", "run_limit",
                                         "unsatisfiable", "no_wait", "cancelled",  "failed"};

TEST(HubMetricsTest, RendersEveryFamilyOfTheContract) {
  HubMetrics metrics("1.2.3");
  std::string text = metrics.Render({});
  for (const char* type_line : {
           "# TYPE gridhub_session_requests_total counter",
           "# TYPE gridhub_session_request_duration_seconds histogram",
           "# TYPE gridhub_session_request_outcomes_total counter",
           "# TYPE gridhub_queue_wait_seconds histogram",
           "# TYPE gridhub_queue_length gauge",
           "# TYPE gridhub_label_concurrency_limit gauge",
           "# TYPE gridhub_slots gauge",
           "# TYPE gridhub_slot_utilization_ratio gauge",
           "# TYPE gridhub_sessions_active gauge",
           "# TYPE gridhub_nodes gauge",
           "# TYPE gridhub_commands_total counter",
           "# TYPE gridhub_command_duration_seconds histogram",
           "# TYPE gridhub_build_info gauge",
           "# TYPE gridhub_websockets_open gauge",
           "# TYPE gridhub_websocket_upgrades_total counter",
           "# TYPE gridhub_websocket_bytes_total counter",
           "# TYPE gridhub_session_events_total counter",
           "# TYPE process_resident_memory_bytes gauge",
           "# TYPE process_cpu_seconds_total counter",
           "# TYPE process_open_fds gauge",
           "# TYPE process_start_time_seconds gauge",
       }) {
    EXPECT_NE(text.find(type_line), std::string::npos) << type_line << "\n" << text;
  }
  auto samples = Samples(text);
  EXPECT_EQ(Value(samples, "gridhub_build_info{version=\"1.2.3\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_nodes{availability=\"up\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_nodes{availability=\"draining\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_nodes{availability=\"down\"}"), 0);
  for (const char* c : {"2xx", "4xx", "5xx"}) {
    EXPECT_EQ(Value(samples, std::string("gridhub_commands_total{class=\"") + c + "\"}"), 0);
  }
  EXPECT_EQ(Value(samples, "gridhub_command_duration_seconds_count"), 0);
}

TEST(HubMetricsTest, DeclaredLabelHasEverySeriesAtZero) {
  HubMetrics metrics("t");
  EXPECT_EQ(Samples(metrics.Render({})).count("gridhub_session_requests_total{label=\"chrome\"}"),
            0u);
  metrics.DeclareLabel("chrome");
  auto samples = Samples(metrics.Render({}));
  EXPECT_EQ(Value(samples, "gridhub_session_requests_total{label=\"chrome\"}"), 0);
  for (const char* outcome : kOutcomeNames) {
    EXPECT_EQ(Value(samples, std::string("gridhub_session_request_outcomes_total{label=\"chrome\","
                                         "outcome=\"") +
                                 outcome + "\"}"),
              0);
  }
  EXPECT_EQ(Value(samples, "gridhub_session_request_duration_seconds_count{label=\"chrome\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_count{label=\"chrome\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"+Inf\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_queue_length{label=\"chrome\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_label_concurrency_limit{label=\"chrome\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_slots{label=\"chrome\",state=\"available\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_slots{label=\"chrome\",state=\"busy\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_slot_utilization_ratio{label=\"chrome\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_sessions_active{label=\"chrome\"}"), 0);
  // "other" always exists, so the sum over labels is the total from the first scrape.
  EXPECT_EQ(Value(samples, "gridhub_session_requests_total{label=\"other\"}"), 0);
}

// A label's series exist only while some slot or cap declares it: 200 labels declared and then
// undeclared leave exactly the series there were before.
TEST(HubMetricsTest, SeriesOfLabelsNoLongerDeclaredAreRemoved) {
  HubMetrics metrics("t");
  const size_t baseline = Samples(metrics.Render({})).size();
  std::set<std::string> many;
  for (int i = 0; i < 200; ++i) many.insert("label-" + std::to_string(i));
  many.insert("chrome");
  metrics.SetDeclaredLabels(many);
  metrics.RecordOutcome(metrics.RecordRequest("label-7"), Outcome::kSuccess, milliseconds(5));
  auto samples = Samples(metrics.Render({}));
  EXPECT_GT(samples.size(), baseline + 200 * 20);
  EXPECT_EQ(Value(samples, "gridhub_session_requests_total{label=\"label-7\"}"), 1);
  EXPECT_EQ(metrics.MetricLabel("label-7"), "label-7");

  metrics.SetDeclaredLabels({"chrome"});
  EXPECT_EQ(metrics.label_count(), 2u);  // chrome, other
  EXPECT_EQ(metrics.MetricLabel("label-7"), "other");
  samples = Samples(metrics.Render({}));
  EXPECT_EQ(samples.count("gridhub_session_requests_total{label=\"label-7\"}"), 0u);
  EXPECT_EQ(Value(samples, "gridhub_session_requests_total{label=\"chrome\"}"), 0);
  metrics.SetDeclaredLabels({});
  EXPECT_EQ(Samples(metrics.Render({})).size(), baseline);
  // Still counting: anything now goes to "other".
  metrics.RecordRequest("label-7");
  EXPECT_EQ(Value(Samples(metrics.Render({})), "gridhub_session_requests_total{label=\"other\"}"),
            1);
}

TEST(HubMetricsTest, UndeclaredLabelsAreCountedAsOther) {
  HubMetrics metrics("t");
  metrics.DeclareLabel("chrome");
  EXPECT_EQ(metrics.RecordRequest("chrome"), "chrome");
  EXPECT_EQ(metrics.RecordRequest("made-up"), "other");
  EXPECT_EQ(metrics.RecordRequest("another"), "other");
  metrics.RecordOutcome("other", Outcome::kUnsatisfiable, milliseconds(0));
  metrics.RecordOutcome("made-up", Outcome::kUnsatisfiable, milliseconds(0));  // bounded too
  auto samples = Samples(metrics.Render({}));
  EXPECT_EQ(Value(samples, "gridhub_session_requests_total{label=\"chrome\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_session_requests_total{label=\"other\"}"), 2);
  EXPECT_EQ(Value(samples,
                  "gridhub_session_request_outcomes_total{label=\"other\","
                  "outcome=\"unsatisfiable\"}"),
            2);
  EXPECT_EQ(samples.count("gridhub_session_requests_total{label=\"made-up\"}"), 0u);
}

TEST(HubMetricsTest, OutcomeObservesTheRequestDuration) {
  HubMetrics metrics("t");
  metrics.DeclareLabel("chrome");
  metrics.RecordOutcome("chrome", Outcome::kSuccess, milliseconds(1500));
  metrics.RecordOutcome("chrome", Outcome::kTimeout, milliseconds(300000));
  auto samples = Samples(metrics.Render({}));
  EXPECT_EQ(Value(samples,
                  "gridhub_session_request_outcomes_total{label=\"chrome\","
                  "outcome=\"success\"}"),
            1);
  EXPECT_EQ(Value(samples,
                  "gridhub_session_request_outcomes_total{label=\"chrome\","
                  "outcome=\"timeout\"}"),
            1);
  EXPECT_EQ(Value(samples, "gridhub_session_request_duration_seconds_count{label=\"chrome\"}"), 2);
  EXPECT_DOUBLE_EQ(Value(samples, "gridhub_session_request_duration_seconds_sum{label=\"chrome\"}"),
                   301.5);
}

TEST(HubMetricsTest, QueueWaitHistogramBucketsTheObservation) {
  HubMetrics metrics("t");
  metrics.DeclareLabel("chrome");
  metrics.RecordQueueWait("chrome", milliseconds(0));
  metrics.RecordQueueWait("chrome", milliseconds(300));
  auto samples = Samples(metrics.Render({}));
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_count{label=\"chrome\"}"), 2);
  EXPECT_DOUBLE_EQ(Value(samples, "gridhub_queue_wait_seconds_sum{label=\"chrome\"}"), 0.3);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"0.005\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"0.25\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"0.5\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_bucket{label=\"chrome\",le=\"+Inf\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_queue_wait_seconds_count{label=\"other\"}"), 0);
}

TEST(HubMetricsTest, CommandsCountByStatusClass) {
  HubMetrics metrics("t");
  metrics.RecordCommand(200, milliseconds(2));
  metrics.RecordCommand(204, milliseconds(2));
  metrics.RecordCommand(404, milliseconds(2));
  metrics.RecordCommand(0, milliseconds(2));  // no answer from the node: a server error
  metrics.RecordCommand(302, milliseconds(2));
  auto samples = Samples(metrics.Render({}));
  EXPECT_EQ(Value(samples, "gridhub_commands_total{class=\"2xx\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_commands_total{class=\"3xx\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_commands_total{class=\"4xx\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_commands_total{class=\"5xx\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_command_duration_seconds_count"), 5);
  EXPECT_DOUBLE_EQ(Value(samples, "gridhub_command_duration_seconds_sum"), 0.010);
}

TEST(HubMetricsTest, GaugesComeFromTheGivenPictureAndFoldUndeclaredLabels) {
  HubMetrics metrics("t");
  GridGauges gauges;
  metrics.SetDeclaredLabels({"chrome", "firefox"});
  gauges.labels["chrome"] = {
      .queue_length = 3, .slots_available = 1, .slots_busy = 3, .sessions_active = 2};
  gauges.labels["made-up"] = {.queue_length = 2, .sessions_active = 1};
  gauges.labels["any"] = {.queue_length = 1};
  gauges.concurrency_caps = {{"chrome", 4}};
  gauges.concurrency_default = 2;
  gauges.nodes_up = 2;
  gauges.nodes_down = 1;
  auto samples = Samples(metrics.Render(gauges));
  EXPECT_EQ(Value(samples, "gridhub_queue_length{label=\"chrome\"}"), 3);
  EXPECT_EQ(Value(samples, "gridhub_queue_length{label=\"other\"}"), 3);
  EXPECT_EQ(Value(samples, "gridhub_queue_length{label=\"firefox\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_sessions_active{label=\"chrome\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_sessions_active{label=\"other\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_slots{label=\"chrome\",state=\"available\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_slots{label=\"chrome\",state=\"busy\"}"), 3);
  EXPECT_DOUBLE_EQ(Value(samples, "gridhub_slot_utilization_ratio{label=\"chrome\"}"), 0.75);
  EXPECT_EQ(Value(samples, "gridhub_slot_utilization_ratio{label=\"firefox\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_label_concurrency_limit{label=\"chrome\"}"), 4);
  EXPECT_EQ(Value(samples, "gridhub_label_concurrency_limit{label=\"firefox\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_nodes{availability=\"up\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_nodes{availability=\"down\"}"), 1);
  EXPECT_EQ(samples.count("gridhub_queue_length{label=\"made-up\"}"), 0u);

  // Gauges are not remembered: the next picture replaces them entirely.
  auto next = Samples(metrics.Render({}));
  EXPECT_EQ(Value(next, "gridhub_queue_length{label=\"chrome\"}"), 0);
  EXPECT_EQ(Value(next, "gridhub_nodes{availability=\"up\"}"), 0);
}

TEST(HubMetricsTest, WebSocketSeriesExistAtZeroAndCount) {
  HubMetrics metrics("t");
  auto samples = Samples(metrics.Render({}));
  for (const char* kind : {"bidi", "cdp"}) {
    EXPECT_EQ(Value(samples, std::string("gridhub_websockets_open{kind=\"") + kind + "\"}"), 0);
    for (const char* outcome : {"ok", "unknown_session", "limit", "unauthorized", "node_failed"}) {
      EXPECT_EQ(Value(samples, std::string("gridhub_websocket_upgrades_total{kind=\"") + kind +
                                   "\",outcome=\"" + outcome + "\"}"),
                0);
    }
  }
  EXPECT_EQ(Value(samples, "gridhub_websocket_bytes_total{direction=\"to_node\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_websocket_bytes_total{direction=\"to_client\"}"), 0);

  metrics.RecordWebSocketUpgrade(WebSocketKind::kCdp, UpgradeOutcome::kLimit);
  metrics.RecordWebSocketUpgrade(WebSocketKind::kBidi, UpgradeOutcome::kOk);
  metrics.RecordWebSocketUpgrade(WebSocketKind::kBidi, UpgradeOutcome::kOk);
  metrics.RecordWebSocketBytes(ByteDirection::kToClient, 300);
  metrics.RecordWebSocketBytes(ByteDirection::kToClient, 12);
  GridGauges gauges;
  gauges.websockets_bidi = 2;
  samples = Samples(metrics.Render(gauges));
  EXPECT_EQ(Value(samples, "gridhub_websockets_open{kind=\"bidi\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_websockets_open{kind=\"cdp\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_websocket_upgrades_total{kind=\"bidi\",outcome=\"ok\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_websocket_upgrades_total{kind=\"cdp\",outcome=\"limit\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_websocket_upgrades_total{kind=\"cdp\",outcome=\"ok\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_websocket_bytes_total{direction=\"to_client\"}"), 312);
  EXPECT_EQ(Value(samples, "gridhub_websocket_bytes_total{direction=\"to_node\"}"), 0);
}

TEST(HubMetricsTest, SessionEventsCountByLabelAndKnownEventElseOther) {
  HubMetrics metrics("t");
  metrics.DeclareLabel("chrome");
  auto samples = Samples(metrics.Render({}));
  for (const char* event :
       {"test:started", "test:passed", "test:failed", "test:skipped", "other"}) {
    EXPECT_EQ(Value(samples, std::string("gridhub_session_events_total{event=\"") + event +
                                 "\",label=\"chrome\"}"),
              0);
  }
  metrics.RecordSessionEvent("chrome", "test:failed");
  metrics.RecordSessionEvent("chrome", "my:custom-event");
  metrics.RecordSessionEvent("chrome", "test:failed2");
  metrics.RecordSessionEvent("undeclared", "test:passed");  // folded into "other"
  samples = Samples(metrics.Render({}));
  EXPECT_EQ(Value(samples, "gridhub_session_events_total{event=\"test:failed\",label=\"chrome\"}"),
            1);
  EXPECT_EQ(Value(samples, "gridhub_session_events_total{event=\"other\",label=\"chrome\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_session_events_total{event=\"test:passed\",label=\"other\"}"),
            1);
  EXPECT_EQ(SessionEventName("test:skipped"), "test:skipped");
  EXPECT_EQ(SessionEventName("TEST:SKIPPED"), "other");
  metrics.SetDeclaredLabels({});
  EXPECT_EQ(Samples(metrics.Render({}))
                .count("gridhub_session_events_total{event=\"other\",label=\"chrome\"}"),
            0u);
}

TEST(HubMetricsTest, VersionIsTheProjectVersion) {
  // GRIDHUB_PROJECT_VERSION is CMake's PROJECT_VERSION, passed to this test by
  // metrics/CMakeLists.txt independently of the library's own definition.
  EXPECT_EQ(GridhubVersion(), std::string_view(GRIDHUB_PROJECT_VERSION));
}

TEST(HubMetricsTest, OutcomesComeFromErrorCodes) {
  EXPECT_EQ(OutcomeFor(ErrorCode::kTimeout), Outcome::kTimeout);
  EXPECT_EQ(OutcomeFor(ErrorCode::kQueueFull), Outcome::kQueueFull);
  EXPECT_EQ(OutcomeFor(ErrorCode::kRunLimit), Outcome::kRunLimit);
  EXPECT_EQ(OutcomeFor(ErrorCode::kUnsatisfiable), Outcome::kUnsatisfiable);
  EXPECT_EQ(OutcomeFor(ErrorCode::kNoWait), Outcome::kNoWait);
  EXPECT_EQ(OutcomeFor(ErrorCode::kSessionNotCreated), Outcome::kFailed);
  EXPECT_EQ(OutcomeFor(ErrorCode::kUnavailable), Outcome::kFailed);
  EXPECT_EQ(OutcomeName(Outcome::kQueueFull), "queue_full");
  EXPECT_EQ(OutcomeName(Outcome::kNoWait), "no_wait");
  EXPECT_EQ(OutcomeName(Outcome::kCancelled), "cancelled");
}

// Several hubs: the dispatcher's grid gauges, spliced into another hub's own series.
TEST(HubMetricsTest, GridGaugesAloneAreTheGaugeLinesOfRender) {
  HubMetrics metrics("t");
  metrics.SetDeclaredLabels({"chrome"});
  GridGauges gauges;
  gauges.labels["chrome"] = {.queue_length = 2, .slots_available = 1, .slots_busy = 1};
  gauges.labels["made-up"] = {.queue_length = 1};
  gauges.nodes_up = 1;
  const std::string grid = metrics.RenderGridGauges(gauges);
  const std::string whole = metrics.Render(gauges);
  EXPECT_NE(whole.find(grid), std::string::npos) << grid;
  auto samples = Samples(grid);
  EXPECT_EQ(Value(samples, "gridhub_queue_length{label=\"chrome\"}"), 2);
  EXPECT_EQ(Value(samples, "gridhub_queue_length{label=\"other\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_nodes{availability=\"up\"}"), 1);
  for (const auto& [series, value] : samples) {
    EXPECT_TRUE(series.starts_with("gridhub_queue_length") ||
                series.starts_with("gridhub_label_concurrency_limit") ||
                series.starts_with("gridhub_slot") ||
                series.starts_with("gridhub_sessions_active") ||
                series.starts_with("gridhub_nodes"))
        << series;
  }
}

TEST(HubMetricsTest, OneHubOfSeveralLabelsItsOwnSeriesAndNotTheGrids) {
  HubMetrics dispatcher("t");
  dispatcher.SetDeclaredLabels({"chrome"});
  GridGauges gauges;
  gauges.labels["chrome"] = {.slots_busy = 3, .sessions_active = 3};
  const std::string grid = dispatcher.RenderGridGauges(gauges);

  HubMetrics front("t");  // no slot here: the grid's labels come with the dispatcher's text
  front.RecordCommand(200, milliseconds(2));
  front.RecordWebSocketUpgrade(WebSocketKind::kCdp, UpgradeOutcome::kOk);
  const std::string text =
      front.RenderHub({.hub_id = "hub-b", .dispatcher = false, .websockets_cdp = 1}, grid);
  auto samples = Samples(text);
  EXPECT_EQ(Value(samples, "gridhub_commands_total{hub=\"hub-b\",class=\"2xx\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_command_duration_seconds_count{hub=\"hub-b\"}"), 1);
  EXPECT_EQ(Value(samples,
                  "gridhub_websocket_upgrades_total{hub=\"hub-b\",kind=\"cdp\","
                  "outcome=\"ok\"}"),
            1);
  EXPECT_EQ(Value(samples, "gridhub_websockets_open{hub=\"hub-b\",kind=\"cdp\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_dispatcher{hub=\"hub-b\"}"), 0);
  EXPECT_EQ(Value(samples, "gridhub_build_info{hub=\"hub-b\",version=\"t\"}"), 1);
  EXPECT_EQ(Value(samples, "gridhub_sessions_active{label=\"chrome\"}"), 3);
  EXPECT_EQ(Value(samples, "gridhub_slots{label=\"chrome\",state=\"busy\"}"), 3);
  for (const auto& [series, value] : samples) {
    const bool labelled = series.find("hub=\"hub-b\"") != std::string::npos;
    const bool own = !series.starts_with("process_") && grid.find(series) == std::string::npos;
    EXPECT_EQ(labelled, own) << series;
  }
  // Each family once (Prometheus refuses a scrape that names one twice).
  std::istringstream lines(text);
  std::set<std::string> types;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) {
      EXPECT_TRUE(types.insert(line).second) << line;
    }
  }
  // Without the dispatcher's text the grid's gauges are absent, not zero.
  auto alone = Samples(front.RenderHub({.hub_id = "hub-b"}, ""));
  EXPECT_EQ(alone.count("gridhub_sessions_active{label=\"other\"}"), 0u);
  EXPECT_EQ(Value(alone, "gridhub_websockets_open{hub=\"hub-b\",kind=\"bidi\"}"), 0);
}

}  // namespace
}  // namespace gridhub::metrics
