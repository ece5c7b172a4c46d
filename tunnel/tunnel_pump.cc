#include "tunnel/tunnel_pump.h"

#include <netdb.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/mutex.h"
#include "tunnel/tunnel.h"

namespace gridhub::tunnel {

namespace {

constexpr uint64_t kWakeTag = 0;  // the eventfd; tunnels' tags are never 0
constexpr int kMaxEvents = 256;

// Resolved on the caller's thread (Open): a numeric address costs nothing, a name is looked up
// in /etc/hosts or DNS there rather than stalling every tunnel on the pump's thread.
std::vector<SocketAddress> Resolve(const Upstream& upstream, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(upstream.port);
  std::string host = upstream.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // "[::1]" as a URL writes it
  }
  const int result = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  std::vector<SocketAddress> addresses;
  if (result != 0) {
    error = ::gai_strerror(result);
    return addresses;
  }
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress address;
    std::memcpy(&address.address, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    addresses.push_back(address);
  }
  ::freeaddrinfo(found);
  if (addresses.empty()) error = "no address";
  return addresses;
}

}  // namespace

struct TunnelPump::State {
  std::chrono::milliseconds half_close_grace{0};
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<TunnelId> next_id{1};
  std::atomic<size_t> open{0};
  std::atomic<size_t> buffered{0};

  Mutex mu;
  std::vector<std::unique_ptr<Tunnel>> opening GUARDED_BY(mu);
  std::vector<TunnelId> closing GUARDED_BY(mu);
  bool stopping GUARDED_BY(mu) = false;

  // The pump's thread only.
  struct Entry {
    std::unique_ptr<Tunnel> tunnel;
    std::optional<SteadyTime> scheduled;  // its place in `deadlines`
    size_t buffered = 0;                  // its share of `buffered`
  };
  std::unordered_map<TunnelId, Entry> tunnels;
  std::set<std::pair<SteadyTime, TunnelId>> deadlines;
  std::deque<TunnelId> ready;  // stopped with more to do (Tunnel::Step::kMore)

  std::thread thread;

  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
  void Loop();
  int Timeout() const;
  bool TakeRequests();
  void Apply(TunnelId id, Tunnel::Step step);
  void Finish(TunnelId id);
  void RunReady();
  void RunDeadlines();
};

TunnelPump::TunnelPump(std::chrono::milliseconds half_close_grace)
    : state_(std::make_unique<State>()) {
  state_->half_close_grace = half_close_grace;
  state_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  state_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->epoll_fd < 0 || state_->wake_fd < 0) {
    throw std::runtime_error(std::string("tunnel pump: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeTag;
  ::epoll_ctl(state_->epoll_fd, EPOLL_CTL_ADD, state_->wake_fd, &event);
  state_->thread = std::thread([state = state_.get()] { state->Loop(); });
}

TunnelPump::~TunnelPump() {
  {
    MutexLock lock(state_->mu);
    state_->stopping = true;
  }
  state_->Wake();
  state_->thread.join();
  ::close(state_->wake_fd);
  ::close(state_->epoll_fd);
}

TunnelId TunnelPump::Open(TunnelRequest request) {
  const TunnelId id = state_->next_id++;
  std::string error;
  std::vector<SocketAddress> addresses = Resolve(request.upstream, error);
  auto tunnel =
      std::make_unique<Tunnel>(id, state_->epoll_fd, std::move(request), std::move(addresses),
                               std::move(error), state_->half_close_grace);
  state_->open++;
  {
    MutexLock lock(state_->mu);
    state_->opening.push_back(std::move(tunnel));
  }
  state_->Wake();
  return id;
}

void TunnelPump::Close(TunnelId id) {
  {
    MutexLock lock(state_->mu);
    state_->closing.push_back(id);
  }
  state_->Wake();
}

size_t TunnelPump::open_count() const { return state_->open.load(); }

size_t TunnelPump::buffered_bytes() const { return state_->buffered.load(); }

void TunnelPump::State::Loop() {
  epoll_event events[kMaxEvents];
  bool running = true;
  while (running) {
    const int n = ::epoll_wait(epoll_fd, events, kMaxEvents, Timeout());
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t count = 0;
        (void)!::read(wake_fd, &count, sizeof count);
        running = TakeRequests();
        continue;
      }
      auto it = tunnels.find(tag >> 1);
      if (it == tunnels.end()) continue;  // closed earlier in this batch
      Apply(it->first, it->second.tunnel->OnEvent(static_cast<Tunnel::Side>(tag & 1),
                                                  events[i].events, SteadyClock::now()));
    }
    RunReady();
    RunDeadlines();
  }
  // Stopping: every tunnel, also one handed over too late, is closed and reported.
  TakeRequests();
  while (!tunnels.empty()) Finish(tunnels.begin()->first);
}

