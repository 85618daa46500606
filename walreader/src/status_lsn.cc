// Status::ToString, LSN text forms and xid comparison.
#include <cinttypes>
#include <cstdio>

#include "walreader/lsn.h"
#include "walreader/status.h"

namespace pgt {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: name = "InvalidArgument"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kNotFound: name = "NotFound"; break;
    case Code::kIOError: name = "IOError"; break;
    case Code::kUnsupported: name = "Unsupported"; break;
    case Code::kConflict: name = "Conflict"; break;
    case Code::kUnavailable: name = "Unavailable"; break;
    case Code::kInternal: name = "Internal"; break;
  }
  return std::string(name) + ": " + message_;
}

std::string FormatLsn(Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRIX32 "/%" PRIX32, static_cast<uint32_t>(lsn >> 32),
                static_cast<uint32_t>(lsn));
  return buf;
}

Result<Lsn> ParseLsn(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size() || slash > 8 ||
      text.size() - slash - 1 > 8) {
    return Status::InvalidArgument("invalid LSN '" + std::string(text) + "' (expected X/X hex)");
  }
  uint64_t parts[2] = {0, 0};
  std::string_view halves[2] = {text.substr(0, slash), text.substr(slash + 1)};
  for (int h = 0; h < 2; h++) {
    for (char c : halves[h]) {
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return Status::InvalidArgument("invalid LSN '" + std::string(text) + "'");
      parts[h] = parts[h] * 16 + d;
    }
  }
  return (parts[0] << 32) | parts[1];
}

bool XidPrecedes(Xid a, Xid b) {
  if (a < 3 || b < 3) return a < b;   // FirstNormalTransactionId = 3
  return static_cast<int32_t>(a - b) < 0;
}

}  // namespace pgt
