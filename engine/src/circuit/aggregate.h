// Aggregate operator: γ_{K; COUNT(*), COUNT(a), SUM(a), AVG(a), MIN(a), MAX(a)}.
//
// Delta equation (per group k of the group key K):
//   Δγ(R)[k] = γ(R + ΔR)[k] − γ(R)[k]
// computed incrementally from per-group state S[k] = (n = Σw, and per aggregate: c = Σw over
// non-NULL args, s = Σw·a, M = multiset {a ↦ Σw}), so that
//   COUNT(*) = n, COUNT(a) = c, SUM(a) = s if c > 0 else NULL, AVG(a) = s / c (numeric_div),
//   MIN/MAX(a) = first/last element of M (NULL if empty).
// COUNT and SUM are linear (O(|ΔR|)); MIN/MAX keep M in RocksDB ordered by value so the new
// extreme after deleting the old one is one seek, not a rescan. A group with n = 0 disappears,
// except the single group of an aggregate without GROUP BY, which always exists (SQL semantics).
//
// State lives in the agg and minmax column families under the table's prefix; dirty groups are
// remembered between Apply() and Flush() (one batch).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "circuit/plan.h"
#include "circuit/zset.h"
#include "state/state_store.h"

namespace pgt::engine {

class AggregateState {
 public:
  AggregateState(const AggregateOp* op, int64_t table_id) : op_(op), table_id_(table_id) {}

  // Folds one weighted input row into its group's state.
  Status Apply(Batch* batch, const WeightedRow& in);
  // Marks the global group (no GROUP BY) dirty so it is emitted even without input.
  void TouchGlobalGroup();
  // For each dirty group: its current output row (group keys then aggregates), or nullopt if
  // the group no longer exists. `id_key` is the encoded group key (identity). Clears the set.
  Status Flush(Batch* batch, const std::function<Status(const std::string& id_key, std::optional<Row>)>& emit);

 public:
  struct GroupState;

 private:
  Result<GroupState> Load(Batch* batch, const std::string& gkey);
  Status Store(Batch* batch, const std::string& gkey, const GroupState& st);
  Status ApplyMinMax(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w);
  Result<Value> MinMax(Batch* batch, const std::string& gkey, size_t agg, bool max);
  Result<Row> Output(Batch* batch, const std::string& gkey, const GroupState& st);
  std::string GroupKeyPrefix(const std::string& gkey) const;

  const AggregateOp* op_;
  int64_t table_id_;
  std::map<std::string, bool> dirty_;   // encoded group key -> (unused)
};

}  // namespace pgt::engine
