#include "node-agent/node_log.h"

namespace gridhub::node {

void NodeLog(log::Level level, std::string_view event, std::string_view node_id,
             std::string_view message, log::Fields fields) {
  fields.node_id = node_id;
  log::Write(level, event, message, fields);
}

}  // namespace gridhub::node
