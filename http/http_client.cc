#include "http/http_client.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <future>
#include <utility>

namespace gridhub::http {

struct HttpClient::Transfer {
  ClientRequest request;
  size_t max_body = 0;  // request.max_response_body, read by the body callback
  Callback done;
  ClientResponse response;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (header_list != nullptr) curl_slist_free_all(header_list);
  }
};

namespace {

// Appends as the answer arrives (never reserving a declared length); returning less than was
// offered makes curl abort the transfer and close its connection.
// The declared Content-Length, when it is plain digits and at most `cap`; else 0.
size_t DeclaredLength(const Headers& headers, size_t cap) {
  std::string_view value = FindHeader(headers, "Content-Length");
  if (value.empty() || value.size() > 18) return 0;
  size_t length = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return 0;
    length = length * 10 + static_cast<size_t>(c - '0');
  }
  return length <= cap ? length : 0;
}

// Beyond this a declared length is not trusted for a reservation (the body grows as it comes).
constexpr size_t kMaxReserve = size_t{64} << 20;

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<HttpClient::Transfer*>(user);
  const size_t n = size * count;
  ClientResponse& response = transfer->response;
  if (transfer->max_body != 0 && n > transfer->max_body - response.body.size()) {
    response.body_too_large = true;
    return 0;
  }
  if (response.body.empty()) {
    // Made once at its full size: a 5 MB screenshot is copied once here, not again each time
    // a growing string moves.
    const size_t cap =
        transfer->max_body != 0 ? std::min(transfer->max_body, kMaxReserve) : kMaxReserve;
    response.body.reserve(DeclaredLength(response.headers, cap));
  }
  response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<ClientResponse*>(user);
  std::string_view line(data, size * count);
  // A new status line (after a 100 Continue or a redirect) starts a fresh header block.
  if (line.rfind("HTTP/", 0) == 0) {
    response->headers.clear();
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  response->headers.emplace_back(std::string(name), std::string(value));
  return line.size();
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void EnsureCurlGlobal() {
  // curl_global_init is not thread-safe before 7.84; a function-local static serialises it.
  static CurlGlobal global;
  (void)global;
}

void Wake(int wake_fd) {
  const uint64_t one = 1;
  // Cannot fail short of a full counter (2^64 - 2 wake-ups not yet read).
  [[maybe_unused]] ssize_t written = ::write(wake_fd, &one, sizeof one);
}

// A transfer can be cancelled by a flag only (ClientRequest::cancel): the flags are read this
// often, which bounds how late a cancel takes effect.
constexpr auto kCancelSweep = std::chrono::milliseconds(250);

// Idle connections kept warm (a hub talking to many nodes), besides those in use.
constexpr long kIdleConnections = 256;

}  // namespace

HttpClient::HttpClient() {
  EnsureCurlGlobal();
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.fd = wake_fd_;
  CURLM* multi = curl_multi_init();
  multi_ = multi;
  if (epoll_fd_ < 0 || wake_fd_ < 0 || multi == nullptr ||
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake) != 0) {
    // Out of descriptors or memory: a client that cannot run fails every request at once.
    MutexLock lock(mu_);
    stopping_ = true;
    return;
  }
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, kIdleConnections);
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &HttpClient::OnSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &HttpClient::OnTimer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  worker_ = std::thread([this] { Run(); });
}

HttpClient::~HttpClient() {
  Stop();
  // Closes the cached connections, which curl reports to OnSocket: the epoll fd is still open.
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void HttpClient::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  Wake(wake_fd_);
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void HttpClient::Send(ClientRequest request, Callback done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  bool accepted = false;
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      incoming_.push_back(std::move(transfer));
      accepted = true;
    }
  }
  if (!accepted) {  // the client is stopping
    ClientResponse response;
    response.error = "client stopped";
    transfer->done(std::move(response));  // NOLINT(bugprone-use-after-move): not moved
    return;
  }
  Wake(wake_fd_);
}

ClientResponse HttpClient::SendSync(ClientRequest request) {
  auto promise = std::make_shared<std::promise<ClientResponse>>();
  std::future<ClientResponse> future = promise->get_future();
  Send(std::move(request),
       [promise](ClientResponse response) { promise->set_value(std::move(response)); });
  return future.get();
}

