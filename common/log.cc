#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>

namespace gridhub::log {
namespace {

constexpr std::string_view kMask = "<redacted>";
// A message that quotes a driver's error page must not make one line of megabytes.
constexpr size_t kMaxPartBytes = 16 * 1024;

std::atomic<int> g_format{static_cast<int>(Format::kText)};
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

std::mutex& SinkMutex() {
  static std::mutex mu;
  return mu;
}
std::function<void(std::string_view)>& Sink() {
  static std::function<void(std::string_view)> sink;
  return sink;
}

std::mutex& SecretsMutex() {
  static std::mutex mu;
  return mu;
}
// Newest last; guarded by SecretsMutex().
std::deque<std::string>& Secrets() {
  static std::deque<std::string> secrets;
  return secrets;
}

// 2026-12-01T18:50:00.123Z
std::string UtcNow() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[80];  // room for any int g++ can imagine in each field (-Wformat-truncation)
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// --- Redaction -----------------------------------------------------------------------------

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// A credential runs until whitespace, a quote or a separator that cannot be part of a token.
size_t ValueEnd(std::string_view text, size_t i) {
  constexpr std::string_view kStops = " \t\r\n\"',;&)]}>";
  while (i < text.size() && kStops.find(text[i]) == std::string_view::npos) ++i;
  return i;
}

// Replaces text[begin, end) with the mask unless it is empty or masked already; returns the
// index just after the mask (or `end`).
size_t MaskRange(std::string& text, size_t begin, size_t end) {
  if (end <= begin || std::string_view(text).substr(begin, kMask.size()) == kMask) return end;
  text.replace(begin, end - begin, kMask);
  return begin + kMask.size();
}

void MaskKnownSecrets(std::string& text) {
  std::lock_guard<std::mutex> lock(SecretsMutex());
  for (const std::string& secret : Secrets()) {
    for (size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + kMask.size())) {
      text.replace(at, secret.size(), kMask);
    }
  }
}

// "Bearer abc" / "Basic dXNlcjpw": the credential after the scheme word.
void MaskSchemes(std::string& text) {
  for (std::string_view scheme : {"bearer ", "basic "}) {
    size_t from = 0;
    while (true) {
      const std::string lower = Lower(text);
      const size_t at = lower.find(scheme, from);
      if (at == std::string::npos) break;
      size_t begin = at + scheme.size();
      from = begin;
      if (at > 0 && IsWordChar(text[at - 1])) continue;
      while (begin < text.size() && text[begin] == ' ') ++begin;
      from = MaskRange(text, begin, ValueEnd(text, begin));
    }
  }
}

// The value of a "name: value" / "name=value" / "name":"value" pair after a credential name.
struct PairValue {
  size_t begin = std::string::npos;  // npos: the name is not followed by `:` or `=`
  bool loose = false;                // a blank after the separator and no quote: maybe prose
};

PairValue FindPairValue(std::string_view text, size_t after) {
  size_t i = after;
  if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i >= text.size() || (text[i] != ':' && text[i] != '=')) return {};
  const size_t separator = ++i;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '[') ++i;  // a list where a string belongs
  const bool quoted = i < text.size() && (text[i] == '"' || text[i] == '\'');
  if (quoted) ++i;
  return {.begin = i, .loose = i > separator && !quoted};
}

// After "X-Registration-Secret: " a word may be prose ("...: with hub.registration-secret set");
// a credential has a digit or is long (gridhub's own are 32 hex digits).
bool LooksLikeCredential(std::string_view value) {
  return value.size() >= 16 || std::any_of(value.begin(), value.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) != 0;
         });
}

