#include "cluster/redis_cluster_state.h"

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/cluster_keys.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "redis/redis_connection.h"
#include "redis/redis_lease.h"
#include "redis/redis_subscriber.h"

namespace gridhub::cluster {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using Args = redis::RedisConnection::Args;
using Events = std::vector<std::function<void()>>;

RedisClusterOptions WithDefaults(RedisClusterOptions o) {
  if (o.lease_ttl.count() <= 0) o.lease_ttl = o.peer_timeout / 2;
  if (o.command_timeout.count() <= 0) {
    o.command_timeout = std::clamp(o.lease_ttl / 10, milliseconds(1), milliseconds(1000));
  }
  return o;
}

redis::RedisOptions ConnectionOptions(const RedisClusterOptions& o) {
  return {.url = o.url, .connect_timeout = o.command_timeout, .command_timeout = o.command_timeout};
}

void Fire(const Events& events) {
  for (const std::function<void()>& event : events) event();
}

// What one keeper round saw in the store.
struct Observation {
  bool holding = false;  // this hub holds the leader lease now
  std::optional<PeerHub> leader;
};

// The Redis ClusterState: a keeper thread (presence, lease, epoch), a subscriber thread (ended
// sessions, settings) and a mutex-guarded connection for the calls of the hub's threads.
class RedisClusterState final : public ClusterState {
 public:
  explicit RedisClusterState(RedisClusterOptions options)
      : options_(WithDefaults(std::move(options))),
        store_("state store " + options_.url.Redacted()),
        keeper_redis_(ConnectionOptions(options_)),
        lease_(keeper_redis_, ClusterKeys::Leader(), ClusterKeys::LeaseOwner(options_.self),
               options_.lease_ttl),
        data_redis_(ConnectionOptions(options_)) {
    assert(options_.command_timeout <= options_.lease_ttl / 4);
  }
  ~RedisClusterState() override { Stop(); }

  Status Start(ClusterCallbacks callbacks) override;
  void Stop() override;

  const PeerHub& self() const override { return options_.self; }
  bool IsLeader() const override {
    MutexLock lock(mu_);
    return leader_;
  }
  std::optional<PeerHub> Leader() const override {
    MutexLock lock(mu_);
    return known_leader_;
  }
  Status Health() const override;
  std::string PeerSecret() const override {
    MutexLock lock(mu_);
    return secret_;
  }
  bool PeerAlive(const std::string& hub_id) const override;

  Status PutRoute(const std::string& session_id, const std::string& route_json) override;
  Result<std::optional<std::string>> GetRoute(const std::string& session_id) override;
  Status EndRoute(const std::string& session_id) override;
  Result<std::vector<std::pair<std::string, std::string>>> Routes() override;

  Status PutNode(const std::string& node_id, const std::string& registration_json) override;
  Status DeleteNode(const std::string& node_id) override;
  Result<std::vector<std::pair<std::string, std::string>>> Nodes() override;
  Status PutTicket(const std::string& ticket_id, const std::string& ticket_json) override;
  Status DeleteTicket(const std::string& ticket_id) override;
  Result<std::vector<std::pair<std::string, std::string>>> Tickets() override;

  Status PublishSettings(const std::string& settings_json) override;
  Result<std::optional<std::string>> StoredSettings() override;

