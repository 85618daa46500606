#include "log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

namespace pgt::engine {
namespace {
std::mutex g_mu;
LogFormat g_format = LogFormat::kText;
LogLevel g_level = LogLevel::kInfo;

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

void Log(LogLevel level, const std::string& raw) {
  if (level < g_level) return;
  const std::string message = OneLine(raw);
  std::string line;
  if (g_format == LogFormat::kJson) {
    nlohmann::json j = {{"ts", Timestamp()}, {"level", LevelName(level)}, {"component", "pgtrickle-engine"},
                        {"msg", message}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = Timestamp() + " " + LevelName(level) + ": " + message;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace pgt::engine
