#include "hub/grid_snapshot.h"

#include <algorithm>

namespace gridhub::hub {

std::string_view AvailabilityName(Availability availability) {
  switch (availability) {
    case Availability::kUp:
      return "UP";
    case Availability::kDraining:
      return "DRAINING";
    case Availability::kDown:
      return "DOWN";
  }
  return "DOWN";
}

GridSnapshot::NodeViewList::NodeViewList(const std::vector<View>& views) : size_(views.size()) {
  chunks_.reserve((views.size() + kChunk - 1) / kChunk);
  for (size_t at = 0; at < views.size(); at += kChunk) {
    const size_t end = std::min(views.size(), at + kChunk);
    chunks_.push_back(std::make_shared<const Chunk>(views.begin() + static_cast<ptrdiff_t>(at),
                                                    views.begin() + static_cast<ptrdiff_t>(end)));
  }
}

void GridSnapshot::NodeViewList::push_back(View view) {
  if (size_ % kChunk == 0) {
    chunks_.push_back(std::make_shared<const Chunk>(Chunk{std::move(view)}));
  } else {
    auto last = std::make_shared<Chunk>(*chunks_.back());
    last->push_back(std::move(view));
    chunks_.back() = std::move(last);
  }
  ++size_;
}

void GridSnapshot::NodeViewList::Set(size_t i, View view) {
  std::shared_ptr<const Chunk>& chunk = chunks_[i / kChunk];
  auto copy = std::make_shared<Chunk>(*chunk);
  (*copy)[i % kChunk] = std::move(view);
  chunk = std::move(copy);
}

namespace {

nlohmann::json SlotJson(const GridSnapshot::SlotView& slot, int i, Exposure exposure) {
  using nlohmann::json;
  std::string id = slot.max_sessions == 1 ? slot.id : slot.id + "/" + std::to_string(i);
  const bool busy = i < static_cast<int>(slot.sessions.size());
  if (exposure == Exposure::kCounts) return {{"id", id}, {"label", slot.label}, {"busy", busy}};
  json session = nullptr;
  if (busy) {
    const auto& s = slot.sessions[i];
    session = {{"sessionId", s.id}, {"capabilities", s.capabilities}, {"start", s.started_at}};
  }
  return {{"id", id}, {"label", slot.label}, {"stereotype", slot.stereotype}, {"session", session}};
}

}  // namespace

nlohmann::json StatusJson(const GridSnapshot& snapshot, Exposure exposure) {
  using nlohmann::json;
  json nodes = json::array();
  bool ready = false;
  for (const auto& node_view : snapshot.nodes) {
    const GridSnapshot::NodeView& node = *node_view;
    if (node.availability == Availability::kUp) ready = true;
    json slots = json::array();
    int max_sessions = 0;
    int session_count = 0;
    for (const GridSnapshot::SlotView& slot : node.slots) {
      max_sessions += slot.max_sessions;
      const int busy = static_cast<int>(slot.sessions.size());
      session_count += busy;
      // One entry per running session and, while the slot has room, one entry with session
      // null standing for all of it (`free` says how many), so that /status grows with slots
      // and sessions, never with maxSessions.
      for (int i = 0; i < busy; ++i) slots.push_back(SlotJson(slot, i, exposure));
      if (busy < slot.max_sessions) {
        json room = SlotJson(slot, busy, exposure);
        room["free"] = slot.max_sessions - busy;
        slots.push_back(std::move(room));
      }
    }
    json entry = {{"id", node.id},
                  {"availability", std::string(AvailabilityName(node.availability))},
                  {"maxSessions", max_sessions},
                  {"sessionCount", session_count},
                  {"slots", slots}};
    if (exposure == Exposure::kFull) entry["uri"] = node.uri;
    nodes.push_back(std::move(entry));
  }
  json value = {{"ready", ready},
                {"message", ready ? "Selenium Grid ready." : "Selenium Grid not ready."},
                {"nodes", nodes},
                {"queueSize", snapshot.queue_size}};
  if (exposure == Exposure::kCounts) value["redacted"] = true;
  return {{"value", value}};
}

double WallSeconds(SteadyTime t, SteadyTime now) {
  auto wall = std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(now - t);
  return std::chrono::duration<double>(wall.time_since_epoch()).count();
}

}  // namespace gridhub::hub
