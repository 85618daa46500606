// Logging: one line per event on stderr, as text or JSON (pg_trickle.log_format / --log-format).
// Thread-safe (a mutex serialises lines).
#pragma once

#include <sstream>
#include <string>

#include "engine/options.h"

namespace pgt::engine {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void SetLogFormat(LogFormat f);
void SetLogLevel(LogLevel l);
void Log(LogLevel level, const std::string& message);

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

}  // namespace pgt::engine
