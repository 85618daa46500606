#include "log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace pgt::engine {
namespace {
std::mutex g_mu;
std::atomic<LogFormat> g_format{LogFormat::kText};
std::atomic<LogLevel> g_level{LogLevel::kInfo};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}
}  // namespace

void SetLogFormat(LogFormat f) { g_format = f; }
LogFormat GetLogFormat() { return g_format; }
void SetLogLevel(LogLevel l) { g_level = l; }

// One event = one line: multi-line server messages ("...\n\tIs the server running...") are folded.
static std::string OneLine(const std::string& m) {
  std::string out;
  out.reserve(m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] != '\n') { out.push_back(m[i]); continue; }
    while (i + 1 < m.size() && (m[i + 1] == '\t' || m[i + 1] == ' ')) ++i;
    if (i + 1 < m.size()) out += " ";
  }
  return out;
}

std::string FormatLogLine(LogFormat format, LogLevel level, const std::string& event, const std::string& raw,
                          const LogFields& fields) {
  const std::string message = OneLine(raw);
  if (format != LogFormat::kJson) return Timestamp() + " " + LevelName(level) + ": " + message;
  nlohmann::json j = {{"time", Timestamp()}, {"level", LevelName(level)}, {"event", event},
                      {"component", "pgtrickle-engine"}, {"msg", message}};
  for (const auto& [k, v] : fields) {
    if (j.contains(k)) continue;   // never overwrite the fixed keys
    std::visit([&, key = k](const auto& x) { j[key] = x; }, v);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void LogEvent(LogLevel level, const std::string& event, const std::string& message, const LogFields& fields) {
  if (level < g_level) return;
  std::string line = FormatLogLine(g_format, level, event, message, fields);
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Log(LogLevel level, const std::string& message) { LogEvent(level, "message", message); }

}  // namespace pgt::engine
