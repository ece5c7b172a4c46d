#include "hub/peer_forwarder.h"

#include <array>
#include <utility>

#include "http/w3c_error.h"

namespace gridhub::hub {

namespace {

// RFC 9110 §7.6.1 hop-by-hop fields, plus what the transport computes itself.
bool HopByHop(std::string_view name) {
  constexpr std::array<std::string_view, 9> kNames = {
      "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "TE", "Trailer", "Content-Length",
      "Expect",     "Host"};
  for (std::string_view hop : kNames) {
    if (http::EqualsIgnoreCase(name, hop)) return true;
  }
  return name.size() >= 6 && http::EqualsIgnoreCase(name.substr(0, 6), "Proxy-");
}

// Fields the request's own Connection header names are hop-by-hop too.
bool NamedByConnection(const http::Headers& headers, std::string_view name) {
  std::string_view connection = http::FindHeader(headers, "Connection");
  return !connection.empty() && http::ListHasToken(connection, name);
}

}  // namespace

PeerForwarder::PeerForwarder(http::HttpClient& client, std::string self_id,
                             std::function<std::string()> secret)
    : client_(client), self_id_(std::move(self_id)), secret_(std::move(secret)) {}

http::Headers PeerForwarder::OutboundHeaders(const http::ServerRequest& request) {
  http::Headers out;
  std::string forwarded_for;
  for (const auto& [name, value] : StripPeerHeaders(request.headers)) {
    if (HopByHop(name) || NamedByConnection(request.headers, name)) continue;
    if (http::EqualsIgnoreCase(name, "X-Forwarded-Host")) continue;  // ours replaces it
    if (http::EqualsIgnoreCase(name, "X-Forwarded-For")) {
      forwarded_for = value;
      continue;
    }
    out.emplace_back(name, value);
  }
  std::string_view host = request.Header("Host");
  if (!host.empty()) out.emplace_back("X-Forwarded-Host", std::string(host));
  if (!request.peer_address.empty()) {
    if (!forwarded_for.empty()) forwarded_for += ", ";
    forwarded_for += request.peer_address;
  }
  if (!forwarded_for.empty()) out.emplace_back("X-Forwarded-For", forwarded_for);
  return out;
}

http::Headers PeerForwarder::RelayedHeaders(const http::Headers& leader_headers) {
  http::Headers out;
  for (const auto& [name, value] : leader_headers) {
    if (HopByHop(name) || NamedByConnection(leader_headers, name) || IsPeerHeader(name) ||
        http::EqualsIgnoreCase(name, "Content-Type")) {
      continue;
    }
    out.emplace_back(name, value);
  }
  return out;
}

bool PeerForwarder::LeaderLost(const http::ClientResponse& response) {
  if (!response.transport_ok()) return !response.body_too_large;
  return response.status == 503 && http::FindHeader(response.headers, kNotLeaderHeader) == "1";
}

void PeerForwarder::Forward(const http::ServerRequest& request, const cluster::PeerHub& leader,
                            PeerCall call, http::Responder responder, Done done) {
  http::Headers headers = OutboundHeaders(request);
  call.caller.hub_id = self_id_;
  AddPeerHeaders(headers, call.caller, secret_());
  http::ClientRequest outbound{.method = request.method,
                               .url = leader.url + request.path + request.query,
                               .headers = std::move(headers),
                               .body = request.body,
                               .timeout = call.timeout,
                               .max_response_body = call.max_response_body,
                               .cancel = call.cancel};
  client_.Send(std::move(outbound),
               [this, leader, call = std::move(call), responder = std::move(responder),
                done = std::move(done)](http::ClientResponse response) mutable {
                 Answer(leader, call, std::move(response), std::move(responder), done);
               });
}

void PeerForwarder::Answer(const cluster::PeerHub& leader, const PeerCall& call,
                           http::ClientResponse response, http::Responder responder,
                           const Done& done) const {
  if (LeaderLost(response) && call.resubmit_on_loss && responder.PeerConnected()) {
    if (done) done(ForwardOutcome::kLeaderLost, std::move(responder));
    return;
  }
  bool sent = false;
  ForwardOutcome outcome = ForwardOutcome::kRelayed;
  if (response.body_too_large) {
    sent = responder.Send(503, http::W3CErrorBody({ErrorCode::kUnavailable,
                                                   "dispatcher hub " + leader.id +
                                                       " answered more than server.max-body"}));
    outcome = ForwardOutcome::kFailed;
  } else if (LeaderLost(response)) {
    std::string why = response.transport_ok() ? "it is not the leader" : response.error;
    sent = responder.Send(
        503,
        http::W3CErrorBody({ErrorCode::kUnavailable,
                            "no dispatcher hub: " + leader.id + " at " + leader.url + ": " + why}),
        {{"Retry-After", "1"}});
    outcome = ForwardOutcome::kFailed;
  } else {
    std::string content_type(http::FindHeader(response.headers, "Content-Type"));
    const bool success = response.status >= 200 && response.status < 300;
    std::string kept = success && call.undelivered ? response.body : std::string();
    sent = responder.Send(response.status, std::move(response.body),
                          RelayedHeaders(response.headers), content_type);
    if (!sent && success && call.undelivered) call.undelivered(kept);
  }
  if (!sent) outcome = ForwardOutcome::kClientGone;
  if (done) done(outcome, std::move(responder));
}

}  // namespace gridhub::hub
