// Dispatch with a deep queue through real hubs: the HTTP counterpart of bench/hub/grid_bench.
//
//   queue_churn URLS WAITERS LABELS GRANTS ROUNDS SECONDS
//
// URLS is a comma-separated list of hub base URLs. The grid must offer one free unit per label
// `q0` .. `q<LABELS-1>` (a node slot with that label and maxSessions 1, browserName qbrowser).
// The program occupies every label's unit, queues WAITERS held `POST /session` requests over
// the labels (request i: label i % LABELS, hub i % hubs), waits until the grid's `queueSize`
// says all are queued and prints how long that took. Then ROUNDS rounds of at most GRANTS
// grants and SECONDS seconds each: a grant ends the session of a random label that has waiters
// (`DELETE`, through the next hub in turn), waits for that label's oldest waiter to receive its
// session, keeps that session as the label's new occupant and queues one more waiter for the
// label, so the depth stays WAITERS. Each round prints the time from sending the DELETE to the
// grant's answer (p50, p90) and the rate.
//
// $CHURN_HOOK, when set, is run through the shell with the argument `begin<round>` before a
// round's first grant and `end<round>` after its last, so the caller can read CPU times and
// Redis counters over exactly the timed rounds.

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "transfer_loop.h"

namespace {

using Clock = std::chrono::steady_clock;
using gridhub::bench::TransferLoop;

constexpr uint64_t kDeleteTag = ~uint64_t{0};

std::vector<std::string> SplitUrls(const std::string& list) {
  std::vector<std::string> urls;
  std::stringstream in(list);
  for (std::string url; std::getline(in, url, ',');) {
    if (!url.empty()) urls.push_back(url);
  }
  return urls;
}

std::string Caps(size_t label) {
  return R"({"capabilities":{"alwaysMatch":{"browserName":"qbrowser","gridhub:label":"q)" +
         std::to_string(label) + R"("}}})";
}

std::string JsonField(const std::string& body, const std::string& key) {
  const std::string quoted = "\"" + key + "\":";
  size_t at = body.find(quoted);
  if (at == std::string::npos) return "";
  at += quoted.size();
  if (body[at] == '"') return body.substr(at + 1, body.find('"', at + 1) - at - 1);
  return body.substr(at, body.find_first_of(",}", at) - at);
}

// One call on its own loop, waited for (bounded).
TransferLoop::Done CallOnce(const std::string& method, const std::string& url,
                            const std::string& body) {
  TransferLoop loop;
  loop.Add(method, url, body, 0);
  for (int i = 0; i < 60; ++i) {
    std::vector<TransferLoop::Done> done = loop.Wait(1000);
    if (!done.empty()) return done.front();
  }
  return {};
}

bool WaitQueued(TransferLoop& loop, const std::string& url, size_t waiters) {
  auto give_up = Clock::now() + std::chrono::seconds(120);
  std::string queued;
  while (Clock::now() < give_up) {
    for (const TransferLoop::Done& d : loop.Wait(100)) {
      std::fprintf(stderr, "a waiter left early: status %ld %s\n", d.status, d.body.c_str());
      return false;
    }
    TransferLoop::Done status = CallOnce("GET", url + "/status", "");
    queued = JsonField(status.body, "queueSize");
    if (queued == std::to_string(waiters)) return true;
  }
  std::fprintf(stderr, "the queue never reached %zu waiters (%s)\n", waiters, queued.c_str());
  return false;
}