// "X-Queue-Token: abc1", "token=abc", "\"secret\":\"abc\"": the value after a credential name.
void MaskNamedValues(std::string& text) {
  for (std::string_view name : {"token", "secret", "password", "authorization"}) {
    size_t from = 0;
    while (true) {
      const std::string lower = Lower(text);
      const size_t at = lower.find(name, from);
      if (at == std::string::npos) break;
      from = at + name.size();
      const PairValue value = FindPairValue(text, from);
      if (value.begin == std::string::npos) continue;
      const size_t end = ValueEnd(text, value.begin);
      const std::string_view word = std::string_view(text).substr(value.begin, end - value.begin);
      const std::string scheme = Lower(word.substr(0, 6));
      // "Authorization: Bearer abc": the scheme stays readable; MaskSchemes took the rest.
      if (scheme == "bearer" || scheme.rfind("basic", 0) == 0) continue;
      if (value.loose && !LooksLikeCredential(word)) continue;
      from = MaskRange(text, value.begin, end);
    }
  }
}

// "http://user:pass@host" -> "http://user:<redacted>@host".
void MaskUserInfo(std::string& text) {
  for (size_t at = text.find("://"); at != std::string::npos; at = text.find("://", at + 3)) {
    const size_t start = at + 3;
    const size_t end = text.find_first_of("/@ \t\"'", start);
    if (end == std::string::npos || text[end] != '@') continue;
    const size_t colon = text.find(':', start);
    if (colon != std::string::npos && colon < end) MaskRange(text, colon + 1, end);
  }
}

// --- Formatting ----------------------------------------------------------------------------

// The length of the valid UTF-8 sequence at text[i], or 0 when the bytes there are not one.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF)
    length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF)
    length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4)
    length = 4;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  // Overlong three- and four-byte forms, surrogates and code points above U+10FFFF.
  const unsigned char second = byte(i + 1);
  if (lead == 0xE0 && second < 0xA0) return 0;
  if (lead == 0xED && second > 0x9F) return 0;
  if (lead == 0xF0 && second < 0x90) return 0;
  if (lead == 0xF4 && second > 0x8F) return 0;
  return length;
}

// Escapes of the control characters both formats share; empty for any other byte.
std::string_view ShortEscape(char c) {
  switch (c) {
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    case '\\':
      return "\\\\";
    default:
      return {};
  }
}

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = Utf8Length(text, i);
      out += length == 0 ? std::string_view("\\ufffd") : text.substr(i, length);
      i += length == 0 ? 1 : length;
      continue;
    }
    if (std::string_view escape = ShortEscape(text[i]); !escape.empty()) {
      out += escape;
    } else if (c == '"') {
      out += "\\\"";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += text[i];
    }
    ++i;
  }
  out += '"';
}

// Text lines: control bytes and bytes that are not UTF-8 become \n, \xHH, ... so that one
// event stays one line and a terminal is never sent an escape sequence.
void AppendTextSafe(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t length = c >= 0x80 ? Utf8Length(text, i) : 1;
    if (c >= 0x80 && length > 0) {
      out += text.substr(i, length);
      i += length;
      continue;
    }
    if (std::string_view escape = ShortEscape(text[i]); !escape.empty() && c != '\\') {
      out += escape;
    } else if (c < 0x20 || c == 0x7F || c >= 0x80) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += text[i];
    }
    ++i;
  }
}

// label=chrome, or run="a b" when the value would otherwise read as two fields.
void AppendTextField(std::string& line, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  line += ' ';
  line += name;
  line += '=';
  const bool quote = value.find_first_of(" \"=") != std::string_view::npos;
  if (quote) line += '"';
  AppendTextSafe(line, value);
  if (quote) line += '"';
}

void AppendJsonField(std::string& line, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  line += ",\"";
  line += name;
  line += "\":";
  AppendJsonString(line, value);
}

// One event's parts, bounded and redacted, ready for either format.
struct Parts {
  std::string event, message, label, run_id, session_id, node_id;
};

std::string_view Bounded(std::string_view text) { return text.substr(0, kMaxPartBytes); }

// Fields are ids and labels: only the registered secrets are masked there, so that a label
// such as "appa:secret:uat" stays readable.
std::string CleanField(std::string_view text) {
  std::string out(Bounded(text));
  MaskKnownSecrets(out);
  return out;
}

