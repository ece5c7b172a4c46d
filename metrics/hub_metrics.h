#pragma once

// The hub's Prometheus metrics (DESIGN.md §6), without any HTTP: counters and histograms that
// the hub bumps at events, gauges computed from a picture of the grid at scrape time, and the
// text exposition format the hub serves at GET /metrics.
//
//   HubMetrics metrics("0.1.0");
//   metrics.DeclareLabel("chrome");                      // a slot or cap names it: series at 0
//   std::string l = metrics.RecordRequest("chrome");     // "chrome"; undeclared -> "other"
//   metrics.RecordQueueWait(l, waited);                  // once, when it first gets a slot
//   metrics.RecordOutcome(l, Outcome::kSuccess, since_arrival);
//   metrics.RecordCommand(200, elapsed);
//   std::string text = metrics.Render(gauges);           // served as kContentType
//
// Thread-safe: events may come from any thread, also while the caller holds its own lock
// (HubMetrics takes only its own short lock and never calls out).

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"

namespace prometheus {
class Counter;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace gridhub::metrics {

// How a new-session request ended; the `outcome` label of
// gridhub_session_request_outcomes_total.
enum class Outcome {
  kSuccess,
  kTimeout,
  kQueueFull,
  kRunLimit,
  kUnsatisfiable,
  kNoWait,
  kCancelled,
  kFailed,
};
inline constexpr size_t kOutcomeCount = 8;

// "success", "timeout", "queue_full", "run_limit", "unsatisfiable", "no_wait", "cancelled",
// "failed".
std::string_view OutcomeName(Outcome outcome);

// The outcome of a request refused or failed with `code` (kQueueFull -> kQueueFull, kTimeout ->
// kTimeout, ...); every code without an outcome of its own is kFailed.
Outcome OutcomeFor(ErrorCode code);

// WebSockets through the hub (DESIGN 6): the `kind` and `outcome` labels of
// gridhub_websocket_upgrades_total, the `direction` of gridhub_websocket_bytes_total.
enum class WebSocketKind { kBidi, kCdp };
enum class UpgradeOutcome { kOk, kUnknownSession, kLimit, kUnauthorized, kNodeFailed };
enum class ByteDirection { kToNode, kToClient };
inline constexpr size_t kUpgradeOutcomeCount = 5;

// The `event` label of gridhub_session_events_total: the eventType when it is one of
// test:started, test:passed, test:failed, test:skipped, else "other".
std::string_view SessionEventName(std::string_view event_type);
inline constexpr size_t kSessionEventCount = 5;

// Where requests and sessions of undeclared labels are counted.
inline constexpr std::string_view kOtherLabel = "other";

// This build's version (the project version from CMake), for gridhub_build_info.
std::string_view GridhubVersion();

// Content-Type of Render()'s text (Prometheus text exposition format 0.0.4).
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// The grid as the gauges see it at one scrape, built by the hub from its snapshot. Labels are
// the hub's canonical label strings; Render() folds undeclared ones into "other".
struct GridGauges {
  struct PerLabel {
    size_t queue_length = 0;     // waiters whose request label this is
    size_t slots_available = 0;  // free session units on UP nodes, by slot label
    size_t slots_busy = 0;       // running sessions, by slot label
    size_t sessions_active = 0;  // running sessions, by request label
  };
  std::map<std::string, PerLabel> labels;
  // The concurrency caps in force: per label, else the default; 0 = none.
  std::map<std::string, int> concurrency_caps;
  int concurrency_default = 0;
  size_t nodes_up = 0;
  size_t nodes_draining = 0;
  size_t nodes_down = 0;
  // Upgraded WebSocket tunnels open now, by kind (gridhub_websockets_open).
  size_t websockets_bidi = 0;
  size_t websockets_cdp = 0;
};

class HubMetrics {
 public:
  // `version` becomes gridhub_build_info{version}.
  explicit HubMetrics(std::string version);
  ~HubMetrics();
  HubMetrics(const HubMetrics&) = delete;
  HubMetrics& operator=(const HubMetrics&) = delete;

  // A slot or cap names `label` (canonical form): from now on it is counted under its own name
  // and all its series exist, at 0 until something happens. Declaring again is a no-op.
  void DeclareLabel(std::string_view label);

