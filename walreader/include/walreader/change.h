// Decoded row changes and committed transactions: walreader's output (DESIGN §3).
//
// Transactions are emitted only after their commit record, in commit-LSN order, with the changes
// of all their committed subtransactions in WAL order; aborted (sub)transactions never appear.
#pragma once

#include <optional>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/value.h"

namespace pgt {

enum class ChangeKind : uint8_t { kInsert, kUpdate, kDelete, kTruncate };

struct Change {
  ChangeKind kind = ChangeKind::kInsert;
  Oid relid = 0;                 // pg_class OID of the table (not the relfilenode)
  Lsn lsn = kInvalidLsn;         // start LSN of the record that produced it
  // Old row: for DELETE always (key columns only unless REPLICA IDENTITY FULL: then
  // old_is_key_only); for UPDATE only when the key changed (or identity is FULL).
  std::optional<Row> old_row;
  bool old_is_key_only = false;  // non-key columns of old_row are NULL placeholders
  std::optional<Row> new_row;    // INSERT and UPDATE
  std::vector<Oid> truncated;    // TRUNCATE: every truncated tracked relation (relid = first)
  bool truncate_cascade = false;       // added: TRUNCATE ... CASCADE
  bool truncate_restart_seqs = false;  // added: TRUNCATE ... RESTART IDENTITY
};

struct Transaction {
  Xid xid = kInvalidXid;         // top-level xid
  Lsn first_lsn = kInvalidLsn;   // start LSN of its first record
  Lsn commit_lsn = kInvalidLsn;  // start LSN of the commit record
  Lsn end_lsn = kInvalidLsn;     // end LSN of the commit record: visible on a standby whose
                                 // pg_last_wal_replay_lsn() >= end_lsn
  int64_t commit_time_us = 0;    // microseconds since 2000-01-01 UTC
  std::vector<Change> changes;
};

}  // namespace pgt
