#pragma once

// A non-leader hub's forwarding of dispatcher calls (new session, queue and tickets, /nodes,
// admin, /status, /graphql, /ui/api/state, DELETE /session/{id}) to the leader (DESIGN §8).
// The call goes out with the same method, path, query and body, the client's end-to-end
// headers (hop-by-hop ones, Host, Content-Length, Expect and any X-Gridhub-* the client sent
// are dropped; the client's Host travels as X-Forwarded-Host, its address is appended to
// X-Forwarded-For), and the peer headers (peer_headers.h). The leader's status, end-to-end
// headers and body are relayed to the client.
//
//   PeerForwarder forwarder(client, self.id, [&] { return state->PeerSecret(); });
//   forwarder.Forward(request, *state->Leader(),
//                     {.caller = {.access = Access::kClient, ...}, .resubmit_on_loss = true,
//                      .timeout = queue_timeout + margin},
//                     responder, [](ForwardOutcome outcome, http::Responder responder) {
//                       if (outcome == ForwardOutcome::kLeaderLost) hold(responder) ...
//                     });
//
// Thread-safe. `done` runs on the HTTP client's thread (must be quick, must not SendSync).
// HttpClient cannot cancel a transfer: a client that leaves while its call is forwarded only
// makes the relay fail (kClientGone) once the leader answers or the timeout passes.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "cluster/cluster_state.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "hub/peer_headers.h"

namespace gridhub::hub {

enum class ForwardOutcome {
  kRelayed,     // the leader's answer went to the client
  kClientGone,  // the leader answered but the client had left (nothing was sent)
  // The leader could not be reached or said it is not the leader, and the call asked to be
  // re-submitted: nothing was sent, the Responder handed to `done` is still unanswered.
  kLeaderLost,
  kFailed,  // the leader could not be reached; the client got 503 "no dispatcher hub"
};

struct PeerCall {
  // What this hub checked about the original caller; hub_id is filled in by the forwarder.
  PeerCaller caller;
  // POST /session: a lost leader is not answered but handed back (kLeaderLost).
  bool resubmit_on_loss = false;
  // Whole-transfer timeout; a held POST /session needs queue.timeout plus a margin
  // (HttpClient has no "no timeout").
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // Largest leader answer relayed (server.max-body); 0 = no limit.
  size_t max_response_body = 0;
  // Set to abandon the call (its client left): the connection to the leader closes, so the
  // leader withdraws the waiter it held for it (http_client.h). Null: never.
  std::shared_ptr<const std::atomic<bool>> cancel;
  // A 2xx answer the client could not be sent (it left just then) is handed here: for a new
  // session, the caller ends that session again through the leader.
  std::function<void(const std::string& body)> undelivered;
};

class PeerForwarder {
 public:
  using Done = std::function<void(ForwardOutcome outcome, http::Responder responder)>;

  // `client` must outlive the forwarder and every call in flight. `secret` is asked once
  // per call (the grid's peer secret, ClusterState::PeerSecret).
  PeerForwarder(http::HttpClient& client, std::string self_id, std::function<std::string()> secret);

  void Forward(const http::ServerRequest& request, const cluster::PeerHub& leader, PeerCall call,
               http::Responder responder, Done done);

  // The headers a forwarded call carries before the peer headers are added (pure).
  static http::Headers OutboundHeaders(const http::ServerRequest& request);
  // The leader's headers as relayed to the client: no hop-by-hop ones, no Content-Length or
  // Content-Type (the Responder writes them), no X-Gridhub-* (pure).
  static http::Headers RelayedHeaders(const http::Headers& leader_headers);
  // Whether the leader's answer says "not the leader, go elsewhere": status 0 (refused,
  // reset, timed out) or 503 with X-Gridhub-Not-Leader: 1.
  static bool LeaderLost(const http::ClientResponse& response);

 private:
  void Answer(const cluster::PeerHub& leader, const PeerCall& call, http::ClientResponse response,
              http::Responder responder, const Done& done) const;

  http::HttpClient& client_;
  const std::string self_id_;
  const std::function<std::string()> secret_;
};

}  // namespace gridhub::hub
