#include "metrics/hub_metrics.h"

#include <algorithm>
#include <utility>

#include "metrics/process_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace gridhub::metrics {

namespace {

constexpr std::array<Outcome, kOutcomeCount> kOutcomes = {
    Outcome::kSuccess,       Outcome::kTimeout, Outcome::kQueueFull, Outcome::kRunLimit,
    Outcome::kUnsatisfiable, Outcome::kNoWait,  Outcome::kCancelled, Outcome::kFailed};

// From a session served at once (milliseconds) to the default queue.timeout (300 s) and
// beyond, so that p50/p95 stay readable for both an idle and a saturated grid.
const prometheus::Histogram::BucketBoundaries& WaitBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
  return kBuckets;
}

// Hub-side proxy time of one command: sub-millisecond on a LAN, minutes for a slow page load.
const prometheus::Histogram::BucketBoundaries& CommandBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return kBuckets;
}

constexpr std::array<std::string_view, kSessionEventCount> kSessionEvents = {
    "test:started", "test:passed", "test:failed", "test:skipped", "other"};

size_t SessionEventIndex(std::string_view event_type) {
  for (size_t i = 0; i + 1 < kSessionEvents.size(); ++i) {
    if (kSessionEvents[i] == event_type) return i;
  }
  return kSessionEvents.size() - 1;
}

double Seconds(Duration d) { return std::max(0.0, std::chrono::duration<double>(d).count()); }

// 1..5 for a status of that class; anything else (0 for "no answer") counts as a server error.
int StatusClass(int http_status) {
  int c = http_status / 100;
  return c >= 1 && c <= 5 ? c : 5;
}

prometheus::ClientMetric GaugeSample(std::vector<prometheus::ClientMetric::Label> labels,
                                     double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return metric;
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  return {std::move(name), std::move(help), prometheus::MetricType::Gauge, {}};
}

// The gauges of the grid, from labels already folded (FoldLabels) and the rest of `gauges`.
std::vector<prometheus::MetricFamily> GridFamilies(
    const std::map<std::string, GridGauges::PerLabel>& by_metric_label, const GridGauges& gauges) {
  prometheus::MetricFamily queue =
      GaugeFamily("gridhub_queue_length", "New-session requests waiting, by request label.");
  prometheus::MetricFamily limit = GaugeFamily(
      "gridhub_label_concurrency_limit", "Most active sessions allowed per label (0 = none).");
  prometheus::MetricFamily slots = GaugeFamily(
      "gridhub_slots", "Session units by slot label: available (free on UP nodes) and busy.");
  prometheus::MetricFamily utilization =
      GaugeFamily("gridhub_slot_utilization_ratio", "Busy / (busy + available) per slot label.");
  prometheus::MetricFamily active =
      GaugeFamily("gridhub_sessions_active", "Running sessions, by request label.");
  for (const auto& [name, v] : by_metric_label) {
    queue.metric.push_back(GaugeSample({{"label", name}}, static_cast<double>(v.queue_length)));
    auto cap = gauges.concurrency_caps.find(name);
    int cap_value = cap != gauges.concurrency_caps.end() ? cap->second : gauges.concurrency_default;
    limit.metric.push_back(GaugeSample({{"label", name}}, std::max(cap_value, 0)));
    slots.metric.push_back(GaugeSample({{"label", name}, {"state", "available"}},
                                       static_cast<double>(v.slots_available)));
    slots.metric.push_back(
        GaugeSample({{"label", name}, {"state", "busy"}}, static_cast<double>(v.slots_busy)));
    const size_t total = v.slots_available + v.slots_busy;
    utilization.metric.push_back(GaugeSample(
        {{"label", name}},
        total == 0 ? 0.0 : static_cast<double>(v.slots_busy) / static_cast<double>(total)));
    active.metric.push_back(GaugeSample({{"label", name}}, static_cast<double>(v.sessions_active)));
  }
  prometheus::MetricFamily nodes =
      GaugeFamily("gridhub_nodes", "Registered nodes by availability.");
  nodes.metric.push_back(
      GaugeSample({{"availability", "up"}}, static_cast<double>(gauges.nodes_up)));
  nodes.metric.push_back(
      GaugeSample({{"availability", "draining"}}, static_cast<double>(gauges.nodes_draining)));
  nodes.metric.push_back(
      GaugeSample({{"availability", "down"}}, static_cast<double>(gauges.nodes_down)));
  std::vector<prometheus::MetricFamily> families;
  for (prometheus::MetricFamily* family : {&queue, &limit, &slots, &utilization, &active, &nodes}) {
    families.push_back(std::move(*family));
  }
  return families;
}

