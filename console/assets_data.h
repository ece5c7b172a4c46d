#pragma once

// The embedded files as console/embed_assets.cmake generates them (console_assets_data.cc in
// the build folder). Private to console/: use assets.h.

#include <cstddef>
#include <string_view>

namespace gridhub::console::internal {

struct EmbeddedFile {
  std::string_view path;  // relative to console/assets/, '/'-separated
  std::string_view bytes;
};

// kEmbeddedCount entries, sorted by path, then one empty entry.
extern const EmbeddedFile kEmbedded[];
extern const size_t kEmbeddedCount;

}  // namespace gridhub::console::internal
