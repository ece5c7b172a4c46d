// HubService: GET /metrics (DESIGN §6, docs/metrics.md). One hub: its counters and the gauges
// of its own snapshot, as ever. Several hubs (docs/scale-out.md "Metrics"): this hub's own
// series, labelled hub="<id>", around the grid's gauges as the dispatcher renders them — on the
// dispatcher from its own snapshot, on any other hub fetched from the dispatcher
// (GET /peer/grid-gauges, GridGaugeSource: a 1 s timeout, an answer kept 1 s).

#include <chrono>
#include <optional>
#include <string>

#include "hub/hub_service.h"
#include "hub/metrics_gauges.h"
#include "hub/send_answer.h"
#include "metrics/hub_metrics.h"

namespace gridhub::hub {

namespace {

// A scrape waits this long at most for the dispatcher; Prometheus' own default scrape timeout
// is 10 s, and a dispatcher on the LAN answers in about a millisecond.
constexpr std::chrono::milliseconds kGridGaugeTimeout{1000};

}  // namespace

void HubService::AddMetricsRoutes() {
  // Open like /status: scrapers carry no client token (DESIGN §4).
  routes_.Add({"GET"}, "/metrics", Access::kOpen, [this](const Call& call) { ServeMetrics(call); });
  routes_.Add({"GET"}, "/peer/grid-gauges", Access::kOpen,
              FromPeerAtDispatcher([this](const Call& call) {
                call.responder.Send(200, GridGaugesText(), {}, metrics::kContentType);
              }));
}

std::string HubService::GridGaugesText() {
  return grid_.metrics().RenderGridGauges(GaugesFromSnapshot(*grid_.snapshot()));
}

void HubService::ServeMetrics(const Call& call) {
  const size_t bidi = sockets_.open(SocketKind::kBidi);
  const size_t cdp = sockets_.open(SocketKind::kCdp);
  if (initial_settings_.hub.state == "memory") {
    metrics::GridGauges gauges = GaugesFromSnapshot(*grid_.snapshot());
    gauges.websockets_bidi = bidi;
    gauges.websockets_cdp = cdp;
    std::string text = grid_.metrics().Render(gauges);
    return (void)call.responder.Send(200, std::move(text), {}, metrics::kContentType);
  }
  if (!cluster_ready_.load(std::memory_order_acquire)) {  // hub_id_ is not known yet
    return SendError(call.responder, {ErrorCode::kUnavailable, "the hub is starting"}, 503,
                     {{"Retry-After", "1"}});
  }
  http::Responder responder = call.responder;
  auto answer = [this, responder, bidi, cdp](bool dispatcher,
                                             std::optional<std::string> grid) mutable {
    std::string text = grid_.metrics().RenderHub({.hub_id = hub_id_,
                                                  .dispatcher = dispatcher,
                                                  .websockets_bidi = bidi,
                                                  .websockets_cdp = cdp},
                                                 grid.value_or(""));
    responder.Send(200, std::move(text), {}, metrics::kContentType);
  };
  if (cluster_->IsLeader()) return answer(true, GridGaugesText());
  // Not reachable: the grid's families are left out of this scrape (Prometheus marks them
  // stale) rather than shown at 0 or shown old.
  grid_gauges_.Get(
      [answer](std::optional<std::string> grid) mutable { answer(false, std::move(grid)); });
}

void HubService::FetchGridGauges(GridGaugeSource::Reply reply) {
  std::optional<cluster::PeerHub> leader = cluster_->Leader();
  if (!leader.has_value() || !cluster_->Health().ok()) return reply(std::nullopt);
  http::Headers headers;
  AddPeerHeaders(headers, {.hub_id = hub_id_, .access = Access::kOpen}, cluster_->PeerSecret());
  client_.Send({.method = "GET",
                .url = leader->url + "/peer/grid-gauges",
                .headers = std::move(headers),
                .timeout = kGridGaugeTimeout,
                .max_response_body = initial_settings_.server.max_body},
               [reply = std::move(reply)](http::ClientResponse response) {
                 if (response.transport_ok() && response.status == 200) {
                   return reply(std::move(response.body));
                 }
                 reply(std::nullopt);
               });
}

HubService::RouteHandler HubService::FromPeerAtDispatcher(RouteHandler handler) {
  return [this, handler = std::move(handler)](const Call& call) {
    if (!PeerOf(call.request).has_value()) {
      return SendError(call.responder, UnknownCommand(call.request.method, call.request.path));
    }
    if (!cluster_->IsLeader()) {
      return SendError(call.responder,
                       {ErrorCode::kUnavailable, "hub " + hub_id_ + " is not the dispatcher"}, 503,
                       {{std::string(kNotLeaderHeader), "1"}});
    }
    handler(call);
  };
}

}  // namespace gridhub::hub
