// StreamTable: the runtime of one stream table inside the engine — its compiled plan, its
// circuit (operator state in RocksDB under its id) and its pending output.
//
// Data flow for one decoded source change (DESIGN §5):
//   change --shared source mirror--> (old row, new row) --ApplySourceDelta--> every scan of that
//   source in the circuit: (old, −1), (new, +1) --operators--> pending
// Pending output is keyed by the row identity (__pgt_row_id): value 'U'+row or 'D'. Repeated
// changes of one output row overwrite each other, so pending is always consolidated: within a
// batch in memory (the last event per identity, written once at FinishBatch; bounded, written
// early past kMaxPendingCache rows), across batches in RocksDB.
// Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "circuit/node.h"
#include "circuit/plan.h"
#include "state/state_store.h"
#include "walreader/change.h"

namespace pgt::engine {

enum class TableStatus { kActive, kError };

// What the engine persists per table (meta CF, key "table/<id>").
struct TableMeta {
  int64_t id = 0;
  std::string name;
  std::string plan_json;
  Lsn bootstrap_lsn = 0;      // snapshot LSN R: transactions with end LSN <= R are in the snapshot
  Lsn merged_frontier = 0;    // frontier of the last merge known to have landed (0 = none)
  bool has_merged = false;
  // The source was truncated: the state is stale until the table is bootstrapped again (a
  // TRUNCATE's own transaction may also insert into the new file, which only a snapshot sees).
  bool needs_rebootstrap = false;
  // After a re-bootstrap pending holds the whole table: the next merge replaces the contents.
  bool replace_on_merge = false;
  // 2 since shared source mirrors and operator-state prefixes per node (plan format 2); a table
  // registered by an older engine is bootstrapped again.
  int state_version = 2;
  TableStatus status = TableStatus::kActive;
  std::string error;

  std::string Encode() const;
  static Result<TableMeta> Decode(std::string_view s);
};

class StreamTable {
 public:
  static Result<std::unique_ptr<StreamTable>> Create(TableMeta meta);
  ~StreamTable();

  TableMeta& meta() { return meta_; }
  const Plan& plan() const { return *plan_; }
  bool ReadsSource(Oid relid) const;
  std::vector<Oid> source_relids() const;

  // One source row changed: pushes (old, −1) then (new, +1) into every scan of that source.
  Status ApplySourceDelta(Batch* batch, Oid relid, const std::optional<Row>& old_row, const std::optional<Row>& new_row);
  // Bootstrap: one snapshot row of a source, weight +1.
  Status ApplySnapshotRow(Batch* batch, Oid relid, const Row& row);
  // Ends a batch: consolidating operators (aggregates) emit their changes, inputs first.
  Status FinishBatch(Batch* batch);
  // Bootstrap of an aggregate without GROUP BY: its single row exists even over no input.
  void TouchGlobalGroup();
  // Bootstrap bulk load (bulk/bootstrap_loader.h): output rows go straight to the batch's
  // pending writes, which the loader routes to sorted runs that keep the last write per key
  // (bulk/sst_runs.h) — the consolidation the in-memory pending cache does otherwise.
  void set_bulk_output(bool on) { bulk_output_ = on; }

  // Pending output rows, prefix scan in the pending CF.
  std::string PendingPrefix() const { return TablePrefix(meta_.id); }
  // All state prefixes of this table, per column family (for drop / re-bootstrap).
  static void ForEachStatePrefix(int64_t id, const std::function<void(Cf, const std::string&)>& fn);

 private:
  class OutputSink;
  StreamTable(TableMeta meta, std::unique_ptr<Plan> plan);
  Status EmitOutput(Batch* batch, const std::string& identity_key, const Row* row);
  void WritePending(Batch* batch);
  bool Unchanged(size_t scan, const Row& old_row, const Row& new_row) const;

  static constexpr size_t kMaxPendingCache = 65536;

  TableMeta meta_;
  std::unique_ptr<Plan> plan_;
  Circuit circuit_;
  std::unique_ptr<Node> sink_;
  // Per scan (circuit_.scans order): the source columns (0-based) anything above it reads, with
  // the key columns; an empty list = every column. An UPDATE equal on them changes nothing here.
  std::vector<std::vector<int>> scan_reads_;
  std::unordered_map<std::string, std::string> pending_;   // row id -> 'U'+row / 'D', this batch
  uint64_t pending_serial_ = 0;                            // the batch pending_ belongs to
  bool bulk_output_ = false;
  std::string bulk_key_, bulk_val_;                        // reused by bulk output
};

// 16-byte row identity (__pgt_row_id) of an encoded identity key, and its uuid text.
std::string RowIdOf(std::string_view encoded_key);
std::string FormatRowIdUuid(std::string_view row_id16);

}  // namespace pgt::engine
