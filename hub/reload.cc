#include "hub/reload.h"

#include <nlohmann/json.hpp>
#include <string_view>

namespace gridhub::hub {

namespace {

// The hub keys that Reconfigure() makes effective at once. Any other hub key (one added later
// included) is reported as needing a restart until it is made live and listed here.
bool AppliedLive(const std::string& name) {
  if (name.rfind("queue.", 0) == 0 || name.rfind("matching.", 0) == 0) return true;
  // The process applies log.* itself (log::Configure) when it takes a reload.
  if (name.rfind("log.", 0) == 0) return true;
  for (std::string_view live :
       {"hub.admin-token", "hub.client-token", "hub.registration-secret", "hub.slot-selection",
        "hub.node-timeout", "hub.health-check-period"}) {
    if (name == live) return true;
  }
  return false;
}

}  // namespace

ReloadReport CompareSettings(const config::Settings& before, const config::Settings& after) {
  using nlohmann::json;
  const json old_values = config::ToJson(before, config::Tokens::kShow);
  const json new_values = config::ToJson(after, config::Tokens::kShow);
  ReloadReport report;
  for (const auto& [section, keys] : new_values.items()) {
    if (section == "node" || !keys.is_object()) continue;
    for (const auto& [key, value] : keys.items()) {
      const json* old_value = nullptr;
      if (old_values.contains(section) && old_values[section].contains(key)) {
        old_value = &old_values[section][key];
      }
      if (old_value != nullptr && *old_value == value) continue;
      std::string name = section + "." + key;
      (AppliedLive(name) ? report.applied : report.needs_restart).push_back(std::move(name));
    }
  }
  return report;
}

}  // namespace gridhub::hub
