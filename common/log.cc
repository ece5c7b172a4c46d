#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace gridhub::log {
namespace {

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

// 2026-12-01T18:50:00.123Z
std::string UtcNow() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

void AppendField(std::string& line, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  line += ' ';
  line += name;
  line += '=';
  line += value;
}

std::string TextLine(Level level, std::string_view event, std::string_view message,
                     const Fields& f) {
  std::string line = UtcNow();
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += event;
  AppendField(line, "label", f.label);
  AppendField(line, "run", f.run_id);
  AppendField(line, "session", f.session_id);
  AppendField(line, "node", f.node_id);
  if (!message.empty()) {
    line += ": ";
    line += message;
  }
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
  // One write per line: lines from different threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
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
  // The JSON form is completed with the rest of issue 12's logging work; text until then.
  Emit(TextLine(level, event, message, fields));
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

void SetSinkForTesting(std::function<void(std::string_view line)> sink) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
}

}  // namespace gridhub::log
