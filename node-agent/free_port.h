#pragma once

// Finds a TCP port on 127.0.0.1 that is free right now, for a driver's --port=N.
//
//   Result<uint16_t> port = PickFreeLoopbackPort();
//
// The kernel picks it (bind to port 0) and the socket is closed again, so another process could
// take it before the driver binds; the node then sees the driver fail to become ready and the
// session creation fails cleanly rather than talking to a stranger (the ready check also
// requires a W3C /status answer).

#include <cstdint>

#include "common/result.h"

namespace gridhub::node {

Result<uint16_t> PickFreeLoopbackPort();

}  // namespace gridhub::node
