#include "hub/router.h"

#include <algorithm>

namespace gridhub::hub {

Error UnknownCommand(std::string_view method, std::string_view raw_path) {
  return {ErrorCode::kUnknownCommand,
          "no command at " + std::string(method) + " " + std::string(raw_path)};
}

Error UnknownMethod(std::string_view method, std::string_view raw_path) {
  return {ErrorCode::kUnknownMethod,
          std::string(method) + " is not allowed on " + std::string(raw_path)};
}

bool TakesMethod(const std::vector<std::string>& methods, std::string_view method) {
  auto named = [&](std::string_view m) {
    return std::find(methods.begin(), methods.end(), m) != methods.end();
  };
  // RFC 9110 §9.3.2: HEAD is GET without the body.
  return named(method) || (method == "HEAD" && named("GET"));
}

void AddAllowed(const std::vector<std::string>& methods, std::vector<std::string_view>* allowed) {
  for (const std::string& method : methods) {
    if (std::find(allowed->begin(), allowed->end(), method) == allowed->end()) {
      allowed->push_back(method);
    }
  }
}

std::string JoinMethods(const std::vector<std::string_view>& methods) {
  std::string out;
  for (std::string_view method : methods) {
    if (!out.empty()) out += ", ";
    out += method;
  }
  return out;
}

}  // namespace gridhub::hub