prometheus::MetricFamily SocketFamily(size_t bidi, size_t cdp) {
  prometheus::MetricFamily sockets =
      GaugeFamily("gridhub_websockets_open", "WebSocket tunnels open through the hub, by kind.");
  sockets.metric.push_back(GaugeSample({{"kind", "bidi"}}, static_cast<double>(bidi)));
  sockets.metric.push_back(GaugeSample({{"kind", "cdp"}}, static_cast<double>(cdp)));
  return sockets;
}

void AppendProcessFamilies(std::vector<prometheus::MetricFamily>& families) {
  if (std::optional<ProcessStats> stats = ReadProcessStats()) {
    for (prometheus::MetricFamily& family : ProcessFamilies(*stats)) {
      families.push_back(std::move(family));
    }
  }
}

}  // namespace

std::string_view GridhubVersion() { return GRIDHUB_VERSION; }

std::string_view SessionEventName(std::string_view event_type) {
  return kSessionEvents[SessionEventIndex(event_type)];
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kQueueFull:
      return "queue_full";
    case Outcome::kRunLimit:
      return "run_limit";
    case Outcome::kUnsatisfiable:
      return "unsatisfiable";
    case Outcome::kNoWait:
      return "no_wait";
    case Outcome::kCancelled:
      return "cancelled";
    case Outcome::kFailed:
      return "failed";
  }
  return "failed";
}

Outcome OutcomeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTimeout:
      return Outcome::kTimeout;
    case ErrorCode::kQueueFull:
      return Outcome::kQueueFull;
    case ErrorCode::kRunLimit:
      return Outcome::kRunLimit;
    case ErrorCode::kUnsatisfiable:
      return Outcome::kUnsatisfiable;
    case ErrorCode::kNoWait:
      return Outcome::kNoWait;
    default:
      return Outcome::kFailed;
  }
}

HubMetrics::HubMetrics(std::string version) : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("gridhub_session_requests_total")
                   .Help("New-session requests received, by request label.")
                   .Register(*registry_);
  outcomes_ = &prometheus::BuildCounter()
                   .Name("gridhub_session_request_outcomes_total")
                   .Help("New-session requests by how they ended.")
                   .Register(*registry_);
  duration_ = &prometheus::BuildHistogram()
                   .Name("gridhub_session_request_duration_seconds")
                   .Help(
                       "Time from a new-session request's arrival to its outcome "
                       "(queue wait + session creation).")
                   .Register(*registry_);
  wait_ = &prometheus::BuildHistogram()
               .Name("gridhub_queue_wait_seconds")
               .Help("Time from enqueue to the first slot assigned (about 0 when served at once).")
               .Register(*registry_);
  commands_ = &prometheus::BuildCounter()
                   .Name("gridhub_commands_total")
                   .Help("WebDriver commands proxied to nodes, by HTTP status class.")
                   .Register(*registry_);
  command_duration_ = &prometheus::BuildHistogram()
                           .Name("gridhub_command_duration_seconds")
                           .Help("Hub-side time to proxy one WebDriver command to its node.")
                           .Register(*registry_)
                           .Add({}, CommandBuckets());
  session_events_ = &prometheus::BuildCounter()
                         .Name("gridhub_session_events_total")
                         .Help("POST /session/{id}/se/event calls, by session label and event.")
                         .Register(*registry_);
  AddWebSocketCounters();
  prometheus::BuildGauge()
      .Name("gridhub_build_info")
      .Help("Always 1; the version label says which gridhub is running.")
      .Register(*registry_)
      .Add({{"version", std::move(version)}})
      .Set(1);
  MutexLock lock(mu_);
  SeriesLocked(kOtherLabel);
  for (int c : {2, 4, 5}) {
    command_classes_[c] = &commands_->Add({{"class", std::to_string(c) + "xx"}});
  }
}

HubMetrics::~HubMetrics() = default;