 private:
  // kForbidden (a refused login) stays what it is; anything else is the store unavailable.
  Error StoreError(const Error& e) const {
    const ErrorCode code =
        e.code == ErrorCode::kForbidden ? ErrorCode::kForbidden : ErrorCode::kUnavailable;
    return Error{code, store_ + ": " + e.message};
  }
  // A store reached but refusing this hub (a wrong password, no password given, a bad
  // database): waiting will not mend it.
  static bool Refused(const Error& e) { return e.code == ErrorCode::kForbidden; }
  // An I/O error or an error reply, as an Error naming the store.
  Result<redis::Reply> Checked(Result<redis::Reply> reply, std::string_view command) const;
  Result<std::vector<redis::Reply>> Checked(Result<std::vector<redis::Reply>> replies,
                                            std::string_view what) const;
  Result<redis::Reply> Call(const Args& args) const EXCLUDES(data_mu_);
  Result<std::vector<redis::Reply>> CallAll(const std::vector<Args>& commands) const
      EXCLUDES(data_mu_);
  Result<std::optional<std::string>> GetString(const std::string& key) EXCLUDES(data_mu_);
  // The node registrations and the tickets: one hash each, field = id.
  Status HashSet(const std::string& key, const std::string& field, const std::string& value)
      EXCLUDES(data_mu_);
  Status HashDelete(const std::string& key, const std::string& field) EXCLUDES(data_mu_);
  Result<std::vector<std::pair<std::string, std::string>>> HashAll(const std::string& key)
      EXCLUDES(data_mu_);

  // --- keeper thread (and Start/Stop while it is not running) ---
  void KeeperLoop() EXCLUDES(mu_);
  // One round; false when the store could not be reached.
  bool RunRound() EXCLUDES(mu_);
  Result<Observation> Observe();
  Status RefreshPresence();
  // Compares the epoch with the one last seen; a new one means the store lost its data.
  Status SyncEpoch() EXCLUDES(mu_);
  // SET key value NX, then the value the key holds (this one or another hub's).
  Result<std::string> SetOnceAndGet(const std::string& key, const std::string& value);
  void Apply(const Observation& seen, SteadyClock::time_point sent, Events& events) EXCLUDES(mu_);
  void Failed(const Error& error, Events& events) EXCLUDES(mu_);
  // Steps down and forgets the leader once the lease may have lapsed unseen.
  void ExpireLocked(Events& events) REQUIRES(mu_);

  void OnMessage(const redis::PubSubMessage& message) const;
  void OnSubscriberState(redis::LinkState state) EXCLUDES(mu_);

  const RedisClusterOptions options_;
  const std::string store_;  // "state store redis://host:port" (password redacted)
  RandomIdSource ids_;
  ClusterCallbacks callbacks_;  // set by Start before any thread runs, read-only after

  redis::RedisConnection keeper_redis_;  // keeper thread only
  redis::RedisLease lease_;              // on keeper_redis_
  std::string epoch_;                    // keeper thread only
  bool reset_pending_ = false;           // keeper thread only: on_store_reset not fired yet

  mutable Mutex data_mu_;
  mutable redis::RedisConnection data_redis_ GUARDED_BY(data_mu_);

  mutable Mutex mu_;
  std::condition_variable_any cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool subscriber_reported_ GUARDED_BY(mu_) = false;
  bool leader_ GUARDED_BY(mu_) = false;
  std::optional<PeerHub> known_leader_ GUARDED_BY(mu_);
  std::optional<std::string> store_down_ GUARDED_BY(mu_);  // why, while unreachable
  std::string secret_ GUARDED_BY(mu_);
  // Until when the last lease seen (this hub's or another's) surely still holds.
  SteadyClock::time_point leader_valid_until_ GUARDED_BY(mu_);