  // Exactly `labels` are declared from now on (the ones that some slot or cap names now):
  // missing ones are declared, and the series of labels no longer named are removed with
  // their counts, so the number of series follows the grid rather than its history. A label
  // declared again later starts from 0, as after a restart. "other" always stays.
  void SetDeclaredLabels(const std::set<std::string>& labels);

  // How many labels have series now, "other" included.
  size_t label_count() const;

  // `label` if declared, else "other".
  std::string MetricLabel(std::string_view label) const;

  // A new-session request arrived with request label `label`. Returns the metric label it is
  // counted under; pass that to the other Record* calls so one request stays under one label
  // even if its label is declared while it waits.
  std::string RecordRequest(std::string_view label);

  // The request's outcome is decided; `since_arrival` goes to
  // gridhub_session_request_duration_seconds. Call exactly once per request.
  void RecordOutcome(std::string_view metric_label, Outcome outcome, Duration since_arrival);

  // The request got a slot for the first time, `waited` after it arrived.
  void RecordQueueWait(std::string_view metric_label, Duration waited);

  // A WebDriver command was proxied; `http_status` is what the client was answered.
  void RecordCommand(int http_status, Duration elapsed);

  // A WebSocket upgrade request to the hub was decided: refused, failed at the node, or ok.
  void RecordWebSocketUpgrade(WebSocketKind kind, UpgradeOutcome outcome);
  // Bytes a tunnel relayed after its upgrade.
  void RecordWebSocketBytes(ByteDirection direction, size_t bytes);
  // POST /session/{id}/se/event for a session counted under `metric_label` (see MetricLabel).
  void RecordSessionEvent(std::string_view metric_label, std::string_view event_type);

  // Every gridhub_* and process_* metric in the text exposition format. Gauges are shown for
  // the declared labels; the gauges of any other label are summed under "other".
  std::string Render(const GridGauges& gauges);

  // Several hubs on one store (docs/scale-out.md). The grid's own gauges alone — queue
  // length, caps, slots, utilisation, active sessions, nodes — as Render() shows them: what
  // the dispatcher answers the other hubs, whose /metrics show the whole grid from it.
  std::string RenderGridGauges(const GridGauges& gauges);
  // What this hub is in a grid of several hubs.
  struct HubView {
    std::string_view hub_id;
    bool dispatcher = false;
    size_t websockets_bidi = 0;
    size_t websockets_cdp = 0;
  };
  // One hub's /metrics among several: its own counters, histograms, gridhub_build_info,
  // gridhub_websockets_open and gridhub_dispatcher, every series with hub="<id>", then
  // `grid_text` (RenderGridGauges of the dispatcher, unlabelled: the same grid from every
  // hub; "" when it could not be had) and the process_* metrics, as Render() orders them.
  std::string RenderHub(const HubView& hub, std::string_view grid_text);

 private:
  struct LabelSeries {
    prometheus::Counter* requests = nullptr;
    std::array<prometheus::Counter*, kOutcomeCount> outcomes{};
    prometheus::Histogram* duration = nullptr;
    prometheus::Histogram* wait = nullptr;
    std::array<prometheus::Counter*, kSessionEventCount> events{};
  };

  void AddWebSocketCounters();
  // The gauges' labels by metric label: every declared one (at 0 when absent), undeclared
  // ones summed under "other".
  std::map<std::string, GridGauges::PerLabel> FoldLabels(const GridGauges& gauges) const;
  LabelSeries& SeriesLocked(std::string_view label) REQUIRES(mu_);
  const LabelSeries& SeriesForLocked(std::string_view metric_label) REQUIRES(mu_);
  prometheus::Counter& CommandCounter(int http_status);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* outcomes_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Family<prometheus::Histogram>* wait_;
  prometheus::Family<prometheus::Counter>* commands_;
  prometheus::Histogram* command_duration_;
  prometheus::Family<prometheus::Counter>* session_events_;
  // [kind][outcome] and [direction]: fixed sets, created at construction.
  std::array<std::array<prometheus::Counter*, kUpgradeOutcomeCount>, 2> upgrades_{};
  std::array<prometheus::Counter*, 2> socket_bytes_{};

  mutable Mutex mu_;
  // Declared labels and "other"; node-based, so LabelSeries addresses stay valid.
  std::map<std::string, LabelSeries, std::less<>> labels_ GUARDED_BY(mu_);
  // Commands by status class "1xx".."5xx".
  std::map<int, prometheus::Counter*> command_classes_ GUARDED_BY(mu_);
};

}  // namespace gridhub::metrics
