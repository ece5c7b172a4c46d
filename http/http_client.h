#pragma once

// Outbound HTTP over libcurl: one thread drives a curl multi handle for every request, so a
// node that hangs costs only its own requests (each has its own timeout) and connections to
// the same node are reused. The thread waits in epoll on the sockets curl names (curl's socket
// API), so what one wake-up costs depends on the sockets that became ready, not on how many
// transfers are in flight: a dispatcher hub holds 10,000 waiters' calls at the price of few.
//
//   HttpClient client;
//   client.Send({.method = "POST", .url = uri + "/session", .body = payload},
//               [](ClientResponse response) { /* runs on the client's thread */ });
//   ClientResponse status = client.SendSync({.url = uri + "/status"});

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/mutex.h"
#include "http/http_types.h"

namespace gridhub::http {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // Whole-transfer timeout (connect + send + receive).
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // Largest answer body read; beyond it the transfer is aborted, its connection dropped, and
  // the response has status 0 and body_too_large. 0 = no limit.
  size_t max_response_body = 0;
  // Set to true (from any thread) to abandon the transfer: within a quarter of a second (the
  // client looks at the flags of its cancellable transfers four times a second) it ends with
  // status 0 and error "cancelled", and its connection is closed — so a peer holding the
  // other end (a dispatcher hub holding a waiter) sees the client leave. Null: never.
  std::shared_ptr<const std::atomic<bool>> cancel;
};

struct ClientResponse {
  // 0 when the transfer failed (refused, timed out, reset); `error` then says why.
  int status = 0;
  Headers headers;
  std::string body;
  std::string error;
  // The answer was larger than ClientRequest::max_response_body (status is then 0).
  bool body_too_large = false;
  bool transport_ok() const { return status != 0; }
};

// Thread-safe. Callbacks run on the client's own thread, one at a time: they must be quick and
// must not call SendSync (they may call Send). Destruction (or Stop) completes every request
// still in flight with status 0 and error "client stopped".
class HttpClient {
 public:
  using Callback = std::function<void(ClientResponse)>;

  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void Send(ClientRequest request, Callback done);

  // Blocks the caller until the response (or failure) arrives.
  // REQUIRES: not called from a Send callback.
  ClientResponse SendSync(ClientRequest request);

  void Stop();

  // One request on its way; public only so that libcurl's C callbacks can name it.
  struct Transfer;

 private:
  using Clock = std::chrono::steady_clock;
  static int OnSocket(void* easy, int socket, int what, void* self, void* registered);
  static int OnTimer(void* multi, long timeout_ms, void* self);
  void Run();
  int WaitMs(Clock::time_point now) const;
  void OnEvents(const void* events, int count, bool* woken);
  bool StartIncoming();  // false: stopping
  void Start(std::unique_ptr<Transfer> transfer);
  void RunDueTimers(Clock::time_point now);
  void SweepCancelled();
  void SizeConnectionCache();  // MAXCONNECTS: the transfers in flight plus the idle allowance
  void CollectDone();
  void Complete(std::unique_ptr<Transfer> transfer);
  void FailAll();

  Mutex mu_;
  std::deque<std::unique_ptr<Transfer>> incoming_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  void* multi_ = nullptr;  // CURLM*, owned by the worker after construction
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Send and Stop wake the worker through it

  // The worker's own state (touched by no other thread).
  std::unordered_map<void*, std::unique_ptr<Transfer>> active_;  // by CURL*
  std::unordered_set<Transfer*> cancellable_;  // the active ones with a cancel flag
  std::vector<void*> idle_;  // finished easy handles, reset and reused (cheaper than new ones)
  std::optional<Clock::time_point> curl_timer_;  // when curl asked to be called (its timer)
  Clock::time_point next_sweep_;                 // when cancellable_ is looked at next

  std::thread worker_;
};

}  // namespace gridhub::http
