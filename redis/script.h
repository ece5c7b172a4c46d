#pragma once

// A Lua script for RedisConnection::Eval, with its SHA1 computed once at construction, so each
// call sends EVALSHA and the 40-byte digest instead of the whole text. Redis forgets scripts
// on SCRIPT FLUSH and on a restart; Eval then sends the text once (EVAL) and carries on.
//
//   static const Script kRenew("if redis.call('GET', KEYS[1]) == ARGV[1] then ... end");
//   Result<Reply> r = connection.Eval(kRenew, {key}, {owner, ttl_ms});
//
// Immutable after construction; safe to share between threads.

#include <string>
#include <string_view>

namespace gridhub::redis {

class Script {
 public:
  explicit Script(std::string text);

  const std::string& text() const { return text_; }
  // Lower-case hex SHA1 of text(), as Redis names the script.
  const std::string& sha1() const { return sha1_; }

 private:
  std::string text_;
  std::string sha1_;
};

// FIPS 180-4 SHA1 in lower-case hex. Redis names scripts by it; not used for security.
std::string Sha1Hex(std::string_view data);

}  // namespace gridhub::redis
