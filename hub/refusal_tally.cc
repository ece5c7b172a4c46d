#include "hub/refusal_tally.h"

#include "metrics/hub_metrics.h"

namespace gridhub::hub {

bool RefusalTally::Count(std::string_view label, std::string_view reason) {
  for (size_t i = 0; i < kReasons.size(); ++i) {
    if (kReasons[i] != reason) continue;
    MutexLock lock(mu_);
    auto [it, fresh] = counts_.try_emplace(std::string(label), PerReason{});
    it->second[i]++;
    return true;
  }
  return false;
}

RefusalTally::Counts RefusalTally::Snapshot() const {
  MutexLock lock(mu_);
  return counts_;
}

void RefusalTally::Retain(const std::set<std::string>& labels) {
  MutexLock lock(mu_);
  std::erase_if(counts_, [&labels](const auto& entry) {
    return entry.first != metrics::kOtherLabel && labels.count(entry.first) == 0;
  });
}

}  // namespace gridhub::hub
