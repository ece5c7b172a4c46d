#include "hub/metrics_gauges.h"

namespace gridhub::hub {

metrics::GridGauges GaugesFromSnapshot(const GridSnapshot& snapshot) {
  metrics::GridGauges gauges;
  gauges.concurrency_default = snapshot.concurrency_default;
  gauges.concurrency_caps = snapshot.concurrency_caps;
  for (const auto& [label, waiting] : snapshot.waiting_by_label.ToMap()) {
    gauges.labels[label].queue_length += waiting;
  }
  for (const auto& node_view : snapshot.nodes) {
    const GridSnapshot::NodeView& node = *node_view;
    switch (node.availability) {
      case Availability::kUp:
        ++gauges.nodes_up;
        break;
      case Availability::kDraining:
        ++gauges.nodes_draining;
        break;
      case Availability::kDown:
        ++gauges.nodes_down;
        break;
    }
    for (const GridSnapshot::SlotView& slot : node.slots) {
      metrics::GridGauges::PerLabel& by_slot = gauges.labels[slot.label];
      const size_t busy = slot.sessions.size();
      by_slot.slots_busy += busy;
      // Free units of a DRAINING or DOWN node serve nobody: neither available nor busy.
      if (node.availability == Availability::kUp && static_cast<size_t>(slot.max_sessions) > busy) {
        by_slot.slots_available += static_cast<size_t>(slot.max_sessions) - busy;
      }
      for (const GridSnapshot::SessionView& session : slot.sessions) {
        gauges.labels[session.label.empty() ? slot.label : session.label].sessions_active++;
      }
    }
  }
  return gauges;
}

}  // namespace gridhub::hub
