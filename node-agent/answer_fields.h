#pragma once

// Reading answers the node does not trust to have the types they should (drivers, relays, the
// hub): a member is used only when it has the expected type. Pure.
//
//   const nlohmann::json* value = W3CValue(answer);             // {"value": {...}} or nullptr
//   std::string id = value ? StringMember(*value, "sessionId") : "";

#include <nlohmann/json.hpp>
#include <string>

#include "http/http_client.h"

namespace gridhub::node {

// Member `key` of `object` when it is a string, else "".
std::string StringMember(const nlohmann::json& object, const char* key);

// The object under "value" of a W3C answer, or nullptr.
const nlohmann::json* W3CValue(const nlohmann::json& answer);

// One line about a failed call: the transport error, or the status and the start of the body.
std::string FailureText(const http::ClientResponse& answer);

}  // namespace gridhub::node