void RunHook(const char* phase) {
  const char* hook = std::getenv("CHURN_HOOK");
  if (hook == nullptr) return;
  if (std::system((std::string(hook) + " " + phase).c_str()) != 0) {
    std::fprintf(stderr, "CHURN_HOOK %s failed\n", phase);
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// Ends `label`'s session and waits for its next waiter's grant; returns the µs it took, or a
// negative number (after saying why) when something other than that grant finished.
double GrantOne(TransferLoop& loop, const std::string& url, size_t label,
                std::vector<std::string>& occupant) {
  auto begin = Clock::now();
  loop.Add("DELETE", url + "/session/" + occupant[label], "", kDeleteTag);
  bool deleted = false;
  bool granted = false;
  auto give_up = begin + std::chrono::seconds(30);
  while (!(deleted && granted) && Clock::now() < give_up) {
    for (TransferLoop::Done& d : loop.Wait(1000)) {
      bool ok = d.status == 200 && (d.tag == kDeleteTag || d.tag == label);
      if (!ok) {
        std::fprintf(stderr, "unexpected: tag %llu status %ld %s\n",
                     static_cast<unsigned long long>(d.tag), d.status, d.body.c_str());
        return -1;
      }
      if (d.tag == kDeleteTag) deleted = true;
      if (d.tag == label) {
        granted = true;
        occupant[label] = JsonField(d.body, "sessionId");
      }
    }
  }
  if (!(deleted && granted)) {
    std::fprintf(stderr, "q%zu: no %s within 30 s\n", label, deleted ? "grant" : "DELETE answer");
    return -1;
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - begin).count();
}

bool Occupy(const std::vector<std::string>& urls, std::vector<std::string>& occupant) {
  for (size_t l = 0; l < occupant.size(); ++l) {
    TransferLoop::Done d = CallOnce("POST", urls[l % urls.size()] + "/session", Caps(l));
    occupant[l] = JsonField(d.body, "sessionId");
    if (d.status != 200 || occupant[l].empty()) {
      std::fprintf(stderr, "occupying q%zu: status %ld %s\n", l, d.status, d.body.c_str());
      return false;
    }
  }
  return true;
}

struct Plan {
  std::vector<std::string> urls;
  size_t waiters = 0;
  size_t labels = 0;
  size_t grants = 0;  // per round, at most
  size_t rounds = 1;
  double seconds = 0;  // per round, at most (0: no bound)
};

// One timed round of grants; prints its line. False when a grant went wrong.
bool Round(const Plan& plan, size_t round, TransferLoop& loop, std::mt19937& random,
           std::vector<std::string>& occupant) {
  RunHook(("begin" + std::to_string(round)).c_str());
  std::vector<double> micros;
  auto start = Clock::now();
  auto stop = start + std::chrono::duration<double>(plan.seconds);
  for (size_t g = 0; g < plan.grants && (plan.seconds <= 0 || Clock::now() < stop); ++g) {
    size_t label = random() % std::min(plan.labels, plan.waiters);  // a label with waiters
    const std::string& url = plan.urls[g % plan.urls.size()];
    double took = GrantOne(loop, url, label, occupant);
    if (took < 0) return false;
    micros.push_back(took);
    loop.Add("POST", url + "/session", Caps(label), label);
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  RunHook(("end" + std::to_string(round)).c_str());
  std::printf(
      "churn hubs=%zu waiters=%zu labels=%zu round=%zu grants=%zu rate=%.1f/s p50=%.0fus "
      "p90=%.0fus\n",
      plan.urls.size(), plan.waiters, plan.labels, round, micros.size(), micros.size() / elapsed,
      Percentile(micros, 0.5), Percentile(micros, 0.9));
  std::fflush(stdout);
  return true;
}

int Churn(const Plan& plan) {
  std::vector<std::string> occupant(plan.labels);
  if (!Occupy(plan.urls, occupant)) return 1;
  TransferLoop loop;
  auto begin = Clock::now();
  for (size_t i = 0; i < plan.waiters; ++i) {
    loop.Add("POST", plan.urls[i % plan.urls.size()] + "/session", Caps(i % plan.labels),
             i % plan.labels);
  }
  if (!WaitQueued(loop, plan.urls.front(), plan.waiters)) return 1;
  std::printf("queued waiters=%zu in=%.1fs\n", plan.waiters,
              std::chrono::duration<double>(Clock::now() - begin).count());
  std::fflush(stdout);
  std::mt19937 random(13);
  for (size_t r = 1; r <= plan.rounds; ++r) {
    if (!Round(plan, r, loop, random, occupant)) return 1;
  }
  // Nothing is cleaned up: the caller stops the hubs (withdrawing 10,000 waiters one by one
  // would keep them busy long after this program ended).
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (argc != 7) {
    std::fprintf(stderr, "usage: queue_churn URLS WAITERS LABELS GRANTS ROUNDS SECONDS\n");
    return 2;
  }
  Plan plan{.urls = SplitUrls(argv[1]),
            .waiters = std::strtoul(argv[2], nullptr, 10),
            .labels = std::strtoul(argv[3], nullptr, 10),
            .grants = std::strtoul(argv[4], nullptr, 10),
            .rounds = std::strtoul(argv[5], nullptr, 10),
            .seconds = std::atof(argv[6])};
  if (plan.urls.empty() || plan.labels == 0 || plan.grants == 0 || plan.waiters == 0) {
    std::fprintf(stderr, "queue_churn: need hub URLs, WAITERS, LABELS and GRANTS > 0\n");
    return 2;
  }
  return Churn(plan);
}
