#pragma once

// A node's answer to POST {node}/session, classified before the Grid's lock is taken (the body
// is untrusted: a node is not fully trusted), so that Grid::OnCreateResult only decides.
//
//   CreateAnswer answer = ClassifyCreateAnswer(response.status, response.transport_ok(),
//                                              response.error, response.body);
//   if (answer.session_id) ...              // created: answer.body is the W3C answer
//   else log(answer.failure);               // "HTTP 500: driver crashed", "no answer: ..."
//
// Pure: thread-compatible, no I/O. The one check that needs the Grid's state — a session id
// that is already live — stays in the Grid.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/strong_id.h"
#include "hub/socket_answer.h"

namespace gridhub::hub {

struct CreateAnswer {
  // The new session's id: set only for a 2xx answer naming a session id the hub can route
  // (IsValidSessionId, request_path.h).
  std::optional<SessionId> session_id;
  // A 2xx answer's body as parsed, nothing added (null when it was not JSON, and for any
  // other status).
  nlohmann::json body;
  // The node did not answer at all (refused, timed out, reset).
  bool unreachable = false;
  // Why no session was created, short enough for a client's error message; "" when
  // session_id is set.
  std::string failure;
  // What the answer offers over WebSockets once RewriteSocketUrls (socket_answer.h) has
  // rewritten `body`; the Grid keeps it with the session.
  SocketOffer sockets;
};

// `status` is 0 when `transport_ok` is false; `error` then says why.
CreateAnswer ClassifyCreateAnswer(int status, bool transport_ok, std::string_view error,
                                  std::string_view body);

}  // namespace gridhub::hub
