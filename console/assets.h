#pragma once

// The console's static files (console/assets/), compiled into the binary so that /ui works on
// a machine without internet or a share of files. Looked up by their path under assets/.
//
//   if (const console::Asset* asset = console::FindAsset("console.js")) {
//     responder.Send(200, std::string(asset->bytes), {}, asset->content_type);
//   }
//
// Thread-safe: the table is constant.

#include <string_view>
#include <vector>

namespace gridhub::console {

struct Asset {
  std::string_view path;          // "index.html", "img/logo.svg"
  std::string_view bytes;         // the file as it was at build time
  std::string_view content_type;  // from the extension; "application/octet-stream" if unknown
};

// The asset at `path` (relative, no leading '/'), or null. A path with an empty, "." or ".."
// segment or a backslash names nothing, whatever is embedded.
const Asset* FindAsset(std::string_view path);

// Every embedded asset, by path.
const std::vector<Asset>& AllAssets();

// The Content-Type for a file name by its extension (html, css, js/mjs, json, svg, png, ico,
// woff2, txt, map); text types carry "; charset=utf-8".
std::string_view ContentTypeFor(std::string_view path);

}  // namespace gridhub::console
