// Logging: one line per event on stderr, as text or JSON (--log-format, or pg_trickle.log_format
// read from the primary when the flag is not given). Thread-safe (a mutex serialises lines).
//
// Structured events: LogEvent(level, event, message, fields). Text mode prints
//   2026-01-01T00:00:00.000Z INFO: <message>
// exactly as before (tests and operators grep these messages); JSON mode prints one object
//   {"time":..., "level":"INFO", "event":"merged", "msg":<message>, "table":..., "lsn":...}
// with the fields as top-level keys (numbers stay numbers). The PGT_LOG_* macros log events
// named "message" without fields.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/options.h"

namespace pgt::engine {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogValue = std::variant<std::string, int64_t, double, bool>;
using LogFields = std::vector<std::pair<std::string, LogValue>>;

void SetLogFormat(LogFormat f);
LogFormat GetLogFormat();
void SetLogLevel(LogLevel l);
void Log(LogLevel level, const std::string& message);
void LogEvent(LogLevel level, const std::string& event, const std::string& message, const LogFields& fields = {});
// The line LogEvent would print (tests).
std::string FormatLogLine(LogFormat format, LogLevel level, const std::string& event, const std::string& message,
                          const LogFields& fields);

template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

#define PGT_LOG_INFO(...) ::pgt::engine::Log(::pgt::engine::LogLevel::kInfo, ::pgt::engine::Cat(__VA_ARGS__))
#define PGT_LOG_WARN(...) ::pgt::engine::Log(::pgt::engine::LogLevel::kWarning, ::pgt::engine::Cat(__VA_ARGS__))
#define PGT_LOG_ERROR(...) ::pgt::engine::Log(::pgt::engine::LogLevel::kError, ::pgt::engine::Cat(__VA_ARGS__))
#define PGT_LOG_DEBUG(...) ::pgt::engine::Log(::pgt::engine::LogLevel::kDebug, ::pgt::engine::Cat(__VA_ARGS__))
// Structured: PGT_EVENT(kInfo, "merged", (LogFields{{"table", name}, {"rows", n}}), "merged ", name, ...)
#define PGT_EVENT(level, event, fields, ...) \
  ::pgt::engine::LogEvent(::pgt::engine::LogLevel::level, event, ::pgt::engine::Cat(__VA_ARGS__), fields)

}  // namespace pgt::engine
