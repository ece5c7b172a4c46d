#pragma once

// Where a Redis is and how to log in: `redis://[[user]:password@]host[:port][/db]`, parsed
// purely (no DNS, no I/O) so a bad `hub.state` is refused at config time with a reason.
//
//   Result<RedisUrl> url = RedisUrl::Parse("redis://:s3cret@10.0.0.5:6380/2");
//   if (!url.ok()) return url.error();  // "redis URL: port must be 1-65535, got 'x'"
//   log::Info("redis.url", url->Redacted());  // "redis://:<redacted>@10.0.0.5:6380/2"
//
// Neither an error message nor Redacted() ever contains the password. A value type; safe to
// copy between threads.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gridhub::redis {

struct RedisUrl {
  static constexpr uint16_t kDefaultPort = 6379;

  std::string host;  // a name or a numeric address (IPv6 without its brackets)
  uint16_t port = kDefaultPort;
  std::string username;  // empty: the default user (AUTH password)
  std::string password;  // empty: no AUTH; percent-decoded
  int db = 0;            // SELECTed after connecting when not 0

  static Result<RedisUrl> Parse(std::string_view text);

  // "host:port", "[::1]:port" — for error messages that name the Redis they are about.
  std::string Address() const;
  // The URL back, with the password (if any) shown as <redacted>.
  std::string Redacted() const;
};

}  // namespace gridhub::redis
