#include "hub/grid_gauge_source.h"

#include <utility>

namespace gridhub::hub {

GridGaugeSource::GridGaugeSource(const Clock& clock, Duration max_age, Fetch fetch)
    : clock_(clock), max_age_(max_age), fetch_(std::move(fetch)) {}

void GridGaugeSource::Get(Done done) {
  std::optional<std::string> fresh;
  bool start_fetch = false;
  {
    MutexLock lock(mu_);
    if (text_.has_value() && clock_.Now() - fetched_at_ < max_age_) {
      fresh = text_;
    } else {
      // A fetch under way answers this scrape too.
      start_fetch = !in_flight_;
      in_flight_ = true;
    }
    if (!fresh.has_value()) waiting_.push_back(done);
  }
  if (fresh.has_value()) return done(std::move(fresh));
  if (start_fetch) fetch_([this](std::optional<std::string> text) { Finish(std::move(text)); });
}

void GridGaugeSource::Finish(std::optional<std::string> text) {
  std::vector<Done> waiting;
  {
    MutexLock lock(mu_);
    text_ = text;
    fetched_at_ = clock_.Now();
    in_flight_ = false;
    waiting.swap(waiting_);
  }
  for (Done& done : waiting) done(text);
}

}  // namespace gridhub::hub
