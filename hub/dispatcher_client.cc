#include "hub/dispatcher_client.h"

#include <utility>
#include <vector>

#include "http/w3c_error.h"

namespace gridhub::hub {

void DispatcherClient::SetLeader(const std::optional<cluster::PeerHub>& leader) {
  std::vector<std::shared_ptr<Pending>> resend;
  {
    MutexLock lock(mu_);
    leader_ = leader;
    if (!leader_.has_value()) return;
    for (auto& [order, pending] : parked_) resend.push_back(std::move(pending));
    parked_.clear();
  }
  // In first-arrival order (the map's), so this hub's waiters keep their order.
  for (auto& pending : resend) Send(std::move(pending), *leader);
}

std::optional<cluster::PeerHub> DispatcherClient::leader() const {
  MutexLock lock(mu_);
  return leader_;
}

void DispatcherClient::Forward(const http::ServerRequest& request, PeerCall call,
                               http::Responder responder) {
  auto pending = std::make_shared<Pending>();
  pending->request = request;
  pending->call = std::move(call);
  pending->call.cancel = pending->cancel;
  pending->responder = std::move(responder);
  std::optional<cluster::PeerHub> leader;
  {
    MutexLock lock(mu_);
    leader = leader_;
    if (pending->call.resubmit_on_loss) {
      pending->order = next_order_++;
      held_.emplace(pending->order, pending);
      by_connection_[request.connection_id] = pending->order;
      if (!leader.has_value()) {
        parked_.emplace(pending->order, pending);
        return;
      }
    }
  }
  if (!leader.has_value()) {
    pending->responder.Send(
        503, http::W3CErrorBody({ErrorCode::kUnavailable, "no dispatcher hub is elected yet"}),
        {{"Retry-After", "1"}});
    return;
  }
  Send(std::move(pending), *leader);
}

void DispatcherClient::Send(std::shared_ptr<Pending> pending, const cluster::PeerHub& leader) {
  http::Responder responder = std::move(pending->responder);
  const http::ServerRequest& request = pending->request;
  PeerCall call = pending->call;
  forwarder_.Forward(request, leader, std::move(call), std::move(responder),
                     [this, pending](ForwardOutcome outcome, http::Responder back) mutable {
                       Done(std::move(pending), outcome, std::move(back));
                     });
}

void DispatcherClient::Done(std::shared_ptr<Pending> pending, ForwardOutcome outcome,
                            http::Responder responder) {
  if (!pending->call.resubmit_on_loss) return;
  MutexLock lock(mu_);
  if (outcome == ForwardOutcome::kLeaderLost && !pending->cancel->load()) {
    pending->responder = std::move(responder);
    // Sent again when the next dispatcher is known (SetLeader).
    parked_.emplace(pending->order, std::move(pending));
    return;
  }
  held_.erase(pending->order);
  by_connection_.erase(pending->request.connection_id);
}

void DispatcherClient::OnDisconnect(uint64_t connection_id) {
  MutexLock lock(mu_);
  auto it = by_connection_.find(connection_id);
  if (it == by_connection_.end()) return;
  const uint64_t order = it->second;
  by_connection_.erase(it);
  auto held = held_.find(order);
  if (held == held_.end()) return;
  held->second->cancel->store(true);
  parked_.erase(order);
  held_.erase(held);
}

void DispatcherClient::FailParked(const Error& error) {
  std::map<uint64_t, std::shared_ptr<Pending>> failed;
  {
    MutexLock lock(mu_);
    failed.swap(parked_);
    for (const auto& [order, pending] : failed) {
      held_.erase(order);
      by_connection_.erase(pending->request.connection_id);
    }
  }
  for (auto& [order, pending] : failed) {
    pending->responder.Send(http::HttpStatus(error.code), http::W3CErrorBody(error));
  }
}

size_t DispatcherClient::held() const {
  MutexLock lock(mu_);
  return held_.size();
}

}  // namespace gridhub::hub
