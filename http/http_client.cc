#include "http/http_client.h"

#include <curl/curl.h>

#include <future>
#include <map>
#include <vector>

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
size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<HttpClient::Transfer*>(user);
  const size_t n = size * count;
  ClientResponse& response = transfer->response;
  if (transfer->max_body != 0 && n > transfer->max_body - response.body.size()) {
    response.body_too_large = true;
    return 0;
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

// Called by curl about once a second, and on progress, for a transfer that can be cancelled.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(user);
  return cancel->load(std::memory_order_relaxed) ? 1 : 0;  // non-zero aborts the transfer
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void EnsureCurlGlobal() {
  // curl_global_init is not thread-safe before 7.84; a function-local static serialises it.
  static CurlGlobal global;
  (void)global;
}

}  // namespace

HttpClient::HttpClient() {
  EnsureCurlGlobal();
  CURLM* multi = curl_multi_init();
  // Enough cached connections that a hub talking to many nodes keeps them warm.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 256L);
  multi_ = multi;
  worker_ = std::thread([this] { Run(); });
}

HttpClient::~HttpClient() {
  Stop();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void HttpClient::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
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
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
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
  if (request.cancel != nullptr) {
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA,
                     const_cast<std::atomic<bool>*>(request.cancel.get()));
  }
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

void HttpClient::Run() {
  CURLM* multi = static_cast<CURLM*>(multi_);
  std::map<CURL*, std::unique_ptr<Transfer>> active;
  // Finished easy handles are reset and reused: cheaper than curl_easy_init per request.
  std::vector<CURL*> idle;
  bool stopping = false;
  while (true) {
    std::deque<std::unique_ptr<Transfer>> fresh;
    {
      MutexLock lock(mu_);
      fresh.swap(incoming_);
      stopping = stopping_;
    }
    if (stopping) {
      std::vector<std::unique_ptr<Transfer>> pending;
      for (auto& transfer : fresh) pending.push_back(std::move(transfer));
      for (auto& [easy, transfer] : active) {
        curl_multi_remove_handle(multi, easy);
        pending.push_back(std::move(transfer));
      }
      active.clear();
      for (auto& transfer : pending) {
        ClientResponse response;
        response.error = "client stopped";
        transfer->done(std::move(response));
      }
      for (CURL* easy : idle) curl_easy_cleanup(easy);
      return;
    }
    for (auto& transfer : fresh) {
      if (idle.empty()) {
        transfer->easy = curl_easy_init();
      } else {
        transfer->easy = idle.back();
        idle.pop_back();
        curl_easy_reset(transfer->easy);
      }
      Configure(transfer->easy, *transfer);
      curl_multi_add_handle(multi, transfer->easy);
      CURL* key = transfer->easy;
      active.emplace(key, std::move(transfer));
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      // The message does not survive curl_multi_remove_handle: read it first.
      const CURLcode result = message->data.result;
      auto it = active.find(easy);
      if (it == active.end()) continue;
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      active.erase(it);
      curl_multi_remove_handle(multi, easy);
      ClientResponse& response = transfer->response;
      if (result == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        response.status = static_cast<int>(status);
      } else if (result == CURLE_FILESIZE_EXCEEDED || response.body_too_large) {
        response.status = 0;
        response.body_too_large = true;
        std::string().swap(response.body);  // give the memory back now
        response.error = "answer larger than " + std::to_string(transfer->max_body) + " bytes";
      } else if (result == CURLE_ABORTED_BY_CALLBACK) {
        response.status = 0;
        response.error = "cancelled";
      } else {
        response.status = 0;
        response.error = transfer->error_buffer[0] != '\0'
                             ? std::string(transfer->error_buffer)
                             : std::string(curl_easy_strerror(result));
      }
      if (idle.size() < 64) {
        idle.push_back(transfer->easy);
        transfer->easy = nullptr;
      }
      transfer->done(std::move(response));
    }
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
}

}  // namespace gridhub::http