void HubMetrics::AddWebSocketCounters() {
  auto& upgrades = prometheus::BuildCounter()
                       .Name("gridhub_websocket_upgrades_total")
                       .Help("WebSocket upgrade requests to the hub, by kind and outcome.")
                       .Register(*registry_);
  constexpr std::array<std::string_view, 2> kKinds = {"bidi", "cdp"};
  constexpr std::array<std::string_view, kUpgradeOutcomeCount> kOutcomeNames = {
      "ok", "unknown_session", "limit", "unauthorized", "node_failed"};
  for (size_t k = 0; k < kKinds.size(); ++k) {
    for (size_t o = 0; o < kOutcomeNames.size(); ++o) {
      upgrades_[k][o] = &upgrades.Add(
          {{"kind", std::string(kKinds[k])}, {"outcome", std::string(kOutcomeNames[o])}});
    }
  }
  auto& bytes = prometheus::BuildCounter()
                    .Name("gridhub_websocket_bytes_total")
                    .Help("Bytes relayed by the hub's WebSocket tunnels after the upgrade.")
                    .Register(*registry_);
  socket_bytes_[0] = &bytes.Add({{"direction", "to_node"}});
  socket_bytes_[1] = &bytes.Add({{"direction", "to_client"}});
}

HubMetrics::LabelSeries& HubMetrics::SeriesLocked(std::string_view label) {
  auto it = labels_.find(label);
  if (it != labels_.end()) return it->second;
  const std::string name(label);
  LabelSeries series;
  series.requests = &requests_->Add({{"label", name}});
  for (Outcome outcome : kOutcomes) {
    series.outcomes[static_cast<size_t>(outcome)] =
        &outcomes_->Add({{"label", name}, {"outcome", std::string(OutcomeName(outcome))}});
  }
  series.duration = &duration_->Add({{"label", name}}, WaitBuckets());
  series.wait = &wait_->Add({{"label", name}}, WaitBuckets());
  for (size_t i = 0; i < kSessionEvents.size(); ++i) {
    series.events[i] =
        &session_events_->Add({{"label", name}, {"event", std::string(kSessionEvents[i])}});
  }
  return labels_.emplace(name, series).first->second;
}

void HubMetrics::DeclareLabel(std::string_view label) {
  if (label.empty()) return;
  MutexLock lock(mu_);
  SeriesLocked(label);
}

void HubMetrics::SetDeclaredLabels(const std::set<std::string>& labels) {
  MutexLock lock(mu_);
  for (const std::string& label : labels) {
    if (!label.empty()) SeriesLocked(label);
  }
  for (auto it = labels_.begin(); it != labels_.end();) {
    if (it->first == kOtherLabel || labels.count(it->first) > 0) {
      ++it;
      continue;
    }
    const LabelSeries& series = it->second;
    requests_->Remove(series.requests);
    for (prometheus::Counter* outcome : series.outcomes) outcomes_->Remove(outcome);
    duration_->Remove(series.duration);
    wait_->Remove(series.wait);
    for (prometheus::Counter* event : series.events) session_events_->Remove(event);
    it = labels_.erase(it);
  }
}

size_t HubMetrics::label_count() const {
  MutexLock lock(mu_);
  return labels_.size();
}

std::string HubMetrics::MetricLabel(std::string_view label) const {
  MutexLock lock(mu_);
  return std::string(labels_.count(label) > 0 ? label : kOtherLabel);
}

// The series are used under mu_: SetDeclaredLabels may remove them from another thread.
const HubMetrics::LabelSeries& HubMetrics::SeriesForLocked(std::string_view metric_label) {
  auto it = labels_.find(metric_label);
  if (it == labels_.end()) it = labels_.find(kOtherLabel);
  return it->second;  // "other" exists from construction
}

std::string HubMetrics::RecordRequest(std::string_view label) {
  MutexLock lock(mu_);
  std::string metric_label(labels_.count(label) > 0 ? label : kOtherLabel);
  SeriesForLocked(metric_label).requests->Increment();
  return metric_label;
}

void HubMetrics::RecordOutcome(std::string_view metric_label, Outcome outcome,
                               Duration since_arrival) {
  MutexLock lock(mu_);
  const LabelSeries& series = SeriesForLocked(metric_label);
  series.outcomes[static_cast<size_t>(outcome)]->Increment();
  series.duration->Observe(Seconds(since_arrival));
}

