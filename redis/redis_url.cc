#include "redis/redis_url.h"

#include <charconv>
#include <string>

namespace gridhub::redis {
namespace {

constexpr std::string_view kScheme = "redis://";

Error UrlError(std::string why) { return InvalidArgument("redis URL: " + std::move(why)); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes user info, so a password may hold '@', ':' or '/'. The error never quotes
// the text: it is the password.
Result<std::string> Decode(std::string_view text, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return UrlError(std::string(what) + " has a bad %-escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// "user:password" (user may be empty) into the URL.
Status ParseUserInfo(std::string_view info, RedisUrl& url) {
  const size_t colon = info.find(':');
  if (colon == std::string_view::npos) {
    return UrlError("credentials must be ':password@' or 'user:password@'");
  }
  Result<std::string> user = Decode(info.substr(0, colon), "user name");
  if (!user.ok()) return user.error();
  Result<std::string> password = Decode(info.substr(colon + 1), "password");
  if (!password.ok()) return password.error();
  if (password->empty()) return UrlError("the password after ':' is empty");
  url.username = std::move(*user);
  url.password = std::move(*password);
  return Status::Ok();
}

// "host", "host:port", "[v6]", "[v6]:port" into the URL.
Status ParseHostPort(std::string_view text, RedisUrl& url) {
  std::string_view port_text;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return UrlError("'[' without ']' in the host");
    url.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return UrlError("junk after ']' in the host");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    const size_t colon = text.find(':');
    url.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (url.host.empty()) return UrlError("no host");
  if (url.host.find_first_of(" \t@/?#") != std::string::npos) {
    return UrlError("bad host '" + url.host + "'");
  }
  if (text.find(':') != std::string_view::npos && !text.starts_with('[') && port_text.empty()) {
    return UrlError("empty port after ':'");
  }
  if (port_text.empty()) return Status::Ok();
  unsigned value = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || value < 1 ||
      value > 65535) {
    return UrlError("port must be 1-65535, got '" + std::string(port_text) + "'");
  }
  url.port = static_cast<uint16_t>(value);
  return Status::Ok();
}

Status ParseDb(std::string_view text, RedisUrl& url) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return UrlError("database after '/' must be a number 0 or more, got '" + std::string(text) +
                    "'");
  }
  url.db = value;
  return Status::Ok();
}

}  // namespace

Result<RedisUrl> RedisUrl::Parse(std::string_view text) {
  if (text.starts_with("rediss://")) return UrlError("TLS (rediss://) is not supported");
  if (!text.starts_with(kScheme)) return UrlError("must start with redis://");
  text.remove_prefix(kScheme.size());
  if (text.find_first_of("?#") != std::string_view::npos) {
    return UrlError("query and fragment ('?', '#') are not supported");
  }
  RedisUrl url;
  // The last '@' ends the credentials: an unescaped '@' in a password still parses.
  const size_t at = text.rfind('@');
  if (at != std::string_view::npos) {
    if (Status s = ParseUserInfo(text.substr(0, at), url); !s.ok()) return s.error();
    text.remove_prefix(at + 1);
  }
  const size_t slash = text.find('/');
  if (Status s = ParseHostPort(text.substr(0, slash), url); !s.ok()) return s.error();
  if (slash != std::string_view::npos && slash + 1 < text.size()) {
    if (Status s = ParseDb(text.substr(slash + 1), url); !s.ok()) return s.error();
  }
  return url;
}

std::string RedisUrl::Address() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string RedisUrl::Redacted() const {
  std::string out(kScheme);
  if (!password.empty()) out += username + ":<redacted>@";
  out += Address();
  if (db != 0) out += "/" + std::to_string(db);
  return out;
}

}  // namespace gridhub::redis
