// Decoder: WAL bytes -> committed transactions of row changes, in commit-LSN order.
//
// Pipeline (each layer its own file): page/record reader (page headers, reassembly, CRC-32C,
// XLOG_SWITCH) -> record decoder (block refs, main data, rmgr dispatch; ignored record types
// listed explicitly, unknown ones are errors) -> logical decoder (heap/heap2/xact/standby
// records) -> reorder buffer (per-transaction change lists, subtransactions, emitted at commit).
//
// Consistency: after a fresh start at an arbitrary LSN the decoder cannot know transactions that
// began earlier. It becomes `consistent()` after a two-stage wait on XLOG_RUNNING_XACTS records
// (as snapbuild does): from then on every open transaction's first record has been seen and
// restart_lsn() is exact. A restart from a checkpointed restart_lsn that was taken while
// consistent may call Start(..., consistent=true).
// Not thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "walreader/catalog.h"
#include "walreader/change.h"
#include "walreader/source.h"

namespace pgt {

struct DecoderOptions {
  Oid database_oid = 0;   // decode only this database's relations
  // Approximate bytes of buffered (not yet committed) changes kept in memory; above it the
  // largest open transaction's changes are spilled to a file in `spill_dir`. Next() returns a
  // committed transaction with all its changes in memory; NextStreamed() delivers them one at a
  // time, so memory stays bounded by this limit whatever the transaction's size.
  size_t reorder_memory_limit = size_t{64} << 20;
  // Directory for spill files; empty = /tmp/walreader-spill-<pid>, created on demand. Files are
  // removed when their transaction is emitted or aborted, on Start() and on destruction.
  std::string spill_dir;
  // Added: collect relcache invalidations of tracked relations for TakeInvalidations() (off:
  // nothing is kept, so a consumer that never takes them does not accumulate them).
  bool collect_invalidations = false;
};

// Added: a committed transaction invalidated the relcache entry of a tracked relation (commit
// record's invalidation messages): DDL, TRUNCATE, VACUUM FULL / CLUSTER, but also plain
// (auto)VACUUM / ANALYZE statistics updates. A hint to re-check the descriptor (re-Track), not
// proof that it changed.
struct RelationInvalidation {
  Oid relid = 0;
  Xid xid = kInvalidXid;
  Lsn commit_lsn = kInvalidLsn;
  Lsn end_lsn = kInvalidLsn;
};

// Added: receives committed transactions change by change (Decoder::NextStreamed), in the same
// order and with the same content as Decoder::Next returns them.
class TransactionSink {
 public:
  virtual ~TransactionSink() = default;
  // Before the first change of a transaction; `txn` has xid, first/commit/end LSN and commit
  // time, and no changes. Return false to skip it (no OnChange/End calls for it).
  virtual bool BeginTransaction(const Transaction& txn) = 0;
  virtual void OnChange(const Change& change) = 0;
  virtual void EndTransaction(const Transaction& txn) = 0;
};

class Decoder {
 public:
  Decoder(WalSource* source, CatalogResolver* catalog, DecoderOptions opts);
  ~Decoder();

  // (Re)starts decoding at record-start LSN `lsn` (or at the first record boundary at/after a
  // page-aligned `lsn`). Drops all buffered transactions.
  Status Start(Lsn lsn, TimeLineId tli, bool consistent);

  // Decodes until one committed transaction is ready (returned), or until `wait` has passed
  // (returns nullopt; also while WAL keeps arriving without a transaction to emit, so the caller
  // regains control; decoded_upto() shows the progress). Errors (corruption, unknown record types) are returned with the
  // LSN; after an error the decoder must be restarted.
  Result<std::optional<Transaction>> Next(std::chrono::milliseconds wait);

  // Added: as Next, but the transaction is handed to `sink` change by change while its commit
  // record is processed (spilled changes read back one at a time), never materialised. Returns
  // true once a transaction was offered to the sink (even if BeginTransaction declined it),
  // false when `wait` passed first. Transactions without changes are not offered. If an error
  // (e.g. a spill file read error) interrupts a transaction, EndTransaction is not called for it.
  // Next and NextStreamed may be mixed.
  Result<bool> NextStreamed(std::chrono::milliseconds wait, TransactionSink* sink);

  Lsn decoded_upto() const;   // end LSN of the last fully processed record
  Lsn restart_lsn() const;    // min(first_lsn of open transactions, decoded_upto())
  bool consistent() const;
  // Added: relcache invalidations of tracked relations (CatalogResolver::LookupByOid non-null,
  // database DecoderOptions::database_oid) by transactions committed since the last call, in
  // commit order; only once consistent() and with DecoderOptions::collect_invalidations. Kept
  // until taken (call it after each Next).
  std::vector<RelationInvalidation> TakeInvalidations();
  size_t open_transactions() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgt
