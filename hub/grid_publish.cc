// Grid: publishing the immutable snapshot that /status, /graphql and /metrics read, and the
// read-only views for tests.

#include "hub/grid.h"
#include "hub/grid_internal.h"

namespace gridhub::hub {

using nlohmann::json;
using queue::RequestId;

// ---------------------------------------------------------------------------------------------
// Snapshot

void Grid::PublishLocked() {
  if (metrics_generation_ != compat_generation_) {  // nodes or caps changed
    SyncMetricLabelsLocked();
    metrics_generation_ = compat_generation_;
  }
  auto snapshot = std::make_shared<GridSnapshot>();
  const SteadyTime now = clock_.Now();
  snapshot->version = ++version_;
  snapshot->queue_size = queue_.size();
  snapshot->waiting_by_label = waiting_counts_;
  // Listing the waiters costs O(waiters): a grant must not pay it, a reader does if it asks.
  if (queue_view_dirty_) queue_view_ = nullptr;
  snapshot->queue = queue_view_;
  snapshot->concurrency_caps = settings_.queue.concurrency_caps;
  snapshot->concurrency_default = settings_.queue.concurrency_default;
  snapshot->declared_labels = declared_labels_;
  // Only the nodes touched since the last publish are looked at, unless nodes came or went
  // (then every node's place is given again; views that still match are reused).
  bool membership = false;
  std::vector<Node*> changed = nodes_.TakeChanged(&membership);
  if (membership) {
    std::vector<GridSnapshot::NodeViewList::View> views;
    views.reserve(nodes_.nodes().size());
    for (const auto& [id, node] : nodes_.nodes()) {
      node->view_index = views.size();
      views.push_back(NodeViewLocked(*node, now));
    }
    node_views_ = GridSnapshot::NodeViewList(views);
  } else {
    for (Node* node : changed) {
      const GridSnapshot::NodeViewList::View& shown = node_views_[node->view_index];
      std::shared_ptr<const GridSnapshot::NodeView> view = NodeViewLocked(*node, now);
      if (view != shown) node_views_.Set(node->view_index, std::move(view));
    }
  }
  snapshot->nodes = node_views_;
  MutexLock lock(snapshot_mu_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const GridSnapshot> Grid::snapshot_with_queue() {
  MutexLock lock(mu_);
  std::shared_ptr<const GridSnapshot> published = snapshot();
  if (published->queue != nullptr) return published;
  // The published snapshot is the latest (each operation publishes before it unlocks), so
  // the queue listed now is the one it counts; the copy keeps its version and replaces it,
  // for the readers that come before the next change.
  if (queue_view_dirty_ || queue_view_ == nullptr) {
    queue_view_ = ListQueueLocked();
    queue_view_dirty_ = false;
  }
  auto listed = std::make_shared<GridSnapshot>(*published);
  listed->queue = queue_view_;
  MutexLock publish(snapshot_mu_);
  snapshot_ = listed;
  return listed;
}

std::shared_ptr<const GridSnapshot::QueueView> Grid::ListQueueLocked() {
  auto view = std::make_shared<GridSnapshot::QueueView>();
  view->requests.reserve(queue_.size());
  view->waiting.reserve(queue_.size());
  const SteadyTime now = clock_.Now();
  queue_.ForEachWaiter([&](RequestId id, std::string_view, size_t position)
                           NO_THREAD_SAFETY_ANALYSIS {  // runs inside ListQueueLocked
                             auto w = waiters_.find(id);
                             if (w == waiters_.end() || !w->second->caps_string) return;
                             Waiter& waiter = *w->second;
                             view->requests.push_back(waiter.caps_string);
                             view->waiting.push_back({WaiterViewLocked(waiter, now), position});
                           });
  return view;
}

void Grid::CountWaitingLocked(const std::string& label, int delta) {
  auto it = waiting_live_.try_emplace(label, 0).first;
  if (delta > 0) {
    ++it->second;
  } else if (it->second > 0) {  // never below 0 (not expected either)
    --it->second;
  }
  const size_t count = it->second;
  if (count == 0) waiting_live_.erase(it);
  waiting_counts_ = waiting_counts_.With(label, count, waiting_live_);
  queue_view_dirty_ = true;
}

// The node's published view, rebuilt only if it no longer shows the node: a node's id and
// slots never change (re-registration makes a new Node) and a session never changes once
// started, so comparing the URI, the availability and each slot's session ids is enough.
bool Grid::ViewShows(const GridSnapshot::NodeView& view, const Node& node) {
  if (view.id != node.id || view.uri != node.uri || view.availability != node.availability) {
    return false;
  }
  bool same = view.slots.size() == node.slots.size();
  for (size_t i = 0; same && i < node.slots.size(); ++i) {
    const std::vector<GridSnapshot::SessionView>& shown = view.slots[i].sessions;
    const std::vector<SessionId>& live = node.slots[i].sessions;
    same = shown.size() == live.size();
    for (size_t k = 0; same && k < live.size(); ++k) same = shown[k].id == live[k].str();
  }
  return same;
}

std::string Grid::IndexProblem() {
  MutexLock lock(mu_);
  if (std::string problem = nodes_.IndexProblem(); !problem.empty()) return problem;
  std::shared_ptr<const GridSnapshot> published = snapshot();
  if (published->nodes.size() != nodes_.nodes().size()) {
    return "the snapshot lists " + std::to_string(published->nodes.size()) + " nodes, not " +
           std::to_string(nodes_.nodes().size());
  }
  size_t i = 0;
  for (const auto& [id, node] : nodes_.nodes()) {
    if (!ViewShows(*published->nodes[i++], *node)) {
      return "the snapshot's view of node " + id + " does not show it as it is";
    }
  }
  return "";
}

std::shared_ptr<const GridSnapshot::NodeView> Grid::NodeViewLocked(Node& node, SteadyTime now) {
  if (node.view != nullptr && ViewShows(*node.view, node)) return node.view;
  auto view = std::make_shared<GridSnapshot::NodeView>();
  view->id = node.id;
  view->uri = node.uri;
  view->availability = node.availability;
  for (const Slot& slot : node.slots) {
    GridSnapshot::SlotView slot_view{
        slot.id, slot.stereotype.label().str(), slot.stereotype.json(), slot.max_sessions, {}};
    for (const SessionId& session_id : slot.sessions) {
      const SessionEntry* s = sessions_.Find(session_id);
      // Not expected; such an id is not shown, and the view is simply rebuilt next time.
      if (s == nullptr) continue;
      slot_view.sessions.push_back({session_id.str(), s->capabilities, WallSeconds(s->started, now),
                                    s->label, s->run_id, s->activity});
    }
    view->slots.push_back(std::move(slot_view));
  }
  node.view = view;
  return view;
}

std::shared_ptr<const GridSnapshot::WaiterView> Grid::WaiterViewLocked(Waiter& waiter,
                                                                       SteadyTime now) {
  if (waiter.view != nullptr) return waiter.view;
  auto view = std::make_shared<GridSnapshot::WaiterView>();
  view->id = std::to_string(waiter.id);
  view->label = waiter.label;
  view->run_id = waiter.run_id;
  view->enqueued_at = WallSeconds(waiter.enqueued_at, now);
  view->ticket = !waiter.ticket_id.empty();
  if (!waiter.spec.candidates.empty()) {
    const matching::CapabilityDigest& digest = waiter.spec.candidates.front().digest();
    view->browser_name = digest.browser_name;
    view->browser_version = digest.browser_version;
  }
  waiter.view = view;
  return view;
}

std::map<std::string, queue::LabelCounters> Grid::QueueCounters() {
  MutexLock lock(mu_);
  return queue_.Counters();
}

Grid::Footprint Grid::footprint() {
  MutexLock lock(mu_);
  return {.queue_labels = queue_.label_count(),
          .label_uses = label_use_.size(),
          .waiters = waiters_.size(),
          .tickets = tickets_.size(),
          .sessions = sessions_.size(),
          .metric_labels = metrics_.label_count()};
}

std::shared_ptr<const GridSnapshot> Grid::snapshot() const {
  MutexLock lock(snapshot_mu_);
  return snapshot_;
}

}  // namespace gridhub::hub
