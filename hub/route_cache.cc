#include "hub/route_cache.h"

#include <nlohmann/json.hpp>

namespace gridhub::hub {

std::optional<SessionRoute> RouteCache::Find(const SessionId& session) {
  uint64_t generation = 0;
  {
    MutexLock lock(mu_);
    if (auto it = routes_.find(session.str()); it != routes_.end()) return it->second;
    generation = forgets_;
  }
  Result<std::optional<std::string>> stored = state_.GetRoute(session.str());
  if (!stored.ok() || !stored->has_value()) return std::nullopt;
  nlohmann::json parsed = nlohmann::json::parse(**stored, nullptr, /*allow_exceptions=*/false);
  Result<SessionRecord> record = RouteFromJson(parsed);
  // Another process wrote it: a record that does not check out is no route.
  if (!record.ok() || record->id != session) return std::nullopt;
  SessionRoute route = ToSessionRoute(*record);
  MutexLock lock(mu_);
  // A session that ended while the store was read may have been read before its end: such a
  // route is used for this one call (its node answers for it) but not kept.
  if (forgets_ != generation) return route;
  if (routes_.size() >= kMaxEntries) routes_.clear();
  routes_.emplace(session.str(), route);
  return route;
}

void RouteCache::Put(const std::string& route_json) {
  Result<SessionRecord> record = RouteFromJson(nlohmann::json::parse(route_json, nullptr, false));
  if (!record.ok()) return;
  MutexLock lock(mu_);
  if (routes_.size() >= kMaxEntries) routes_.clear();
  routes_.insert_or_assign(record->id.str(), ToSessionRoute(*record));
}

void RouteCache::Forget(const SessionId& session) {
  MutexLock lock(mu_);
  ++forgets_;
  routes_.erase(session.str());
}

void RouteCache::Clear() {
  MutexLock lock(mu_);
  ++forgets_;
  routes_.clear();
}

size_t RouteCache::size() const {
  MutexLock lock(mu_);
  return routes_.size();
}

}  // namespace gridhub::hub
