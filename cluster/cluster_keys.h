#pragma once

// Where the hubs of one grid keep their shared state in Redis (DESIGN §8, docs/scale-out.md),
// and the small encodings of the values that carry more than one field. Every key and channel
// sits under the one hash tag `{gridhub}`, so on a Redis Cluster they all land in one slot and
// a script or MULTI may touch any of them.
//
//   ClusterKeys::Leader()            "{gridhub}:leader"          the dispatcher lease
//   ClusterKeys::Hub("h1")           "{gridhub}:hub:h1"          presence, value = its URL
//   ClusterKeys::Route("s1")         "{gridhub}:route:s1"        a live session's route JSON
//   ClusterKeys::Nodes()             "{gridhub}:nodes"           hash node id -> registration
//   ClusterKeys::Tickets()           "{gridhub}:tickets"         hash ticket id -> ticket JSON
//   ClusterKeys::Settings()          "{gridhub}:settings"        the runtime settings JSON
//   ClusterKeys::Epoch()             "{gridhub}:epoch"           random; gone = Redis lost data
//   ClusterKeys::PeerSecret()        "{gridhub}:peer-secret"     shared by every hub
//   ClusterKeys::EndedChannel()      "{gridhub}:ended"           payload = session id
//   ClusterKeys::SettingsChannel()   "{gridhub}:settings"        payload = SettingsMessage()
//
// Pure functions of their arguments; thread-safe.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cluster/cluster_state.h"

namespace gridhub::cluster {

class ClusterKeys {
 public:
  static constexpr std::string_view kTag = "{gridhub}";

  static std::string Leader();
  static std::string Hub(std::string_view hub_id);
  static std::string Route(std::string_view session_id);
  // The SCAN MATCH pattern for every route key (the prefix holds no glob characters).
  static std::string RoutePattern();
  // The session id of a route key; nullopt for a key that is not one.
  static std::optional<std::string> SessionOfRoute(std::string_view key);
  static std::string Nodes();
  static std::string Tickets();
  static std::string Settings();
  static std::string Epoch();
  static std::string PeerSecret();
  static std::string EndedChannel();
  // Payload = the route JSON (its sessionId inside): every hub caches the route at once.
  static std::string RouteChannel();
  // A channel and a key may share a name: Redis keeps the two apart.
  static std::string SettingsChannel();

  // The leader lease's value: "<id> <url>", so every hub learns where the leader is from the
  // one GET. Hub ids and URLs hold no spaces.
  static std::string LeaseOwner(const PeerHub& hub);
  static std::optional<PeerHub> ParseLeaseOwner(std::string_view value);

  // A settings message: "<publisher id>\n<json>", so the publisher can skip its own.
  static std::string SettingsMessage(std::string_view publisher_id, std::string_view json);
  // {publisher id, json}; nullopt for a payload without the separator.
  static std::optional<std::pair<std::string, std::string>> ParseSettingsMessage(
      std::string_view payload);
};

}  // namespace gridhub::cluster
