#include "transfer_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace gridhub::bench {
namespace {

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

TransferLoop::TransferLoop()
    : multi_(curl_multi_init()),
      headers_(curl_slist_append(curl_slist_append(nullptr, "Content-Type: application/json"),
                                 "Expect:")),
      epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &TransferLoop::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &TransferLoop::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

TransferLoop::~TransferLoop() {
  // Removing a transfer closes its connection: the hub withdraws that waiter.
  for (auto& [easy, t] : transfers_) {
    curl_multi_remove_handle(multi_, easy);
    curl_easy_cleanup(easy);
  }
  curl_multi_cleanup(multi_);
  curl_slist_free_all(headers_);
  close(epoll_fd_);
}

void TransferLoop::Add(const std::string& method, const std::string& url, const std::string& body,
                       uint64_t tag) {
  CURL* easy = curl_easy_init();
  Transfer& t = *transfers_.emplace(easy, std::make_unique<Transfer>()).first->second;
  t.easy = easy;
  t.tag = tag;
  t.payload = body;
  curl_easy_setopt(t.easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(t.easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, headers_);
  curl_easy_setopt(t.easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(t.easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t.body);
  curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
  if (!t.payload.empty()) {
    curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, t.payload.c_str());
    curl_easy_setopt(t.easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(t.payload.size()));
  }
  curl_multi_add_handle(multi_, t.easy);
}

int TransferLoop::OnSocket(CURL*, curl_socket_t socket, int what, void* self, void*) {
  int epoll_fd = static_cast<TransferLoop*>(self)->epoll_fd_;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, socket, nullptr);
    return 0;
  }
  epoll_event event{};
  event.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  event.data.fd = socket;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, socket, &event) != 0) {
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, socket, &event);
  }
  return 0;
}

int TransferLoop::OnTimer(CURLM*, long timeout_ms, void* self) {
  static_cast<TransferLoop*>(self)->timer_ms_ = timeout_ms;
  return 0;
}

void TransferLoop::Step(int max_wait_ms) {
  int running = 0;
  int wait = timer_ms_ < 0 ? max_wait_ms : static_cast<int>(std::min<long>(timer_ms_, max_wait_ms));
  epoll_event events[64];
  int n = epoll_wait(epoll_fd_, events, 64, wait);
  for (int i = 0; i < n; ++i) {
    int flags = ((events[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                ((events[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                ((events[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
    curl_multi_socket_action(multi_, events[i].data.fd, flags, &running);
  }
  // The timer may have run out while sockets were ready; curl wants to hear of it either way.
  if (n <= 0 || timer_ms_ == 0) curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
}

std::vector<TransferLoop::Done> TransferLoop::Collect() {
  std::vector<Done> done;
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &t);
    Done d{.tag = t->tag, .status = 0, .body = std::move(t->body)};
    if (message->data.result == CURLE_OK) {
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &d.status);
    }
    done.push_back(std::move(d));
    CURL* easy = t->easy;
    curl_multi_remove_handle(multi_, easy);
    curl_easy_cleanup(easy);
    transfers_.erase(easy);  // frees *t
  }
  return done;
}

std::vector<TransferLoop::Done> TransferLoop::Wait(int max_wait_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_wait_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now())
                    .count();
    Step(static_cast<int>(std::max<long>(0, left)));
    std::vector<Done> done = Collect();
    if (!done.empty() || left <= 0) return done;
  }
}

}  // namespace gridhub::bench
