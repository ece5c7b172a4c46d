#pragma once

// On a hub that is not the dispatcher, in a grid of several hubs (docs/scale-out.md): the
// grid's gauges for GET /metrics, as the dispatcher renders them (HubMetrics::RenderGridGauges),
// fetched with a short timeout and kept for `max_age`. Scrapes that come together share one
// fetch, so however often Prometheus scrapes every hub, the dispatcher answers each hub at most
// once per `max_age` — and a front hub never shows gauges older than that.
//
//   GridGaugeSource gauges(clock, std::chrono::seconds(1), [&](GridGaugeSource::Reply reply) {
//     client.Send({... dispatcher /peer/grid-gauges ...}, [reply](ClientResponse r) {
//       reply(r.status == 200 ? std::optional(r.body) : std::nullopt);
//     });
//   });
//   gauges.Get([responder](std::optional<std::string> text) { ... });
//
// Thread-safe. `fetch` is called without the lock held; `done` runs on whichever thread
// completes the fetch (or the caller's, on a cache hit). A failed fetch is not kept: the next
// scrape tries again.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace gridhub::hub {

class GridGaugeSource {
 public:
  // The gauges' text, or nullopt when the dispatcher could not be asked or did not answer.
  using Done = std::function<void(std::optional<std::string> text)>;
  using Reply = std::function<void(std::optional<std::string> text)>;
  // Starts one fetch that calls `reply` exactly once.
  using Fetch = std::function<void(Reply reply)>;

  // `clock` must outlive the source.
  GridGaugeSource(const Clock& clock, Duration max_age, Fetch fetch);

  void Get(Done done);

 private:
  void Finish(std::optional<std::string> text);

  const Clock& clock_;
  const Duration max_age_;
  const Fetch fetch_;
  Mutex mu_;
  std::optional<std::string> text_ GUARDED_BY(mu_);
  SteadyTime fetched_at_ GUARDED_BY(mu_);
  bool in_flight_ GUARDED_BY(mu_) = false;
  std::vector<Done> waiting_ GUARDED_BY(mu_);
};

}  // namespace gridhub::hub
