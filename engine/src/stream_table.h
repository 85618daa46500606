// StreamTable: the runtime of one stream table inside the engine — its compiled plan, its
// source mirror, its operator state and its pending output (all in RocksDB under its id).
//
// Data flow for one decoded source change (DESIGN §5):
//   change --mirror--> ΔS = {(old, −1), (new, +1)} --pre ops--> [aggregate] --post ops--> pending
// The mirror (source key -> full source row) supplies the old row for UPDATE/DELETE and values
// of unchanged TOAST columns, so sources need no REPLICA IDENTITY FULL.
// Pending output is keyed by the row identity (__pgt_row_id): value 'U'+row or 'D'. Repeated
// changes of one output row overwrite each other, so pending is always consolidated.
// Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "circuit/aggregate.h"
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
  TableStatus status = TableStatus::kActive;
  std::string error;

  std::string Encode() const;
  static Result<TableMeta> Decode(std::string_view s);
};

class StreamTable {
 public:
  static Result<std::unique_ptr<StreamTable>> Create(TableMeta meta);

  TableMeta& meta() { return meta_; }
  const Plan& plan() const { return *plan_; }
  Oid source_relid() const { return plan_->sources[0].relid; }

  // Applies one decoded change of the source (mirror + circuit + pending).
  Status ApplyChange(Batch* batch, const Change& change);
  // Bootstrap: one snapshot row of the source, weight +1.
  Status ApplySnapshotRow(Batch* batch, Row row);
  // Ends a batch: emits the dirty aggregate groups into pending.
  Status FinishBatch(Batch* batch);
  // Bootstrap of an aggregate without GROUP BY: its single row exists even over no input.
  void TouchGlobalGroup() { if (agg_) agg_->TouchGlobalGroup(); }

  // Pending output rows, prefix scan in the pending CF.
  std::string PendingPrefix() const { return TablePrefix(meta_.id); }
  // All state prefixes of this table, per column family (for drop / re-bootstrap).
  static void ForEachStatePrefix(int64_t id, const std::function<void(Cf, const std::string&)>& fn);

 private:
  StreamTable(TableMeta meta, std::unique_ptr<Plan> plan);
  Result<std::optional<Row>> MirrorGet(Batch* batch, const std::string& key);
  std::string MirrorKey(const Row& source_row) const;
  Status Push(Batch* batch, const Row& source_row, int64_t weight);
  Status EmitOutput(Batch* batch, const std::string& identity_key, const std::optional<Row>& row);
  Result<std::optional<Row>> RunLinear(const std::vector<LinearOp>& ops, Row row) const;
  Row Normalize(Row row) const;

  TableMeta meta_;
  std::unique_ptr<Plan> plan_;
  std::unique_ptr<AggregateState> agg_;
};

// 16-byte row identity (__pgt_row_id) of an encoded identity key, and its uuid text.
std::string RowIdOf(std::string_view encoded_key);
std::string FormatRowIdUuid(std::string_view row_id16);

}  // namespace pgt::engine
