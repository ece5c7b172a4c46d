// libFuzzer target over the WebSocket URLs the hub hands out (hub/public_url.h,
// hub/socket_answer.h) and the session events it answers (hub/session_event.h). The input is
// newline-separated: hub.public-url, se:remoteUrl, Forwarded, X-Forwarded-Proto, -Host, -Port,
// -Prefix, Host, a flags line (trust-forwarded, /wd/hub, bare node), then a node's new-session
// answer (JSON) that is also tried as a /se/event body. Links only the pure gridhub::hub_input.
// Whatever the headers say, a chosen base is ws(s)://authority[/path] without a byte a URL may
// not carry, and after the rewrite the answer's socket URLs are the hub's or absent.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/json_body.h"
#include "hub/public_url.h"
#include "hub/session_event.h"
#include "hub/socket_answer.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

bool UrlSafe(std::string_view text) {
  for (char c : text) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '{' ||
        c == '}' || c == '?' || c == '#') {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gridhub;        // NOLINT: fuzz entry point
  using namespace gridhub::fuzz;  // NOLINT
  std::string_view text = AsText(data, size);
  std::vector<std::string_view> fields;
  while (fields.size() < 9) {
    const size_t end = text.find('\n');
    fields.push_back(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  const std::string_view flags = fields[8];
  hub::PublicUrlSources in{.configured = fields[0],
                           .remote_url = fields[1],
                           .trust_forwarded = flags.find('t') != std::string_view::npos,
                           .forwarded = fields[2],
                           .x_forwarded_proto = fields[3],
                           .x_forwarded_host = fields[4],
                           .x_forwarded_port = fields[5],
                           .x_forwarded_prefix = fields[6],
                           .host = fields[7],
                           .legacy = flags.find('l') != std::string_view::npos};
  std::optional<hub::PublicBase> base = hub::ChoosePublicBase(in);
  std::string base_text;
  if (base.has_value()) {
    base_text = base->str();
    Require(base_text.starts_with("ws://") || base_text.starts_with("wss://"));
    Require(UrlSafe(base_text));
    Require(!base_text.ends_with("/"));
  }
  Result<nlohmann::json> body = http::ParseJsonBody(text);
  if (!body.ok()) return 0;
  (void)hub::ParseSessionEvent(*body);
  const SessionId id("s1");
  Result<hub::NodeUri> node = hub::ParseNodeUri("http://127.0.0.1:5555");
  hub::SocketOffer offer =
      hub::RewriteSocketUrls(*body, id,
                             {.public_base = base_text,
                              .bare_node = flags.find('b') != std::string_view::npos,
                              .node_uri = &*node});
  const nlohmann::json* caps = hub::AnswerCapabilities(*body);
  if (caps != nullptr) {
    for (const char* key : {"webSocketUrl", "se:cdp"}) {
      auto it = caps->find(key);
      if (it == caps->end()) continue;
      Require(it->is_string() && !base_text.empty());
      Require(it->get<std::string>().starts_with(base_text + "/session/s1/se/"));
    }
    Require(offer.bidi == caps->contains("webSocketUrl"));
  }
  Dump(*body);
  return 0;
}
