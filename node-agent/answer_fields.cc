#include "node-agent/answer_fields.h"

namespace gridhub::node {

using nlohmann::json;

std::string StringMember(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json* W3CValue(const json& answer) {
  if (!answer.is_object()) return nullptr;
  auto it = answer.find("value");
  return it != answer.end() && it->is_object() ? &*it : nullptr;
}

std::string FailureText(const http::ClientResponse& answer) {
  if (!answer.transport_ok()) return answer.error;
  std::string text = "HTTP " + std::to_string(answer.status);
  if (!answer.body.empty()) text += " " + answer.body.substr(0, 300);
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace gridhub::node
