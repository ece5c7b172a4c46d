// HubService: the operator's console (DESIGN 4c, docs/console.md) — its static files, built
// into the binary by console/, and the redirect of a browser's GET / to them.

#include <string>
#include <string_view>

#include "console/assets.h"
#include "http/http_types.h"
#include "http/w3c_error.h"
#include "hub/hub_service.h"
#include "hub/request_path.h"
#include "hub/router.h"

namespace gridhub::hub {

namespace {

// The page has no inline script or style and loads nothing from elsewhere, so the strictest
// policy fits; DENY framing keeps an admin's clicks from being borrowed by another page.
http::Headers StaticHeaders() {
  return {{"Content-Security-Policy", "default-src 'self'"},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Cache-Control", "no-cache"}};
}

bool WantsHtml(std::string_view accept) {
  for (size_t at = 0; at + 9 <= accept.size(); ++at) {
    if (http::EqualsIgnoreCase(accept.substr(at, 9), "text/html")) return true;
  }
  return false;
}

void SendUnknown(http::Responder& responder, const http::ServerRequest& request) {
  const Error error = UnknownCommand(request.method, request.path);
  responder.Send(http::HttpStatus(error.code), http::W3CErrorBody(error));
}

void Redirect(http::Responder& responder, std::string location) {
  http::Headers headers = StaticHeaders();
  headers.emplace_back("Location", std::move(location));
  responder.Send(302, "", headers, "");
}

}  // namespace

void HubService::AddConsoleRoutes() {
  // A browser opening the hub's address lands on the console; every other client (a WebDriver
  // binding probing /, a script) still hears what / answered before there was a console.
  routes_.Add({"GET", "HEAD"}, "/", Access::kOpen, [](const Call& call) {
    if (!WantsHtml(call.request.Header("Accept"))) return SendUnknown(call.responder, call.request);
    Redirect(call.responder, "/ui/");
  });
  // Static files are open: they hold no grid data (the page reads /ui/api/state, which is
  // guarded by what the caller shows).
  routes_.Add({"GET", "HEAD"}, "/ui/**", Access::kOpen,
              [](const Call& call) { ServeConsoleFile(call); });
}

void HubService::ServeConsoleFile(const Call& call) {
  const std::vector<std::string_view>& segments = call.match.segments;
  if (segments.size() == 1) {
    // "/ui" must become "/ui/": the page's relative links (console.js, console.css) resolve
    // against the address bar.
    if (!call.request.path.ends_with('/')) {
      return Redirect(call.responder, "/ui/" + call.request.query);
    }
  }
  const std::string path =
      segments.size() == 1 ? "index.html" : JoinSegments(segments, 1).substr(1);
  const console::Asset* asset = console::FindAsset(path);
  if (asset == nullptr) return SendUnknown(call.responder, call.request);
  call.responder.Send(200, std::string(asset->bytes), StaticHeaders(), asset->content_type);
}

}  // namespace gridhub::hub
