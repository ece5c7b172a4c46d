#include "hub/peer_headers.h"

#include <charconv>

#include "common/ids.h"

namespace gridhub::hub {

std::string_view AccessWireName(Access access) {
  switch (access) {
    case Access::kOpen:
      return "open";
    case Access::kClient:
    case Access::kClientOrNode:
      return "client";
    case Access::kAdmin:
      return "admin";
    case Access::kNode:
    case Access::kNodeDrain:
      return "node";
  }
  return "open";
}

std::optional<Access> AccessFromWire(std::string_view text) {
  if (text == "open") return Access::kOpen;
  if (text == "client") return Access::kClient;
  if (text == "admin") return Access::kAdmin;
  if (text == "node") return Access::kNode;
  return std::nullopt;
}

bool IsPeerHeader(std::string_view name) {
  constexpr std::string_view kPrefix = "X-Gridhub-";
  return name.size() >= kPrefix.size() &&
         http::EqualsIgnoreCase(name.substr(0, kPrefix.size()), kPrefix);
}

http::Headers StripPeerHeaders(const http::Headers& headers) {
  http::Headers kept;
  kept.reserve(headers.size());
  for (const auto& header : headers) {
    if (!IsPeerHeader(header.first)) kept.push_back(header);
  }
  return kept;
}

void AddPeerHeaders(http::Headers& headers, const PeerCaller& caller, std::string_view secret) {
  headers.emplace_back(kPeerHeader, caller.hub_id);
  headers.emplace_back(kPeerSecretHeader, std::string(secret));
  headers.emplace_back(kPeerAccessHeader, std::string(AccessWireName(caller.access)));
  headers.emplace_back(kPeerExposureHeader, caller.exposure == Exposure::kFull ? "full" : "counts");
  // A value that would split the head is dropped rather than sent (the leader then builds
  // the URLs from its own view).
  if (!caller.public_base.empty() && http::SafeForWire(caller.public_base)) {
    headers.emplace_back(kPeerPublicBaseHeader, caller.public_base);
  }
  if (caller.order.has_value()) {
    headers.emplace_back(kPeerOrderHeader, std::to_string(*caller.order));
  }
}

namespace {

std::optional<uint64_t> ParseOrder(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<PeerCaller> ReadPeerHeaders(const http::ServerRequest& request,
                                          std::string_view secret) {
  std::string_view hub_id = request.Header(kPeerHeader);
  if (hub_id.empty() || secret.empty()) return std::nullopt;
  // Evaluated whatever the hub id: the comparison's time says nothing about the secret.
  if (!ConstantTimeEquals(request.Header(kPeerSecretHeader), secret)) return std::nullopt;
  std::optional<Access> access = AccessFromWire(request.Header(kPeerAccessHeader));
  if (!access.has_value()) return std::nullopt;
  PeerCaller caller;
  caller.hub_id = std::string(hub_id);
  caller.access = *access;
  caller.exposure =
      request.Header(kPeerExposureHeader) == "full" ? Exposure::kFull : Exposure::kCounts;
  caller.public_base = std::string(request.Header(kPeerPublicBaseHeader));
  std::string_view order = request.Header(kPeerOrderHeader);
  if (!order.empty()) {
    caller.order = ParseOrder(order);
    if (!caller.order.has_value()) return std::nullopt;
  }
  return caller;
}

}  // namespace gridhub::hub
