// Load generator for the hub benchmark. Each client thread keeps one connection (libcurl easy
// handle) and runs requests back to back.
//
//   hub_load sessions URL CONCURRENCY SECONDS   # create+delete cycles; prints cycles/s, p50, p99
//     (URL may be a comma-separated list: client thread t then uses URL number t % count)
//   hub_load commands URL SESSION CONCURRENCY COUNT  # GET URL/session/SESSION/url; prints p50 µs

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

size_t Collect(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct Client {
  CURL* easy = curl_easy_init();
  // With the charset, as stock clients send it: Selenium Grid refuses JSON that names none.
  curl_slist* headers = curl_slist_append(
      curl_slist_append(nullptr, "Content-Type: application/json; charset=utf-8"), "Expect:");
  std::string body;
  ~Client() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
  }
  long Call(const char* method, const std::string& url, const std::string& payload) {
    body.clear();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &body);
    if (payload.empty() && std::string(method) == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, payload.c_str());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    }
    if (curl_easy_perform(easy) != CURLE_OK) return 0;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// The value of "sessionId", with or without spaces around the colon (Selenium Grid indents).
std::string SessionIdOf(const std::string& body) {
  size_t at = body.find("\"sessionId\"");
  if (at == std::string::npos) return "";
  at = body.find('"', body.find(':', at));
  if (at == std::string::npos) return "";
  ++at;
  return body.substr(at, body.find('"', at) - at);
}

std::vector<std::string> SplitUrls(const std::string& list) {
  std::vector<std::string> urls;
  std::stringstream in(list);
  for (std::string url; std::getline(in, url, ',');) {
    if (!url.empty()) urls.push_back(url);
  }
  return urls;
}

int Sessions(const std::string& url_list, int concurrency, double seconds) {
  const std::vector<std::string> urls = SplitUrls(url_list);
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0};
  std::mutex mu;
  std::vector<double> latencies;  // create+delete, ms
  std::vector<std::thread> threads;
  const std::string caps = R"({"capabilities":{"alwaysMatch":{"browserName":"chrome"}}})";
  auto start = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&, t] {
      const std::string& url = urls[t % urls.size()];
      Client client;
      std::vector<double> mine;
      while (!stop.load()) {
        auto begin = Clock::now();
        long status = client.Call("POST", url + "/session", caps);
        std::string id = SessionIdOf(client.body);
        if (status != 200 || id.empty()) {
          failures++;
          continue;
        }
        if (client.Call("DELETE", url + "/session/" + id, "") != 200) failures++;
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  size_t cycles = latencies.size();
  std::printf("sessions concurrency=%d cycles=%zu rate=%.0f/s p50=%.2fms p99=%.2fms failures=%ld\n",
              concurrency, cycles, cycles / elapsed, Percentile(latencies, 0.5),
              Percentile(latencies, 0.99), failures.load());
  return failures.load() == 0 ? 0 : 1;
}

int Commands(const std::string& url, const std::string& session, int concurrency, int count) {
  std::mutex mu;
  std::vector<double> latencies;  // µs
  std::atomic<long> failures{0};
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      Client client;
      std::vector<double> mine;
      std::string target = url + "/session/" + session + "/url";
      client.Call("GET", target, "");  // warm the connection
      for (int i = 0; i < count; ++i) {
        auto begin = Clock::now();
        long status = client.Call("GET", target, "");
        if (status != 200 && failures++ == 0) {
          std::fprintf(stderr, "first failure: status %ld body %s\n", status, client.body.c_str());
        }
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "commands concurrency=%d requests=%zu rate=%.0f/s p50=%.0fus p99=%.0fus failures=%ld\n",
      concurrency, latencies.size(), latencies.size() / elapsed, Percentile(latencies, 0.5),
      Percentile(latencies, 0.99), failures.load());
  return failures.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sessions" && argc == 5) {
    return Sessions(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
  }
  if (mode == "commands" && argc == 6) {
    return Commands(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
  }
  std::fprintf(stderr,
               "usage: hub_load sessions URL CONCURRENCY SECONDS\n"
               "       hub_load commands URL SESSION CONCURRENCY COUNT\n");
  return 2;
}
