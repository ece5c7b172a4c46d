#pragma once

// What a hub shares with the other hubs of one grid (DESIGN §8, docs/scale-out.md): who the
// dispatcher is (one hub at a time holds the leader lease and runs the queue), which hubs are
// alive, where each live session runs, which nodes are registered, and the runtime settings.
// The hub depends on this interface only; redis_cluster_state.h is the Redis implementation
// (`hub.state: redis://...`). With `hub.state: memory` (the default) no ClusterState exists
// at all and none of this code runs.
//
//   std::unique_ptr<ClusterState> state = MakeRedisClusterState(options);
//   state->Start(callbacks);           // leader election, presence and subscriptions start
//   if (state->IsLeader()) ...         // run the queue here
//   else forward to state->Leader()->url
//
// Thread-safe. Calls that talk to the store block for at most the store's command timeout
// and return an Error that names the store ("state store redis://host:port: ..."); they
// never throw. Callbacks run on the implementation's own threads, never under a lock the
// caller could hold, and must not block for long.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace gridhub::cluster {

// A hub of the grid as the others reach it.
struct PeerHub {
  std::string id;   // hub id (unique per process: hostname-pid-random)
  std::string url;  // its base URL for peer calls, "http://10.0.0.5:4444"
  bool operator==(const PeerHub&) const = default;
};

struct ClusterCallbacks {
  // This hub now holds the leader lease: load the nodes (Nodes()) and run the queue.
  std::function<void()> on_elected;
  // This hub lost the lease (renewal failed, store unreachable past the lease, lease taken):
  // stop dispatching at once; `why` is for the log.
  std::function<void(std::string_view why)> on_deposed;
  // The leader seen by this hub changed (nullopt: none known right now).
  std::function<void(const std::optional<PeerHub>& leader)> on_leader_changed;
  // A route was stored (PutRoute, any hub): cache it (`route_json` as given to PutRoute).
  std::function<void(const std::string& route_json)> on_route_stored;
  // A session ended somewhere in the grid: drop cached routes, close its sockets here.
  std::function<void(const std::string& session_id)> on_session_ended;
  // Another hub published runtime settings (PublishSettings): apply them here.
  std::function<void(const std::string& settings_json)> on_settings;
  // The store became reachable (true) or unreachable (false, `why` names it).
  std::function<void(bool up, std::string_view why)> on_store_state;
  // Redis lost its data (restarted empty, FLUSHALL): the hub re-publishes what it holds
  // (the leader its nodes and routes; every hub re-submits its waiters).
  std::function<void()> on_store_reset;
};

class ClusterState {
 public:
  virtual ~ClusterState() = default;

  virtual Status Start(ClusterCallbacks callbacks) = 0;
  // Releases the lease (if held) and the presence key; idempotent.
  virtual void Stop() = 0;

  virtual const PeerHub& self() const = 0;
  virtual bool IsLeader() const = 0;
  // The last known leader (this hub included); nullopt while there is none.
  virtual std::optional<PeerHub> Leader() const = 0;
  // Ok, or why the store cannot be used right now (names the store, never its password).
  virtual Status Health() const = 0;
  // A secret shared by every hub of the grid (made once, kept in the store): a peer call
  // carries it, so that a hub believes the forwarded caller's access only from a peer.
  virtual std::string PeerSecret() const = 0;
  // Whether `hub_id` refreshed its presence within hub.peer-timeout.
  virtual bool PeerAlive(const std::string& hub_id) const = 0;

  // --- session routes (one JSON object per live session, written by the leader) ---------
  virtual Status PutRoute(const std::string& session_id, const std::string& route_json) = 0;
  virtual Result<std::optional<std::string>> GetRoute(const std::string& session_id) = 0;
  // Deletes the route and tells every hub (on_session_ended).
  virtual Status EndRoute(const std::string& session_id) = 0;
  // Every stored route (for a new leader; not on any hot path).
  virtual Result<std::vector<std::pair<std::string, std::string>>> Routes() = 0;

  // --- node registrations (the JSON a node registered with; kept for a new leader) ------
  virtual Status PutNode(const std::string& node_id, const std::string& registration_json) = 0;
  virtual Status DeleteNode(const std::string& node_id) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> Nodes() = 0;

  // --- asynchronous tickets (one JSON object per open ticket, written by the leader) --------
  // So that a ticket outlives its dispatcher: a new leader loads them all (Tickets(), not on
  // any hot path) and serves them on. A put replaces the ticket's previous entry.
  virtual Status PutTicket(const std::string& ticket_id, const std::string& ticket_json) = 0;
  virtual Status DeleteTicket(const std::string& ticket_id) = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> Tickets() = 0;

  // --- runtime settings ------------------------------------------------------------------
  // Stores and publishes the runtime part of the settings (config::ToJson, tokens shown);
  // every other hub gets on_settings within 1 s.
  virtual Status PublishSettings(const std::string& settings_json) = 0;
  virtual Result<std::optional<std::string>> StoredSettings() = 0;
};

}  // namespace gridhub::cluster
