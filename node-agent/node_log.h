#pragma once

// The node agent's log lines: common/log.h with the node's id on every line, and the session's
// when the line is about one. Thread-safe (log::Write is).
//
//   NodeLog(log::Level::kInfo, "node.session_started", node_id, "session " + id + " started",
//           {.session_id = id});

#include <string_view>

#include "common/log.h"

namespace gridhub::node {

void NodeLog(log::Level level, std::string_view event, std::string_view node_id,
             std::string_view message, log::Fields fields = {});

}  // namespace gridhub::node
