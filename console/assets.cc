#include "console/assets.h"

#include <algorithm>
#include <array>
#include <utility>

#include "console/assets_data.h"

namespace gridhub::console {

namespace {

bool SafePath(std::string_view path) {
  if (path.empty() || path.find('\\') != std::string_view::npos) return false;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view segment = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::vector<Asset> BuildTable() {
  std::vector<Asset> table;
  table.reserve(internal::kEmbeddedCount);
  for (size_t i = 0; i < internal::kEmbeddedCount; ++i) {
    const internal::EmbeddedFile& file = internal::kEmbedded[i];
    table.push_back({file.path, file.bytes, ContentTypeFor(file.path)});
  }
  std::sort(table.begin(), table.end(),
            [](const Asset& a, const Asset& b) { return a.path < b.path; });
  return table;
}

}  // namespace

std::string_view ContentTypeFor(std::string_view path) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (path.size() > extension.size() && path.ends_with(extension)) return type;
  }
  return "application/octet-stream";
}

const std::vector<Asset>& AllAssets() {
  static const std::vector<Asset> table = BuildTable();
  return table;
}

const Asset* FindAsset(std::string_view path) {
  if (!SafePath(path)) return nullptr;
  const std::vector<Asset>& table = AllAssets();
  auto it = std::lower_bound(table.begin(), table.end(), path,
                             [](const Asset& a, std::string_view p) { return a.path < p; });
  if (it == table.end() || it->path != path) return nullptr;
  return &*it;
}

}  // namespace gridhub::console
