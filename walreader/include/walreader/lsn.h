// WAL positions (LSN), transaction ids and OIDs, and their textual forms ("16/B374D848").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "walreader/status.h"

namespace pgt {

using Lsn = uint64_t;   // byte position in the WAL stream
using Xid = uint32_t;   // 32-bit TransactionId as written in WAL records
using Oid = uint32_t;
using TimeLineId = uint32_t;

constexpr Lsn kInvalidLsn = 0;
constexpr Xid kInvalidXid = 0;

std::string FormatLsn(Lsn lsn);                 // "X/X" upper-case hex, as PostgreSQL prints
Result<Lsn> ParseLsn(std::string_view text);    // inverse; clear error on bad input

// TransactionIdPrecedes: modulo-2^32 comparison for normal xids (>= 3); special xids compare
// as plain integers, as PostgreSQL does.
bool XidPrecedes(Xid a, Xid b);

}  // namespace pgt
