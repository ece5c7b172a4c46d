#include "cluster/cluster_keys.h"

namespace gridhub::cluster {
namespace {

std::string Key(std::string_view suffix) {
  std::string key(ClusterKeys::kTag);
  key += ':';
  key += suffix;
  return key;
}

constexpr std::string_view kRoutePrefix = "{gridhub}:route:";

}  // namespace

std::string ClusterKeys::Leader() { return Key("leader"); }
std::string ClusterKeys::Hub(std::string_view hub_id) { return Key("hub:") += hub_id; }
std::string ClusterKeys::Route(std::string_view session_id) {
  return std::string(kRoutePrefix) += session_id;
}
std::string ClusterKeys::RoutePattern() { return std::string(kRoutePrefix) + "*"; }

std::optional<std::string> ClusterKeys::SessionOfRoute(std::string_view key) {
  if (key.size() <= kRoutePrefix.size() || key.substr(0, kRoutePrefix.size()) != kRoutePrefix) {
    return std::nullopt;
  }
  return std::string(key.substr(kRoutePrefix.size()));
}

std::string ClusterKeys::Nodes() { return Key("nodes"); }
std::string ClusterKeys::Tickets() { return Key("tickets"); }
std::string ClusterKeys::Settings() { return Key("settings"); }
std::string ClusterKeys::Epoch() { return Key("epoch"); }
std::string ClusterKeys::PeerSecret() { return Key("peer-secret"); }
std::string ClusterKeys::EndedChannel() { return Key("ended"); }
std::string ClusterKeys::RouteChannel() { return Key("routes"); }
std::string ClusterKeys::SettingsChannel() { return Key("settings"); }

std::string ClusterKeys::LeaseOwner(const PeerHub& hub) { return hub.id + " " + hub.url; }

std::optional<PeerHub> ClusterKeys::ParseLeaseOwner(std::string_view value) {
  const size_t space = value.find(' ');
  if (space == std::string_view::npos || space == 0) return std::nullopt;
  return PeerHub{.id = std::string(value.substr(0, space)),
                 .url = std::string(value.substr(space + 1))};
}

std::string ClusterKeys::SettingsMessage(std::string_view publisher_id, std::string_view json) {
  std::string message(publisher_id);
  message += '\n';
  message += json;
  return message;
}

std::optional<std::pair<std::string, std::string>> ClusterKeys::ParseSettingsMessage(
    std::string_view payload) {
  const size_t newline = payload.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  return std::pair<std::string, std::string>(payload.substr(0, newline),
                                             payload.substr(newline + 1));
}

}  // namespace gridhub::cluster
