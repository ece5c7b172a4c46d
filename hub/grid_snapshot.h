#pragma once

// An immutable picture of the registry, republished by Grid after every public operation that
// changed something, so that /status and /metrics answer without touching the grid's lock. Its
// parts are immutable too and shared between consecutive snapshots. The one part left out of
// a republished snapshot is the list of waiters (`queue`), which costs O(waiters) to make: the
// console and /graphql ask Grid::snapshot_with_queue(), which lists them once per version.
//
//   std::shared_ptr<const GridSnapshot> snapshot = grid.snapshot();
//   responder.Send(200, StatusJson(*snapshot).dump());

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "hub/label_counts.h"
#include "hub/session_activity.h"

namespace gridhub::hub {

enum class Availability { kUp, kDraining, kDown };
std::string_view AvailabilityName(Availability availability);  // "UP", "DRAINING", "DOWN"

struct GridSnapshot {
  struct SessionView {
    std::string id;
    nlohmann::json capabilities;
    double started_at = 0;  // Unix seconds
    std::string label;      // the request label (what caps and metrics count by)
    std::string run_id;
    // Last command and session event (session_activity.h): live, shared with the session.
    std::shared_ptr<const SessionActivity> activity;
  };
  struct SlotView {
    std::string id;
    std::string label;
    nlohmann::json stereotype;
    int max_sessions = 1;
    std::vector<SessionView> sessions;
  };
  struct NodeView {
    std::string id;
    std::string uri;
    Availability availability = Availability::kUp;
    std::vector<SlotView> slots;
  };

  // The nodes' views in id order, as an immutable-by-sharing vector: views are held in chunks of
  // kChunk that consecutive snapshots share, so replacing one node's view copies one chunk and
  // the list of chunks (O(kChunk + nodes / kChunk) pointers), not a pointer per node. Reads as a
  // vector: size(), [i], range-for.
  class NodeViewList {
   public:
    using View = std::shared_ptr<const NodeView>;
    static constexpr size_t kChunk = 32;

    NodeViewList() = default;
    explicit NodeViewList(const std::vector<View>& views);

    class const_iterator {
     public:
      const_iterator(const NodeViewList* list, size_t index) : list_(list), index_(index) {}
      const View& operator*() const { return (*list_)[index_]; }
      const View* operator->() const { return &(*list_)[index_]; }
      const_iterator& operator++() {
        ++index_;
        return *this;
      }
      bool operator==(const const_iterator& other) const { return index_ == other.index_; }
      bool operator!=(const const_iterator& other) const { return index_ != other.index_; }

     private:
      const NodeViewList* list_;
      size_t index_;
    };

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const View& operator[](size_t i) const { return (*chunks_[i / kChunk])[i % kChunk]; }
    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, size_}; }
    // Appends (O(kChunk): the last chunk is copied, as it may be shared).
    void push_back(View view);
    // Replaces the i-th view (i < size()). The chunk holding it is copied, never changed in
    // place: other lists, read on other threads, may share it (use_count() says nothing
    // ordered about those readers, so it is not consulted).
    void Set(size_t i, View view);

   private:
    using Chunk = std::vector<View>;
    std::vector<std::shared_ptr<const Chunk>> chunks_;
    size_t size_ = 0;
  };

  // A waiting request as the console lists it; made once per waiter, when first listed.
  struct WaiterView {
    std::string id;  // the request id GET /queue shows and DELETE /queue/{id} takes
    std::string label;
    std::string run_id;
    double enqueued_at = 0;  // Unix seconds
    bool ticket = false;     // an asynchronous ticket, not a held POST /session
    std::string browser_name;
    std::string browser_version;
  };
  struct QueuedWaiter {
    std::shared_ptr<const WaiterView> waiter;
    size_t position = 1;  // within its label, 1 = next
  };

  // Every waiter, listed for the console and GraphQL. Listing costs O(waiters), so it is not
  // rebuilt when the queue changes (each grant does) but when a reader asks for it
  // (Grid::snapshot_with_queue), at most once per snapshot version.
  struct QueueView {
    // Each waiter's capabilities (its first merged candidate) as a JSON string, for GraphQL's
    // sessionQueueRequests, in service order; shared with the waiter, so listing copies
    // pointers only.
    std::vector<std::shared_ptr<const std::string>> requests;
    // For the console: every waiter, in service order (labels round-robin from the next one
    // served, each label first-come first-served).
    std::vector<QueuedWaiter> waiting;
  };

  // One view per node in id order, shared with the grid's own copy until that node changes, so
  // publishing after an event rebuilds only the nodes it touched. Never null.
  NodeViewList nodes;
  size_t queue_size = 0;
  // For GET /metrics and the console: waiters by request label, kept up to date per change.
  LabelCounts waiting_by_label;
  // The waiters listed. Null in a snapshot from Grid::snapshot() when they changed since they
  // were last listed; never null in one from Grid::snapshot_with_queue().
  std::shared_ptr<const QueueView> queue;
  uint64_t version = 0;  // increases with every change
  // For GET /metrics: the concurrency caps in force.
  std::map<std::string, int> concurrency_caps;
  int concurrency_default = 0;
  // The labels some slot or cap declares now (metric labels: anything else counts as
  // "other"). Never null.
  std::shared_ptr<const std::set<std::string>> declared_labels =
      std::make_shared<const std::set<std::string>>();
};

// How much a read-only view shows. kCounts is for a caller without the client token when one
// is set (DESIGN 7a): counts, availability and labels, but no session ids, capabilities,
// stereotypes or node URIs.
enum class Exposure { kFull, kCounts };

// GET /status in Selenium's shape: {"value": {"ready", "message", "nodes": [...]}}. A slot
// appears as one Selenium slot per running session (`session` set) and, while it has room, one
// more with `session` null and `free`: how many more sessions it takes, so the answer grows with
// slots + sessions, never with maxSessions. With kCounts a node shows its id, availability,
// maxSessions and sessionCount, and each slot entry only its id, label, `busy` (and `free`); the
// answer carries "redacted": true.
nlohmann::json StatusJson(const GridSnapshot& snapshot, Exposure exposure = Exposure::kFull);

// Unix seconds for a steady time point (`t`, seen at steady time `now`), for display only.
double WallSeconds(SteadyTime t, SteadyTime now);

}  // namespace gridhub::hub
