// libFuzzer target over the configuration value parsers (config/values.h) that YAML, the
// environment, flags and PUT /admin/config share: durations, sizes, integers, booleans, URLs,
// concurrency caps and slot lists. Each must refuse with a reason or give a value that prints
// and parses back to itself.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/settings.h"
#include "config/values.h"
#include "http/json_body.h"
#include "tests/fuzz/fuzz_support.h"

namespace gridhub::config {
namespace {

using fuzz::Require;
using nlohmann::json;

void CheckDuration(std::string_view text) {
  Result<Duration> d = detail::DurationFromText(text);
  if (!d.ok()) {
    Require(!d.error().message.empty());
    return;
  }
  Require(d->count() >= 0);
  Result<Duration> again = detail::DurationFromText(FormatDuration(*d));
  Require(again.ok() && *again == *d);
}

void CheckScalars(std::string_view text) {
  Result<int64_t> n = detail::IntFromText(text);
  if (n.ok()) {
    Result<int64_t> again = detail::IntFromText(std::to_string(*n));
    Require(again.ok() && *again == *n);
  }
  Result<size_t> size = detail::SizeFromText(text);
  if (size.ok()) {
    Result<size_t> again = detail::SizeFromText(std::to_string(*size));
    Require(again.ok() && *again == *size);
  }
  detail::BoolFromText(text);
  detail::Trim(text);
}

void CheckUrl(std::string_view text) {
  std::optional<std::string> problem = detail::HttpUrlProblem(text);
  Require(detail::IsHttpUrl(text) == !problem.has_value());
  if (problem) {
    Require(!problem->empty());
  } else {
    Require(text.starts_with("http://") || text.starts_with("https://"));
  }
}

// Structured values, as PUT /admin/config and YAML give them.
void CheckJson(std::string_view text) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) value = json(std::string(text));  // a plain string value
  // Bodies reach these parsers through ParseJsonBody, which bounds the nesting.
  if (!http::JsonDepthWithin(value, http::kMaxJsonDepth)) return;
  detail::ScalarText(value);
  detail::KindName(value);
  detail::CapsFromJson(value);
  detail::SlotsFromJson(value);
}

}  // namespace
}  // namespace gridhub::config

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub::config;  // NOLINT: fuzz entry point
  std::string_view text = gridhub::fuzz::AsText(data, size);
  CheckDuration(text);
  CheckScalars(text);
  CheckUrl(text);
  CheckJson(text);
  return 0;
}
