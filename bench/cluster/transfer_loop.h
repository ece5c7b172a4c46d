#pragma once

// Many concurrent HTTP requests on one thread: a curl multi handle driven through epoll
// (curl's socket API), so that holding 10,000 queued `POST /session` requests costs the load
// generator nothing per wake-up that grows with their number — `curl_multi_poll` would walk
// every socket on each call and put the client's own cost into the figures.
//
//   TransferLoop loop;
//   loop.Add("POST", url, body, tag);       // tag: any number the caller uses to tell them apart
//   for (TransferLoop::Done d : loop.Wait()) { d.tag; d.status; d.body; }
//
// Not thread-safe; one thread owns a loop.

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace gridhub::bench {

class TransferLoop {
 public:
  struct Done {
    uint64_t tag = 0;
    long status = 0;  // 0: the transfer failed (no HTTP answer)
    std::string body;
  };

  TransferLoop();
  ~TransferLoop();
  TransferLoop(const TransferLoop&) = delete;
  TransferLoop& operator=(const TransferLoop&) = delete;

  void Add(const std::string& method, const std::string& url, const std::string& body,
           uint64_t tag);
  // Runs the transfers until at least one finished (or `max_wait_ms` passed); returns those
  // that finished.
  std::vector<Done> Wait(int max_wait_ms = 1000);
  size_t pending() const { return transfers_.size(); }

 private:
  struct Transfer {
    CURL* easy = nullptr;
    uint64_t tag = 0;
    std::string payload;
    std::string body;
  };
  static int OnSocket(CURL* easy, curl_socket_t socket, int what, void* self, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  void Step(int max_wait_ms);
  std::vector<Done> Collect();

  CURLM* multi_;
  curl_slist* headers_;
  int epoll_fd_;
  long timer_ms_ = -1;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace gridhub::bench