  std::unique_ptr<redis::RedisSubscriber> subscriber_;
  std::thread keeper_;
  bool started_ = false;  // owning thread
};

Result<redis::Reply> RedisClusterState::Checked(Result<redis::Reply> reply,
                                                std::string_view command) const {
  if (!reply.ok()) return StoreError(reply.error());
  if (reply->is_error()) {
    const ErrorCode code =
        reply->str().starts_with("NOAUTH") ? ErrorCode::kForbidden : ErrorCode::kUnavailable;
    return Error{code, store_ + ": " + std::string(command) + " answered " + reply->ToString()};
  }
  return reply;
}

Result<std::vector<redis::Reply>> RedisClusterState::Checked(
    Result<std::vector<redis::Reply>> replies, std::string_view what) const {
  if (!replies.ok()) return StoreError(replies.error());
  for (const redis::Reply& reply : *replies) {
    if (reply.is_error()) {
      return Error{ErrorCode::kUnavailable,
                   store_ + ": " + std::string(what) + " answered " + reply.ToString()};
    }
  }
  return replies;
}

Result<redis::Reply> RedisClusterState::Call(const Args& args) const {
  MutexLock lock(data_mu_);
  return Checked(data_redis_.Command(args), args.front());
}

Result<std::vector<redis::Reply>> RedisClusterState::CallAll(
    const std::vector<Args>& commands) const {
  MutexLock lock(data_mu_);
  return Checked(data_redis_.Pipeline(commands), commands.front().front());
}

Result<std::optional<std::string>> RedisClusterState::GetString(const std::string& key) {
  Result<redis::Reply> reply = Call({"GET", key});
  if (!reply.ok()) return reply.error();
  if (reply->is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(reply->str());
}

// --- life cycle ----------------------------------------------------------------------------

Status RedisClusterState::Start(ClusterCallbacks callbacks) {
  if (started_) return Error{ErrorCode::kInternal, store_ + ": started twice"};
  callbacks_ = std::move(callbacks);
  {
    MutexLock lock(mu_);
    stopping_ = false;
    subscriber_reported_ = false;
    store_down_.reset();
  }
  // The epoch, the peer secret and the presence now, so that PeerSecret() and PeerAlive(self)
  // hold before the hub serves any call. A store that refuses this hub fails the start with
  // the reason; one that does not answer yet does not: the hub starts not ready (Health()
  // says why, PeerSecret() is empty, so no peer call is believed) and the keeper joins the
  // grid when the store answers, as after an outage.
  Status synced = SyncEpoch();
  if (synced.ok()) synced = RefreshPresence();
  if (!synced.ok()) {
    if (Refused(synced.error())) return synced;
    MutexLock lock(mu_);
    store_down_ = synced.error().message;
  }
  subscriber_ = std::make_unique<redis::RedisSubscriber>(redis::SubscriberOptions{
      .url = options_.url,
      .channels = {ClusterKeys::EndedChannel(), ClusterKeys::SettingsChannel(),
                   ClusterKeys::RouteChannel()},
      .on_message = [this](const redis::PubSubMessage& m) { OnMessage(m); },
      .on_state = [this](redis::LinkState s, std::string_view) { OnSubscriberState(s); },
      .connect_timeout = options_.command_timeout});
  if (Status s = subscriber_->Start(); !s.ok()) return StoreError(s.error());
  {
    // Messages published before the subscription exists are lost: wait (bounded) until it
    // does, so a session ended right after Start reaches this hub.
    MutexLock lock(mu_);
    const auto deadline = SteadyClock::now() + 4 * options_.command_timeout;
    while (!subscriber_reported_ && SteadyClock::now() < deadline) cv_.wait_until(mu_, deadline);
  }
  started_ = true;
  keeper_ = std::thread([this] { KeeperLoop(); });
  return Status::Ok();
}

void RedisClusterState::Stop() {
  if (!started_) return;
  started_ = false;
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  keeper_.join();
  subscriber_->Stop();
  {
    MutexLock lock(mu_);
    leader_ = false;
    known_leader_.reset();
  }
  // Released whether or not this hub believes it holds the lease (the compare-and-set frees
  // only its own), so another hub takes over at once instead of after lease_ttl.
  (void)lease_.Release();
  (void)keeper_redis_.Command("DEL", ClusterKeys::Hub(options_.self.id));
}

Status RedisClusterState::Health() const {
  MutexLock lock(mu_);
  if (store_down_) return Error{ErrorCode::kUnavailable, *store_down_};
  return Status::Ok();
}

bool RedisClusterState::PeerAlive(const std::string& hub_id) const {
  if (hub_id == options_.self.id) return true;
  Result<redis::Reply> exists = Call({"EXISTS", ClusterKeys::Hub(hub_id)});
  // Unknown is not dead: the store being down must not make every peer's waiters leave.
  if (!exists.ok()) return true;
  return exists->integer() == 1;
}

// --- keeper --------------------------------------------------------------------------------

void RedisClusterState::KeeperLoop() {
  const milliseconds interval = options_.lease_ttl / 3;
  for (;;) {
    const bool ok = RunRound();
    MutexLock lock(mu_);
    SteadyClock::time_point wake = SteadyClock::now() + (ok ? interval : interval / 2);
    // While the store is down, wake when the lease may lapse, to step down before it does.
    if (!ok && (leader_ || known_leader_)) wake = std::min(wake, leader_valid_until_);
    while (!stopping_ && SteadyClock::now() < wake) cv_.wait_until(mu_, wake);
    if (stopping_) return;
  }
}

bool RedisClusterState::RunRound() {
  Events events;
  {
    MutexLock lock(mu_);
    if (store_down_) ExpireLocked(events);
  }
  Fire(events);
  events.clear();
  const SteadyClock::time_point sent = SteadyClock::now();
  Result<Observation> seen = Observe();
  if (seen.ok()) {
    Apply(*seen, sent, events);
  } else {
    Failed(seen.error(), events);
  }
  Fire(events);
  return seen.ok();
}

Result<Observation> RedisClusterState::Observe() {
  if (Status s = SyncEpoch(); !s.ok()) return s.error();
  if (Status s = RefreshPresence(); !s.ok()) return s.error();
  Observation seen;
  Result<bool> held = lease_.Acquire();
  if (!held.ok()) return StoreError(held.error());
  seen.holding = *held;
  if (seen.holding) {
    seen.leader = options_.self;
    return seen;
  }
  Result<std::optional<std::string>> holder = lease_.Holder();
  if (!holder.ok()) return StoreError(holder.error());
  if (holder->has_value()) seen.leader = ClusterKeys::ParseLeaseOwner(**holder);
  return seen;
}

Status RedisClusterState::RefreshPresence() {
  Result<redis::Reply> present =
      Checked(keeper_redis_.Command("SET", ClusterKeys::Hub(options_.self.id), options_.self.url,
                                    "PX", std::to_string(options_.peer_timeout.count())),
              "SET");
  if (!present.ok()) return present.error();
  return Status::Ok();
}

Status RedisClusterState::SyncEpoch() {
  Result<redis::Reply> current = Checked(keeper_redis_.Command("GET", ClusterKeys::Epoch()), "GET");
  if (!current.ok()) return current.error();
  if (current->is_string() && current->str() == epoch_) return Status::Ok();
  std::string epoch;
  if (current->is_string()) {
    epoch = current->str();
  } else {
    Result<std::string> made = SetOnceAndGet(ClusterKeys::Epoch(), ids_.NewId());
    if (!made.ok()) return made.error();
    epoch = *made;
  }
  // The secret goes with the data: kept while the epoch is, made anew (once, for every hub)
  // after the store lost both.
  Result<std::string> secret = SetOnceAndGet(ClusterKeys::PeerSecret(), ids_.NewId());
  if (!secret.ok()) return secret.error();
  if (!epoch_.empty()) reset_pending_ = true;
  epoch_ = epoch;
  MutexLock lock(mu_);
  secret_ = *secret;
  return Status::Ok();
}

Result<std::string> RedisClusterState::SetOnceAndGet(const std::string& key,
                                                     const std::string& value) {
  Result<std::vector<redis::Reply>> replies =
      Checked(keeper_redis_.Pipeline({{"SET", key, value, "NX"}, {"GET", key}}), "SET NX");
  if (!replies.ok()) return replies.error();
  const redis::Reply& stored = replies->at(1);
  if (!stored.is_string()) {
    return Error{ErrorCode::kUnavailable, store_ + ": " + key + " vanished after SET NX"};
  }
  return stored.str();
}

void RedisClusterState::Apply(const Observation& seen, SteadyClock::time_point sent,
                              Events& events) {
  const ClusterCallbacks& cb = callbacks_;
  MutexLock lock(mu_);
  if (store_down_) {
    store_down_.reset();
    if (cb.on_store_state) events.push_back([&cb] { cb.on_store_state(true, ""); });
  }
  leader_valid_until_ = sent + options_.lease_ttl - 2 * options_.command_timeout;
  if (leader_ && !seen.holding) {
    leader_ = false;
    std::string why = "the leader lease " + ClusterKeys::Leader() + " is held by " +
                      (seen.leader ? seen.leader->id : std::string("no one")) + " now";
    if (cb.on_deposed) events.push_back([&cb, why] { cb.on_deposed(why); });
  }
  if (reset_pending_) {
    reset_pending_ = false;
    if (cb.on_store_reset) events.push_back([&cb] { cb.on_store_reset(); });
  }
  if (!leader_ && seen.holding) {
    leader_ = true;
    if (cb.on_elected) events.push_back([&cb] { cb.on_elected(); });
  }
  if (known_leader_ != seen.leader) {
    known_leader_ = seen.leader;
    if (cb.on_leader_changed) {
      events.push_back([&cb, leader = seen.leader] { cb.on_leader_changed(leader); });
    }
  }
}

void RedisClusterState::Failed(const Error& error, Events& events) {
  const ClusterCallbacks& cb = callbacks_;
  MutexLock lock(mu_);
  if (!store_down_ && cb.on_store_state) {
    events.push_back([&cb, why = error.message] { cb.on_store_state(false, why); });
  }
  store_down_ = error.message;
  ExpireLocked(events);
}

void RedisClusterState::ExpireLocked(Events& events) {
  if (SteadyClock::now() < leader_valid_until_) return;
  const ClusterCallbacks& cb = callbacks_;
  if (leader_) {
    leader_ = false;
    std::string why = store_down_.value_or(store_) + "; stepping down before the lease lapses";
    if (cb.on_deposed) events.push_back([&cb, why] { cb.on_deposed(why); });
  }
  if (known_leader_) {
    known_leader_.reset();
    if (cb.on_leader_changed) events.push_back([&cb] { cb.on_leader_changed(std::nullopt); });
  }
}

// --- subscriber ----------------------------------------------------------------------------

void RedisClusterState::OnMessage(const redis::PubSubMessage& message) const {
  if (message.channel == ClusterKeys::EndedChannel()) {
    if (callbacks_.on_session_ended) callbacks_.on_session_ended(message.payload);
    return;
  }
  if (message.channel == ClusterKeys::RouteChannel()) {
    if (callbacks_.on_route_stored) callbacks_.on_route_stored(message.payload);
    return;
  }
  if (message.channel != ClusterKeys::SettingsChannel()) return;
  std::optional<std::pair<std::string, std::string>> parsed =
      ClusterKeys::ParseSettingsMessage(message.payload);
  // This hub applied its own settings before publishing them.
  if (!parsed || parsed->first == options_.self.id) return;
  if (callbacks_.on_settings) callbacks_.on_settings(parsed->second);
}

void RedisClusterState::OnSubscriberState(redis::LinkState) {
  {
    MutexLock lock(mu_);
    subscriber_reported_ = true;
  }
  cv_.notify_all();
}

// --- routes, nodes, settings ---------------------------------------------------------------

Status RedisClusterState::PutRoute(const std::string& session_id, const std::string& route_json) {
  // One round trip; every hub caches the route from the message, so commands through any hub
  // keep working while the store is unreachable.
  Result<std::vector<redis::Reply>> replies =
      CallAll({{"SET", ClusterKeys::Route(session_id), route_json},
               {"PUBLISH", ClusterKeys::RouteChannel(), route_json}});
  if (!replies.ok()) return replies.error();
  return Status::Ok();
}

Result<std::optional<std::string>> RedisClusterState::GetRoute(const std::string& session_id) {
  return GetString(ClusterKeys::Route(session_id));
}

Status RedisClusterState::EndRoute(const std::string& session_id) {
  // One round trip; the hubs drop their cached route on the message, so it follows the DEL.
  Result<std::vector<redis::Reply>> replies =
      CallAll({{"DEL", ClusterKeys::Route(session_id)},
               {"PUBLISH", ClusterKeys::EndedChannel(), session_id}});
  if (!replies.ok()) return replies.error();
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::string>>> RedisClusterState::Routes() {
  std::vector<std::pair<std::string, std::string>> routes;
  MutexLock lock(data_mu_);
  std::string cursor = "0";
  do {
    Result<redis::Reply> page = Checked(
        data_redis_.Command("SCAN", cursor, "MATCH", ClusterKeys::RoutePattern(), "COUNT", "500"),
        "SCAN");
    if (!page.ok()) return page.error();
    if (page->elements().size() != 2) return StoreError({ErrorCode::kUnavailable, "bad SCAN"});
    cursor = page->elements()[0].str();
    std::vector<Args> gets;
    std::vector<std::string> sessions;
    for (const redis::Reply& key : page->elements()[1].elements()) {
      std::optional<std::string> session = ClusterKeys::SessionOfRoute(key.str());
      if (!session) continue;
      gets.push_back({"GET", key.str()});
      sessions.push_back(std::move(*session));
    }
    if (gets.empty()) continue;
    Result<std::vector<redis::Reply>> values = Checked(data_redis_.Pipeline(gets), "GET");
    if (!values.ok()) return values.error();
    for (size_t i = 0; i < sessions.size(); ++i) {
      // Nil: the session ended between the SCAN and the GET.
      if ((*values)[i].is_string()) routes.emplace_back(sessions[i], (*values)[i].str());
    }
  } while (cursor != "0");
  return routes;
}

Status RedisClusterState::PutNode(const std::string& node_id,
                                  const std::string& registration_json) {
  return HashSet(ClusterKeys::Nodes(), node_id, registration_json);
}

Status RedisClusterState::DeleteNode(const std::string& node_id) {
  return HashDelete(ClusterKeys::Nodes(), node_id);
}

Result<std::vector<std::pair<std::string, std::string>>> RedisClusterState::Nodes() {
  return HashAll(ClusterKeys::Nodes());
}

Status RedisClusterState::PutTicket(const std::string& ticket_id, const std::string& ticket_json) {
  return HashSet(ClusterKeys::Tickets(), ticket_id, ticket_json);
}

Status RedisClusterState::DeleteTicket(const std::string& ticket_id) {
  return HashDelete(ClusterKeys::Tickets(), ticket_id);
}

Result<std::vector<std::pair<std::string, std::string>>> RedisClusterState::Tickets() {
  return HashAll(ClusterKeys::Tickets());
}

Status RedisClusterState::HashSet(const std::string& key, const std::string& field,
                                  const std::string& value) {
  Result<redis::Reply> reply = Call({"HSET", key, field, value});
  if (!reply.ok()) return reply.error();
  return Status::Ok();
}

Status RedisClusterState::HashDelete(const std::string& key, const std::string& field) {
  Result<redis::Reply> reply = Call({"HDEL", key, field});
  if (!reply.ok()) return reply.error();
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::string>>> RedisClusterState::HashAll(
    const std::string& key) {
  Result<redis::Reply> reply = Call({"HGETALL", key});
  if (!reply.ok()) return reply.error();
  std::vector<std::pair<std::string, std::string>> entries;
  const std::vector<redis::Reply>& flat = reply->elements();
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    entries.emplace_back(flat[i].str(), flat[i + 1].str());
  }
  return entries;
}

Status RedisClusterState::PublishSettings(const std::string& settings_json) {
  Result<std::vector<redis::Reply>> replies =
      CallAll({{"SET", ClusterKeys::Settings(), settings_json},
               {"PUBLISH", ClusterKeys::SettingsChannel(),
                ClusterKeys::SettingsMessage(options_.self.id, settings_json)}});
  if (!replies.ok()) return replies.error();
  return Status::Ok();
}

Result<std::optional<std::string>> RedisClusterState::StoredSettings() {
  return GetString(ClusterKeys::Settings());
}

}  // namespace

std::unique_ptr<ClusterState> MakeRedisClusterState(RedisClusterOptions options) {
  return std::make_unique<RedisClusterState>(std::move(options));
}

}  // namespace gridhub::cluster