namespace {

void Configure(CURL* easy, HttpClient::Transfer& transfer) {
  ClientRequest& request = transfer.request;
  ClientResponse& response = transfer.response;
  char* error_buffer = transfer.error_buffer;
  transfer.max_body = request.max_response_body;
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  // The path goes out as the caller built it (the hub forwards exactly the path it routed).
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  long timeout_ms = static_cast<long>(std::max<int64_t>(1, request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  if (request.max_response_body != 0) {
    // A declared Content-Length above the limit fails before any of the body is read.
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(request.max_response_body));
  }
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    if (request.method == "POST") {
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (!request.body.empty() || request.method == "POST") {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : request.headers) {
    std::string line = name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  // "Expect: 100-continue" would add a round trip to every body over 1 KiB.
  list = curl_slist_append(list, "Expect:");
  if (FindHeader(request.headers, "Content-Type").empty() && !request.body.empty()) {
    list = curl_slist_append(list, "Content-Type: application/json; charset=utf-8");
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  transfer.header_list = list;
}

}  // namespace

namespace {

// What the response says once curl has finished a transfer with `result`.
void FillResponse(HttpClient::Transfer& transfer, CURLcode result) {
  ClientResponse& response = transfer.response;
  if (result == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
  } else if (result == CURLE_FILESIZE_EXCEEDED || response.body_too_large) {
    response.status = 0;
    response.body_too_large = true;
    std::string().swap(response.body);  // give the memory back now
    response.error = "answer larger than " + std::to_string(transfer.max_body) + " bytes";
  } else {
    response.status = 0;
    response.error = transfer.error_buffer[0] != '\0' ? std::string(transfer.error_buffer)
                                                      : std::string(curl_easy_strerror(result));
  }
}

}  // namespace

// curl says which sockets it wants watched, and for what. curl_multi_assign marks a socket as
// already in the epoll set; a descriptor number curl closed and opened again arrives unmarked.
int HttpClient::OnSocket(void*, int socket, int what, void* self, void* registered) {
  auto* client = static_cast<HttpClient*>(self);
  if (what == CURL_POLL_REMOVE) {
    ::epoll_ctl(client->epoll_fd_, EPOLL_CTL_DEL, socket, nullptr);
    return 0;
  }
  epoll_event event{};
  event.events =
      ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
  event.data.fd = socket;
  const int op = registered == nullptr ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (::epoll_ctl(client->epoll_fd_, op, socket, &event) != 0) {
    ::epoll_ctl(client->epoll_fd_, op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket,
                &event);
  }
  if (registered == nullptr) curl_multi_assign(client->multi_, socket, client);
  return 0;
}

// curl's one timer (connect and transfer timeouts, and "call me now" after a handle is added).
int HttpClient::OnTimer(void*, long timeout_ms, void* self) {
  auto* client = static_cast<HttpClient*>(self);
  if (timeout_ms < 0) {
    client->curl_timer_.reset();
  } else {
    client->curl_timer_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

void HttpClient::Run() {
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (true) {
    const int ready = ::epoll_wait(epoll_fd_, events, kMaxEvents, WaitMs(Clock::now()));
    bool woken = false;
    OnEvents(events, std::max(ready, 0), &woken);
    if (woken && !StartIncoming()) return FailAll();
    RunDueTimers(Clock::now());
    CollectDone();
    if (!cancellable_.empty() && next_sweep_ <= Clock::now()) SweepCancelled();
  }
}

// Until curl's timer or the next cancel sweep, whichever comes first; -1: only an event.
int HttpClient::WaitMs(Clock::time_point now) const {
  std::optional<Clock::time_point> next = curl_timer_;
  if (!cancellable_.empty() && (!next.has_value() || next_sweep_ < *next)) next = next_sweep_;
  if (!next.has_value()) return -1;
  if (*next <= now) return 0;
  // Rounded up: waking a little early would only spin until the deadline.
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<int64_t>(wait, 60'000));
}

void HttpClient::OnEvents(const void* list, int count, bool* woken) {
  const auto* events = static_cast<const epoll_event*>(list);
  CURLM* multi = static_cast<CURLM*>(multi_);
  for (int i = 0; i < count; ++i) {
    const int fd = events[i].data.fd;
    if (fd == wake_fd_) {
      uint64_t wakes = 0;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &wakes, sizeof wakes);
      *woken = true;
      continue;
    }
    // An error or hang-up is passed on as "readable and writable", never as CURL_CSELECT_ERR
    // alone (curl would report only "select/poll returned error"): the read or write that
    // follows tells curl what happened (reset, refused, closed).
    const uint32_t what = events[i].events;
    const bool broken = (what & (EPOLLERR | EPOLLHUP)) != 0;
    const int bits = ((what & EPOLLIN) != 0 || broken ? CURL_CSELECT_IN : 0) |
                     ((what & EPOLLOUT) != 0 || broken ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(multi, fd, bits, &running);
  }
}

bool HttpClient::StartIncoming() {
  std::deque<std::unique_ptr<Transfer>> fresh;
  {
    MutexLock lock(mu_);
    if (stopping_) return false;
    fresh.swap(incoming_);
  }
  for (auto& transfer : fresh) Start(std::move(transfer));
  return true;
}

void HttpClient::Start(std::unique_ptr<Transfer> transfer) {
  CURL* easy = nullptr;
  if (idle_.empty()) {
    easy = curl_easy_init();
  } else {
    easy = idle_.back();
    idle_.pop_back();
    curl_easy_reset(easy);
  }
  transfer->easy = easy;
  if (easy == nullptr) {
    transfer->response.error = "out of memory";
    return Complete(std::move(transfer));
  }
  Configure(easy, *transfer);
  const CURLMcode added = curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  if (added != CURLM_OK) {
    transfer->response.error = curl_multi_strerror(added);
    return Complete(std::move(transfer));
  }
  if (transfer->request.cancel != nullptr) {
    if (cancellable_.empty()) next_sweep_ = Clock::now() + kCancelSweep;
    cancellable_.insert(transfer.get());
  }
  active_.emplace(easy, std::move(transfer));
  SizeConnectionCache();
}

// curl's MAXCONNECTS bounds every connection it holds, in use or idle; whenever a finished
// transfer hands its connection back to a cache above the bound, curl walks all of them to
// close the oldest idle one — usually the one just handed back. With a fixed bound, a hub
// holding thousands of waiting calls (one connection each) paid a walk over all of them and
// lost its keep-alive connection on every call that finished. The bound follows the transfers
// in flight instead, so only idle connections beyond kIdleConnections are closed.
void HttpClient::SizeConnectionCache() {
  curl_multi_setopt(static_cast<CURLM*>(multi_), CURLMOPT_MAXCONNECTS,
                    static_cast<long>(active_.size()) + kIdleConnections);
}

void HttpClient::RunDueTimers(Clock::time_point now) {
  if (!curl_timer_.has_value() || *curl_timer_ > now) return;
  // Cleared first: curl sets its next timer from inside the call when it needs one.
  curl_timer_.reset();
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(multi_), CURL_SOCKET_TIMEOUT, 0, &running);
}

// Reads the flags of the cancellable transfers only (at most four times a second), and only
// while there are any.
void HttpClient::SweepCancelled() {
  next_sweep_ = Clock::now() + kCancelSweep;
  std::vector<Transfer*> cancelled;
  for (Transfer* transfer : cancellable_) {
    if (transfer->request.cancel->load(std::memory_order_relaxed)) cancelled.push_back(transfer);
  }
  for (Transfer* cancelled_transfer : cancelled) {
    cancellable_.erase(cancelled_transfer);
    auto it = active_.find(cancelled_transfer->easy);
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active_.erase(it);
    // Removed before its answer is complete, the transfer's connection is closed (not cached).
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), transfer->easy);
    transfer->response = ClientResponse{};
    transfer->response.error = "cancelled";
    Complete(std::move(transfer));
  }
  if (!cancelled.empty()) SizeConnectionCache();
}

void HttpClient::CollectDone() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    // The message does not survive curl_multi_remove_handle: read it first.
    const CURLcode result = message->data.result;
    auto it = active_.find(easy);
    if (it == active_.end()) continue;
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active_.erase(it);
    cancellable_.erase(transfer.get());
    curl_multi_remove_handle(multi, easy);
    FillResponse(*transfer, result);
    Complete(std::move(transfer));
    SizeConnectionCache();
  }
}

// The easy handle (already out of the multi handle) is kept for reuse; then the callback.
void HttpClient::Complete(std::unique_ptr<Transfer> transfer) {
  if (transfer->easy != nullptr && idle_.size() < 64) {
    idle_.push_back(transfer->easy);
    transfer->easy = nullptr;
  }
  transfer->done(std::move(transfer->response));
}

void HttpClient::FailAll() {
  std::deque<std::unique_ptr<Transfer>> pending;
  {
    MutexLock lock(mu_);
    pending.swap(incoming_);
  }
  for (auto& [easy, transfer] : active_) {
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), easy);
    pending.push_back(std::move(transfer));
  }
  active_.clear();
  cancellable_.clear();
  for (auto& transfer : pending) {
    ClientResponse response;
    response.error = "client stopped";
    transfer->done(std::move(response));
  }
  for (CURL* easy : idle_) curl_easy_cleanup(easy);
  idle_.clear();
}

}  // namespace gridhub::http