void HubMetrics::RecordQueueWait(std::string_view metric_label, Duration waited) {
  MutexLock lock(mu_);
  SeriesForLocked(metric_label).wait->Observe(Seconds(waited));
}

prometheus::Counter& HubMetrics::CommandCounter(int http_status) {
  const int c = StatusClass(http_status);
  MutexLock lock(mu_);
  prometheus::Counter*& counter = command_classes_[c];
  if (counter == nullptr) counter = &commands_->Add({{"class", std::to_string(c) + "xx"}});
  return *counter;
}

void HubMetrics::RecordCommand(int http_status, Duration elapsed) {
  CommandCounter(http_status).Increment();
  command_duration_->Observe(Seconds(elapsed));
}

// The upgrade and byte counters are fixed at construction and never removed: no lock needed.
void HubMetrics::RecordWebSocketUpgrade(WebSocketKind kind, UpgradeOutcome outcome) {
  upgrades_[static_cast<size_t>(kind)][static_cast<size_t>(outcome)]->Increment();
}

void HubMetrics::RecordWebSocketBytes(ByteDirection direction, size_t bytes) {
  socket_bytes_[static_cast<size_t>(direction)]->Increment(static_cast<double>(bytes));
}

void HubMetrics::RecordSessionEvent(std::string_view metric_label, std::string_view event_type) {
  MutexLock lock(mu_);
  SeriesForLocked(metric_label).events[SessionEventIndex(event_type)]->Increment();
}

std::map<std::string, GridGauges::PerLabel> HubMetrics::FoldLabels(const GridGauges& gauges) const {
  // Every declared label gets every gauge, at 0 when nothing is there, like its counters.
  std::map<std::string, GridGauges::PerLabel> by_metric_label;
  {
    MutexLock lock(mu_);
    for (const auto& [name, series] : labels_) by_metric_label[name];
  }
  for (const auto& [label, values] : gauges.labels) {
    GridGauges::PerLabel& sum = by_metric_label[MetricLabel(label)];
    sum.queue_length += values.queue_length;
    sum.slots_available += values.slots_available;
    sum.slots_busy += values.slots_busy;
    sum.sessions_active += values.sessions_active;
  }
  return by_metric_label;
}

std::string HubMetrics::Render(const GridGauges& gauges) {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : GridFamilies(FoldLabels(gauges), gauges)) {
    families.push_back(std::move(family));
  }
  families.push_back(SocketFamily(gauges.websockets_bidi, gauges.websockets_cdp));
  AppendProcessFamilies(families);
  return prometheus::TextSerializer().Serialize(families);
}

std::string HubMetrics::RenderGridGauges(const GridGauges& gauges) {
  return prometheus::TextSerializer().Serialize(GridFamilies(FoldLabels(gauges), gauges));
}

std::string HubMetrics::RenderHub(const HubView& hub, std::string_view grid_text) {
  const std::string hub_id(hub.hub_id);
  std::vector<prometheus::MetricFamily> own = registry_->Collect();
  prometheus::MetricFamily dispatcher = GaugeFamily(
      "gridhub_dispatcher", "1 on the hub that runs the grid's queue now, else 0 (several hubs).");
  dispatcher.metric.push_back(GaugeSample({}, hub.dispatcher ? 1 : 0));
  own.push_back(std::move(dispatcher));
  std::vector<prometheus::MetricFamily> tail = {
      SocketFamily(hub.websockets_bidi, hub.websockets_cdp)};
  for (std::vector<prometheus::MetricFamily>* part : {&own, &tail}) {
    for (prometheus::MetricFamily& family : *part) {
      for (prometheus::ClientMetric& metric : family.metric) {
        metric.label.insert(metric.label.begin(), {"hub", hub_id});
      }
    }
  }
  // process_* keep the standard shape every exporter has: the scrape's instance tells hubs
  // apart, and gridhub_build_info{hub} maps a hub id to its instance.
  AppendProcessFamilies(tail);
  prometheus::TextSerializer serializer;
  std::string text = serializer.Serialize(own);
  text += grid_text;
  text += serializer.Serialize(tail);
  return text;
}

}  // namespace gridhub::metrics