// Milliseconds until the earliest deadline (rounded up); 0 with tunnels ready to go on.
int TunnelPump::State::Timeout() const {
  if (!ready.empty()) return 0;
  if (deadlines.empty()) return -1;
  const auto left = deadlines.begin()->first - SteadyClock::now();
  if (left <= SteadyClock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

// Adopts tunnels opened and carries out closes asked for on other threads; false: stop.
bool TunnelPump::State::TakeRequests() {
  std::vector<std::unique_ptr<Tunnel>> opened;
  std::vector<TunnelId> closed;
  bool stop = false;
  {
    MutexLock lock(mu);
    opened.swap(opening);
    closed.swap(closing);
    stop = stopping;
  }
  for (auto& tunnel : opened) {
    Tunnel& t = *tunnel;
    const TunnelId id = tunnel->id();
    tunnels[id].tunnel = std::move(tunnel);
    Apply(id, t.Start(SteadyClock::now()));
  }
  for (TunnelId id : closed) {
    if (tunnels.count(id) != 0) Finish(id);
  }
  return !stop;
}

void TunnelPump::State::Apply(TunnelId id, Tunnel::Step step) {
  if (step == Tunnel::Step::kClosed) {
    Finish(id);
    return;
  }
  Entry& entry = tunnels.at(id);
  if (step == Tunnel::Step::kMore) ready.push_back(id);
  const std::optional<SteadyTime> deadline = entry.tunnel->deadline();
  if (deadline != entry.scheduled) {
    if (entry.scheduled) deadlines.erase({*entry.scheduled, id});
    if (deadline) deadlines.insert({*deadline, id});
    entry.scheduled = deadline;
  }
  const size_t held = entry.tunnel->buffered();
  buffered += held;
  buffered -= entry.buffered;
  entry.buffered = held;
}

// Closes a tunnel's sockets, forgets it and reports on_closed (once: it is gone after this).
void TunnelPump::State::Finish(TunnelId id) {
  auto it = tunnels.find(id);
  if (it == tunnels.end()) return;
  Entry entry = std::move(it->second);
  tunnels.erase(it);
  if (entry.scheduled) deadlines.erase({*entry.scheduled, id});
  buffered -= entry.buffered;
  entry.tunnel->Close();
  std::function<void()> on_closed = entry.tunnel->events().on_closed;
  entry.tunnel.reset();
  open--;
  if (!on_closed) return;
  try {
    on_closed();
  } catch (...) {
    log::Error("tunnel.callback_failed", "tunnel on_closed failed");
  }
}

void TunnelPump::State::RunReady() {
  std::deque<TunnelId> now;
  now.swap(ready);
  for (TunnelId id : now) {
    auto it = tunnels.find(id);
    if (it != tunnels.end()) Apply(id, it->second.tunnel->Continue(SteadyClock::now()));
  }
}

void TunnelPump::State::RunDeadlines() {
  const SteadyTime now = SteadyClock::now();
  while (!deadlines.empty() && deadlines.begin()->first <= now) {
    const TunnelId id = deadlines.begin()->second;
    Entry& entry = tunnels.at(id);
    deadlines.erase(deadlines.begin());
    entry.scheduled.reset();
    Apply(id, entry.tunnel->OnDeadline(now));
  }
}

}  // namespace gridhub::tunnel
