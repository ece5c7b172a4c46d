#include "hub/store_writer.h"

#include "common/log.h"
#include "hub/ticket_record.h"

namespace gridhub::hub {

size_t StoreWriter::Write(const std::function<std::vector<StoreChange>()>& take) {
  MutexLock lock(mu_);
  size_t failed = 0;
  for (const StoreChange& change : take()) {
    if (Status s = Apply(change); !s.ok()) {
      ++failed;
      if (failed == 1) log::Warn("cluster.store_write_failed", s.error().message);
    }
  }
  return failed;
}

Status StoreWriter::Apply(const StoreChange& change) {
  switch (change.kind) {
    case StoreChange::Kind::kNodePut:
      return state_.PutNode(change.node_id.str(), change.registration);
    case StoreChange::Kind::kNodeRemoved:
      return state_.DeleteNode(change.node_id.str());
    case StoreChange::Kind::kSessionPut:
      return state_.PutRoute(change.session.id.str(), RouteToJson(change.session).dump());
    case StoreChange::Kind::kSessionEnded:
      return state_.EndRoute(change.session.id.str());
    case StoreChange::Kind::kTicketPut:
      return state_.PutTicket(change.ticket.id, TicketToJson(change.ticket).dump());
    case StoreChange::Kind::kTicketRemoved:
      return state_.DeleteTicket(change.ticket.id);
  }
  return Status::Ok();
}

}  // namespace gridhub::hub
