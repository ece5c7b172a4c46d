#pragma once

// The node agent's log: one line on stderr, prefixed "gridhub node: ". Thread-safe (one
// fprintf per line).
//
//   NodeLog("session " + id.str() + " started");

#include <string>

namespace gridhub::node {

void NodeLog(const std::string& line);

}  // namespace gridhub::node
