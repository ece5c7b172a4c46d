#pragma once

// The pure parts of a tunnel's handshake: reading the upstream's answer head and the answer the
// pump gives the client itself when the upgrade fails. (UpgradeRequestHead and
// IsWebSocketUpgrade, declared in tunnel_pump.h, are defined in handshake.cc too.)
//
//   AnswerHead head = ParseAnswerHead(read_so_far);
//   if (head.complete && head.status == 101) relay(read_so_far);  // head and what follows
//   else if (head.complete) client_gets(FailureAnswer(502, "... " + head.status_line));

#include <cstddef>
#include <string>
#include <string_view>

namespace gridhub::tunnel {

// The upstream's answer head is read up to this size; a larger one fails the handshake.
inline constexpr size_t kMaxAnswerHead = size_t{16} << 10;

struct AnswerHead {
  bool complete = false;    // the blank line ending the head has arrived
  bool valid = false;       // the status line reads "HTTP/1.x NNN ..."
  int status = 0;           // 0 unless valid
  std::string status_line;  // as sent, without CRLF; control characters replaced by '?'
  size_t head_size = 0;     // bytes up to and including the blank line (when complete)
};

// Looks at the bytes read so far of an HTTP answer.
AnswerHead ParseAnswerHead(std::string_view bytes);

// A complete HTTP/1.1 answer: `status`, a W3C error body (`unknown error`, `message`),
// Content-Length and `Connection: close`.
std::string FailureAnswer(int status, std::string_view message);

}  // namespace gridhub::tunnel
