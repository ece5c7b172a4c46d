#pragma once

// Small helpers shared by the fuzz targets (tests/fuzz/*_fuzzer.cc).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace gridhub::fuzz {

// An invariant that must hold for any input; aborting makes libFuzzer keep the input.
inline void Require(bool condition) {
  if (!condition) std::abort();
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// What the hub does with a JSON value it answers with (invalid UTF-8 is replaced, never
// thrown about).
inline std::string Dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gridhub::fuzz
