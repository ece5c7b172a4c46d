#include "node-agent/node_log.h"

#include <cstdio>

namespace gridhub::node {

void NodeLog(const std::string& line) { std::fprintf(stderr, "gridhub node: %s\n", line.c_str()); }

}  // namespace gridhub::node