std::string TextLine(Level level, const Parts& p) {
  std::string line = UtcNow();
  line += ' ';
  line += LevelName(level);
  line += ' ';
  AppendTextSafe(line, p.event);
  AppendTextField(line, "label", p.label);
  AppendTextField(line, "run", p.run_id);
  AppendTextField(line, "session", p.session_id);
  AppendTextField(line, "node", p.node_id);
  if (!p.message.empty()) {
    line += ": ";
    AppendTextSafe(line, p.message);
  }
  return line;
}

std::string JsonLine(Level level, const Parts& p) {
  std::string line = "{\"time\":\"" + UtcNow() + "\",\"level\":\"";
  line += LevelConfigName(level);
  line += "\",\"event\":";
  AppendJsonString(line, p.event);
  AppendJsonField(line, "label", p.label);
  AppendJsonField(line, "run_id", p.run_id);
  AppendJsonField(line, "session_id", p.session_id);
  AppendJsonField(line, "node_id", p.node_id);
  AppendJsonField(line, "message", p.message);
  line += '}';
  return line;
}

void Emit(const std::string& line) {
  {
    std::lock_guard<std::mutex> lock(SinkMutex());
    if (Sink()) {
      Sink()(line);
      return;
    }
  }
  std::string out = line + '\n';
  // One write per line: lines from different threads never interleave (a pipe takes up to
  // PIPE_BUF bytes at once; the loop only matters for longer lines or a signal).
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void Configure(const Options& options) {
  g_format.store(static_cast<int>(options.format), std::memory_order_relaxed);
  g_level.store(static_cast<int>(options.level), std::memory_order_relaxed);
}

Options Current() {
  return {.format = static_cast<Format>(g_format.load(std::memory_order_relaxed)),
          .level = static_cast<Level>(g_level.load(std::memory_order_relaxed))};
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void Write(Level level, std::string_view event, std::string_view message, const Fields& fields) {
  if (!Enabled(level)) return;
  std::string text = Redact(Bounded(message));
  if (message.size() > kMaxPartBytes) text += "...";
  const Parts parts{.event = CleanField(event),
                    .message = std::move(text),
                    .label = CleanField(fields.label),
                    .run_id = CleanField(fields.run_id),
                    .session_id = CleanField(fields.session_id),
                    .node_id = CleanField(fields.node_id)};
  const bool json = g_format.load(std::memory_order_relaxed) == static_cast<int>(Format::kJson);
  Emit(json ? JsonLine(level, parts) : TextLine(level, parts));
}

std::string Redact(std::string_view text) {
  std::string out(text);
  MaskKnownSecrets(out);
  MaskSchemes(out);
  MaskNamedValues(out);
  MaskUserInfo(out);
  return out;
}

void AddSecrets(const std::vector<std::string>& values) {
  std::lock_guard<std::mutex> lock(SecretsMutex());
  std::deque<std::string>& secrets = Secrets();
  for (const std::string& value : values) {
    if (value.size() < kMinSecretLength) continue;
    auto known = std::find(secrets.begin(), secrets.end(), value);
    if (known != secrets.end()) secrets.erase(known);
    secrets.push_back(value);
    if (secrets.size() > kMaxSecrets) secrets.pop_front();
  }
  // Longest first: a secret that contains another is masked whole, not around the shorter one.
  std::stable_sort(secrets.begin(), secrets.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool ParseFormat(std::string_view text, Format* out) {
  if (text == "text")
    *out = Format::kText;
  else if (text == "json")
    *out = Format::kJson;
  else
    return false;
  return true;
}

bool ParseLevel(std::string_view text, Level* out) {
  if (text == "debug")
    *out = Level::kDebug;
  else if (text == "info")
    *out = Level::kInfo;
  else if (text == "warn")
    *out = Level::kWarn;
  else if (text == "error")
    *out = Level::kError;
  else
    return false;
  return true;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

std::string_view LevelConfigName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string_view FormatName(Format format) { return format == Format::kJson ? "json" : "text"; }

void SetSinkForTesting(std::function<void(std::string_view line)> sink) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
}

void ForgetSecretsForTesting() {
  std::lock_guard<std::mutex> lock(SecretsMutex());
  Secrets().clear();
}

}  // namespace gridhub::log
