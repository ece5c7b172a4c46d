#include "node-agent/retry_report.h"

#include <algorithm>
#include <cstdio>

namespace gridhub::node {

std::string ShortSeconds(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  char text[32];
  if (ms % 1000 == 0) {
    std::snprintf(text, sizeof(text), "%llds", static_cast<long long>(ms / 1000));
  } else {
    std::snprintf(text, sizeof(text), "%gs", static_cast<double>(ms) / 1000.0);
  }
  return text;
}

namespace {

// What counts as "the same error again": numbers vary between identical failures ("after 0 ms",
// "after 5001 milliseconds", a timestamp in a body), an HTTP status does not.
std::string Kind(const std::string& error) {
  size_t keep = error.starts_with("HTTP ") ? std::min<size_t>(error.size(), 8) : 0;
  std::string kind = error.substr(0, keep);
  bool in_number = false;
  for (size_t i = keep; i < error.size(); ++i) {
    bool digit = error[i] >= '0' && error[i] <= '9';
    if (digit && !in_number) kind += '#';
    if (!digit) kind += error[i];
    in_number = digit;
  }
  return kind;
}

}  // namespace

std::optional<std::string> RetryReport::Failed(SteadyTime now, const std::string& error,
                                               Duration next) {
  ++failures_;
  // An error seen before in this run is no news even when two kinds alternate (a peer that
  // closes the connection gives "Empty reply" and "Connection reset" by turns).
  bool news = seen_kinds_.size() < kMaxKinds && seen_kinds_.insert(Kind(error)).second;
  if (!news && last_logged_ && now - *last_logged_ < quiet_) return std::nullopt;
  last_logged_ = now;
  return what_ + " failed (" + error + "); attempt " + std::to_string(failures_) +
         ", retrying in " + ShortSeconds(next);
}

std::optional<std::string> RetryReport::Succeeded() {
  int failures = failures_;
  failures_ = 0;
  seen_kinds_.clear();
  last_logged_.reset();
  if (failures == 0) return std::nullopt;
  return what_ + " ok after " + std::to_string(failures + 1) + " attempts";
}

}  // namespace gridhub::node
