// libFuzzer target over the pure parts of a tunnel's handshake (tunnel/handshake.h): the input
// is split at its first NUL into an upstream's answer (untrusted: a node or driver) and the
// header lines of a client's upgrade request ("name: value" per line). The answer's head must
// parse within its bytes, the failure answer naming it must be a well-formed HTTP answer with
// a W3C body, and the head built for the upstream must be one head: a request line, header
// lines, one blank line at its very end, no bare CR, LF or NUL whatever the client sent.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_support.h"
#include "tunnel/handshake.h"
#include "tunnel/tunnel_pump.h"

namespace gridhub::tunnel {
namespace {

using fuzz::Require;

void CheckAnswer(std::string_view answer) {
  const AnswerHead head = ParseAnswerHead(answer);
  Require(!head.complete || (head.head_size >= 4 && head.head_size <= answer.size()));
  Require(!head.valid || (head.status >= 0 && head.status <= 999));
  for (char c : head.status_line) Require(c >= 0x20 && c != 0x7f);
  const std::string failure = FailureAnswer(502, "upstream refused: " + head.status_line);
  const size_t end = failure.find("\r\n\r\n");
  Require(end != std::string::npos && failure.rfind("HTTP/1.1 502 ", 0) == 0);
  const std::string body = failure.substr(end + 4);
  Require(failure.find("Content-Length: " + std::to_string(body.size()) + "\r\n") < end);
  Require(!nlohmann::json::parse(body, nullptr, false).is_discarded());
}

http::Headers HeadersOf(std::string_view lines) {
  http::Headers headers;
  while (!lines.empty()) {
    const size_t newline = lines.find('\n');
    std::string_view line = lines.substr(0, newline);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    if (newline == std::string_view::npos) break;
    lines.remove_prefix(newline + 1);
  }
  return headers;
}

void CheckRequestHead(const http::Headers& headers, std::string_view target) {
  IsWebSocketUpgrade(headers);  // must not crash
  const std::string head =
      UpgradeRequestHead(headers, target, "127.0.0.1:4444", {{"X-Registration-Secret", "s"}});
  Require(head.rfind("GET ", 0) == 0);
  Require(head.size() >= 4 && head.find("\r\n\r\n") == head.size() - 4);
  for (size_t i = 0; i < head.size(); ++i) {
    Require(head[i] != '\0');
    if (head[i] == '\r') Require(i + 1 < head.size() && head[i + 1] == '\n');
    if (head[i] == '\n') Require(i > 0 && head[i - 1] == '\r');
  }
  // The request line is one line with exactly two spaces: the target cannot add words.
  const std::string_view line = std::string_view(head).substr(0, head.find("\r\n"));
  size_t spaces = 0;
  for (char c : line) spaces += c == ' ';
  Require(spaces == 2);
  Require(head.find("\r\nX-Registration-Secret: s\r\n") != std::string::npos);
}

}  // namespace
}  // namespace gridhub::tunnel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = gridhub::fuzz::AsText(data, size);
  const size_t split = input.find('\0');
  const std::string_view answer = input.substr(0, split);
  const std::string_view client =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  gridhub::tunnel::CheckAnswer(answer);
  gridhub::tunnel::CheckRequestHead(gridhub::tunnel::HeadersOf(client), answer.substr(0, 64));
  return 0;
}
