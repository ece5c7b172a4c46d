#include "hub/console_view.h"

#include <algorithm>
#include <optional>

#include "metrics/hub_metrics.h"

namespace gridhub::hub {

using nlohmann::json;

namespace {

// A string capability of a session's answer ("" when absent or not a string).
std::string CapabilityText(const json& capabilities, const char* key) {
  if (!capabilities.is_object()) return "";
  auto it = capabilities.find(key);
  return it != capabilities.end() && it->is_string() ? it->get<std::string>() : "";
}

json OrNull(std::optional<double> value) { return value.has_value() ? json(*value) : json(); }

// What the labels table shows of one bounded label.
struct LabelFigures {
  size_t queue = 0;
  std::optional<double> oldest_enqueued;  // Unix seconds of its longest waiter
  size_t running = 0;                     // sessions counted under it (caps count these)
  size_t slots_busy = 0;
  size_t slots_available = 0;  // free units on UP nodes
  bool any() const { return queue > 0 || running > 0 || slots_busy > 0 || slots_available > 0; }
};

std::map<std::string, LabelFigures> FiguresByLabel(const GridSnapshot& snapshot) {
  std::map<std::string, LabelFigures> figures;
  for (const std::string& label : *snapshot.declared_labels) figures[label];
  for (const auto& [label, waiting] : snapshot.waiting_by_label.ToMap()) {
    figures[BoundedLabel(snapshot, label)].queue += waiting;
  }
  if (snapshot.queue == nullptr) return figures;  // the history's samples need no waiter listed
  for (const GridSnapshot::QueuedWaiter& queued : snapshot.queue->waiting) {
    LabelFigures& f = figures[BoundedLabel(snapshot, queued.waiter->label)];
    f.oldest_enqueued = std::min(f.oldest_enqueued.value_or(queued.waiter->enqueued_at),
                                 queued.waiter->enqueued_at);
  }
  for (const auto& node : snapshot.nodes) {
    for (const GridSnapshot::SlotView& slot : node->slots) {
      LabelFigures& by_slot = figures[BoundedLabel(snapshot, slot.label)];
      const size_t busy = slot.sessions.size();
      by_slot.slots_busy += busy;
      // Free units of a DRAINING or DOWN node serve nobody (as gridhub_slots counts them).
      if (node->availability == Availability::kUp &&
          static_cast<size_t>(slot.max_sessions) > busy) {
        by_slot.slots_available += static_cast<size_t>(slot.max_sessions) - busy;
      }
      for (const GridSnapshot::SessionView& session : slot.sessions) {
        figures[BoundedLabel(snapshot, session.label.empty() ? slot.label : session.label)]
            .running++;
      }
    }
  }
  return figures;
}

json ViewerJson(const ConsoleViewer& viewer) {
  return {{"authorized", viewer.authorized},
          {"admin", viewer.admin},
          {"clientTokenRequired", viewer.client_token_required},
          {"adminTokenSet", viewer.admin_token_set}};
}

json SessionJson(const GridSnapshot::SessionView& session, SteadyTime now) {
  json last_command;
  json last_event;
  if (session.activity != nullptr) {
    if (std::optional<SteadyTime> at = session.activity->last_command()) {
      last_command = WallSeconds(*at, now);
    }
    if (std::optional<SessionActivity::Event> event = session.activity->last_event()) {
      last_event = {{"type", event->type}, {"at", WallSeconds(event->at, now)}};
    }
  }
  return {{"id", session.id},
          {"label", session.label},
          {"browserName", CapabilityText(session.capabilities, "browserName")},
          {"browserVersion", CapabilityText(session.capabilities, "browserVersion")},
          {"runId", session.run_id},
          {"startedAt", session.started_at},
          {"lastCommandAt", last_command},
          {"lastEvent", last_event}};
}

json NodesJson(const GridSnapshot& snapshot, SteadyTime now) {
  json nodes = json::array();
  for (const auto& node : snapshot.nodes) {
    json slots = json::array();
    int max_sessions = 0;
    for (const GridSnapshot::SlotView& slot : node->slots) {
      max_sessions += slot.max_sessions;
      json sessions = json::array();
      for (const GridSnapshot::SessionView& session : slot.sessions) {
        sessions.push_back(SessionJson(session, now));
      }
      slots.push_back({{"id", slot.id},
                       {"label", slot.label},
                       {"maxSessions", slot.max_sessions},
                       {"stereotype", slot.stereotype},
                       {"sessions", std::move(sessions)}});
    }
    nodes.push_back({{"id", node->id},
                     {"uri", node->uri},
                     {"availability", std::string(AvailabilityName(node->availability))},
                     {"maxSessions", max_sessions},
                     {"slots", std::move(slots)}});
  }
  return nodes;
}

json RefusalsJson(const RefusalTally::Counts& counts, const std::string& label) {
  json out = json::object();
  auto it = counts.find(label);
  for (size_t i = 0; i < RefusalTally::kReasons.size(); ++i) {
    out[std::string(RefusalTally::kReasons[i])] = it == counts.end() ? 0 : it->second[i];
  }
  return out;
}

json LabelsJson(const ConsoleInputs& in, double wall_now) {
  const GridSnapshot& snapshot = in.snapshot;
  std::map<std::string, LabelFigures> figures = FiguresByLabel(snapshot);
  for (const auto& [label, counts] : in.refusals) {
    if (label == metrics::kOtherLabel || snapshot.declared_labels->count(label) > 0) {
      figures[label];
    }
  }
  json labels = json::array();
  for (const auto& [label, f] : figures) {
    // "other" only when something is counted there: it is no label an operator declared.
    if (label == metrics::kOtherLabel && !f.any() && in.refusals.count(label) == 0) continue;
    auto cap = snapshot.concurrency_caps.find(label);
    const int limit =
        cap != snapshot.concurrency_caps.end() ? cap->second : snapshot.concurrency_default;
    const size_t total = f.slots_busy + f.slots_available;
    std::optional<double> oldest;
    if (f.oldest_enqueued.has_value()) oldest = std::max(0.0, wall_now - *f.oldest_enqueued);
    labels.push_back({{"label", label},
                      {"queueLength", f.queue},
                      {"oldestWaitSeconds", OrNull(oldest)},
                      {"running", f.running},
                      {"cap", limit},
                      {"slotsTotal", total},
                      {"slotsBusy", f.slots_busy},
                      {"utilization", total == 0 ? 0.0 : static_cast<double>(f.slots_busy) / total},
                      {"refusals", RefusalsJson(in.refusals, label)}});
  }
  return labels;
}

// Grouped by label in service order: the snapshot lists waiters label by label already.
json QueueJson(const GridSnapshot& snapshot, double wall_now) {
  json groups = json::array();
  if (snapshot.queue == nullptr) return groups;  // not expected: the console lists them
  for (const GridSnapshot::QueuedWaiter& queued : snapshot.queue->waiting) {
    const GridSnapshot::WaiterView& w = *queued.waiter;
    if (groups.empty() || groups.back()["label"] != w.label) {
      groups.push_back({{"label", w.label}, {"waiters", json::array()}});
    }
    groups.back()["waiters"].push_back({{"id", w.id},
                                        {"position", queued.position},
                                        {"runId", w.run_id},
                                        {"enqueuedAt", w.enqueued_at},
                                        {"waitSeconds", std::max(0.0, wall_now - w.enqueued_at)},
                                        {"kind", w.ticket ? "ticket" : "session"},
                                        {"browserName", w.browser_name},
                                        {"browserVersion", w.browser_version}});
  }
  return groups;
}

json HistoryJson(const ConsoleInputs& in) {
  json points = json::array();
  for (const ConsoleHistory::Point& point : in.history) {
    json labels = json::object();
    for (const auto& [label, load] : point.labels) {
      labels[label] = {{"queue", load.queue}, {"busy", load.busy}};
    }
    points.push_back({{"at", WallSeconds(point.at, in.now)}, {"labels", std::move(labels)}});
  }
  return {{"intervalSeconds", std::chrono::duration<double>(in.history_interval).count()},
          {"points", std::move(points)}};
}

json EventsJson(const ConsoleInputs& in) {
  json events = json::array();
  for (const GridEvent& e : in.events) {
    events.push_back({{"at", WallSeconds(e.at, in.now)},
                      {"kind", std::string(GridEventName(e.kind))},
                      {"label", e.label},
                      {"runId", e.run_id},
                      {"sessionId", e.session_id},
                      {"nodeId", e.node_id},
                      {"reason", e.reason},
                      {"message", e.message}});
  }
  return events;
}

}  // namespace

std::string BoundedLabel(const GridSnapshot& snapshot, std::string_view label) {
  if (snapshot.declared_labels->count(std::string(label)) > 0) return std::string(label);
  return std::string(metrics::kOtherLabel);
}

ConsoleHistory::Sample LoadByLabel(const GridSnapshot& snapshot) {
  ConsoleHistory::Sample sample;
  for (const auto& [label, f] : FiguresByLabel(snapshot)) {
    if (label == metrics::kOtherLabel && f.queue == 0 && f.slots_busy == 0) continue;
    sample[label] = {.queue = f.queue, .busy = f.slots_busy};
  }
  return sample;
}

json ConsoleStateJson(const ConsoleInputs& in) {
  const GridSnapshot& snapshot = in.snapshot;
  const double wall_now = WallSeconds(in.now, in.now);
  bool ready = false;
  for (const auto& node : snapshot.nodes) ready = ready || node->availability == Availability::kUp;
  json state = {{"version", std::string(metrics::GridhubVersion())},
                {"now", wall_now},
                {"ready", ready},
                // As GET /status words it.
                {"message", ready ? "Selenium Grid ready." : "Selenium Grid not ready."},
                {"viewer", ViewerJson(in.viewer)}};
  if (!in.viewer.authorized) {
    state["redacted"] = true;
    return state;
  }
  state["nodes"] = NodesJson(snapshot, in.now);
  state["labels"] = LabelsJson(in, wall_now);
  state["queue"] = QueueJson(snapshot, wall_now);
  state["history"] = HistoryJson(in);
  state["events"] = EventsJson(in);
  return state;
}

}  // namespace gridhub::hub
