// Parsers for transaction-control records (internal): XACT COMMIT/ABORT (+_PREPARED),
// ASSIGNMENT and STANDBY RUNNING_XACTS (wal-format.md §4; access/xact.h, storage/standbydefs.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "walreader/catalog.h"
#include "walreader/status.h"

namespace pgt::internal {

constexpr uint8_t kXactCommit = 0x00, kXactPrepare = 0x10, kXactAbort = 0x20,
                  kXactCommitPrepared = 0x30, kXactAbortPrepared = 0x40,
                  kXactAssignment = 0x50, kXactInvalidations = 0x60;
constexpr uint8_t kXactOpMask = 0x70;
constexpr uint8_t kXactHasInfo = 0x80;

struct ParsedXactEnd {
  int64_t xact_time = 0;        // µs since 2000-01-01 UTC
  uint32_t xinfo = 0;
  Oid db_id = 0, ts_id = 0;     // with XACT_XINFO_HAS_DBINFO
  std::vector<Xid> subxacts;
  std::vector<RelFileLocator> dropped_rels;
  int ndropped_stats = 0;
  int ninvals = 0;
  // Relcache invalidations (SharedInvalRelcacheMsg, id -2): (database, relation OID); relation
  // 0 = the whole relcache.
  std::vector<std::pair<Oid, Oid>> relcache_invals;
  Xid twophase_xid = kInvalidXid;
  std::string gid;
  bool has_origin = false;
  Lsn origin_lsn = 0;
  int64_t origin_time = 0;
};
// `is_commit`: commit layouts carry invalidation messages, abort layouts do not. `pg_major`: the
// server version that wrote the record (the dropped-stats items grew from 12 to 16 bytes in 18).
Result<ParsedXactEnd> ParseXactEnd(const uint8_t* p, size_t len, uint8_t info, bool is_commit,
                                   int pg_major);
// Size of one xl_xact_stats_item in WAL of `pg_major`.
size_t XactStatsItemSize(int pg_major);

struct ParsedAssignment {
  Xid top = kInvalidXid;
  std::vector<Xid> subxacts;
};
Result<ParsedAssignment> ParseAssignment(const uint8_t* p, size_t len);

struct ParsedRunningXacts {
  int xcnt = 0;
  int subxcnt = 0;
  bool subxid_overflow = false;
  Xid next_xid = 0;
  Xid oldest_running_xid = 0;
  Xid latest_completed_xid = 0;
  std::vector<Xid> xids;        // xcnt top-level then subxcnt sub-xids
};
Result<ParsedRunningXacts> ParseRunningXacts(const uint8_t* p, size_t len);

}  // namespace pgt::internal
