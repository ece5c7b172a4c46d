#pragma once

// The Grid's private parts shared by its files (grid.cc: admission, dispatch, the creation
// outcome; grid_nodes.cc; grid_queue_api.cc; grid_time.cc; grid_publish.cc; grid_store.cc): the
// record of one new-session request while it waits or its session is being created, guarded by
// Grid::mu_ like everything else the Grid holds, and small helpers. Included only by hub/grid*.cc.

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "hub/grid.h"

namespace gridhub::hub {

struct Grid::Waiter {
  // First, together: what PublishLocked reads of every waiter after each change.
  bool creating = false;
  std::string label;
  std::shared_ptr<const std::string> caps_string;  // for GraphQL's sessionQueueRequests
  queue::RequestId id = 0;
  matching::NewSessionSpec spec;
  std::optional<matching::LabelKey> restriction;
  std::string run_id;
  bool has_responder = false;  // a held client request (W3C) waits for `target`
  ReplyTarget target;
  std::string ticket_id;
  uint64_t connection_id = 0;
  bool abandoned = false;  // client gone while its session was being created
  // Its node was forgotten (Abdicate) while the session was being created: its reservation
  // went with the node, so the creation result must not release one (on a node registered
  // since under the same id it would be another creation's).
  bool orphaned = false;
  std::string node_id;  // while creating
  std::string slot_id;
  std::set<std::string> failed_nodes;
  std::string last_failure;
  SteadyTime enqueued_at;
  SteadyTime deadline;
  std::string metric_label;    // fixed at arrival ("other" if undeclared)
  bool wait_observed = false;  // gridhub_queue_wait_seconds, first grant
  bool outcome_recorded = false;
  std::string public_base;                               // the request's PUBLIC, for its CreateJob
  std::shared_ptr<const GridSnapshot::WaiterView> view;  // see Grid::WaiterViewLocked
};

// A new-session answer as the client receives it.
inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The settings as each part of the Grid takes them.
inline queue::QueueOptions ToQueueOptions(const config::QueueSettings& q) {
  queue::QueueOptions options;
  options.timeout = q.timeout;
  options.max_per_label = q.max_per_label;
  options.max_per_run = q.max_per_run;
  options.concurrency_default = q.concurrency_default;
  options.concurrency_caps = q.concurrency_caps;
  options.reject_unsatisfiable = q.reject_unsatisfiable;
  options.registration_grace = q.registration_grace;
  options.retry_limit = q.retry_limit;
  return options;
}

inline TicketBook::Limits TicketLimits(const config::QueueSettings& q) {
  return {.abandon_after = q.abandon_after, .ready_ttl = q.ready_ttl};
}

inline NodeRegistry::Timing NodeTiming(const config::HubSettings& h) {
  return {.node_timeout = h.node_timeout, .health_check_period = h.health_check_period};
}

inline matching::LabelMatchOptions ToMatchOptions(const config::MatchingSettings& m) {
  return {.prefix_expand = m.prefix_expand,
          .wildcards = m.wildcards,
          .trailing_fallback = m.trailing_fallback};
}

inline std::string Seconds(Duration d) { return config::FormatDuration(d); }

}  // namespace gridhub::hub
