// Aggregate operator: γ_{K; COUNT(*), COUNT(a), SUM(a), AVG(a), MIN(a), MAX(a)}, and
// COUNT/SUM/AVG(DISTINCT a), which keep a's value multiset M (like MIN/MAX) and fold a value
// into c and s only when its multiplicity in M crosses 0 (Δ = [M(a)+w > 0] − [M(a) > 0]).
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
// As a circuit node its output delta per dirty group is (−old row, +new row), both computed from
// the group's state: the old row when the group is first touched in a batch, the new one at
// Flush(); a group whose output did not change emits nothing (consolidation per batch). The
// output identity is the encoded group key.
//
// State lives in the agg and minmax column families under the node's prefix; dirty groups (and
// their old output rows) are remembered between Apply() and Flush() (one batch).
#pragma once

#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <string>

#include "circuit/node.h"
#include "circuit/plan.h"
#include "circuit/zset.h"
#include "state/state_store.h"

namespace pgt::engine {

class AggregateState {
 public:
  AggregateState(const AggregateOp* op, std::string prefix) : op_(op), prefix_(std::move(prefix)) {}

  // Folds one weighted input row into its group's state.
  Status Apply(Batch* batch, const WeightedRow& in);
  // Marks the global group (no GROUP BY) dirty so it is emitted even without input.
  void TouchGlobalGroup();
  // For each dirty group whose output changed: emit(id, old row, -1) if it existed before the
  // batch, then emit(id, new row, +1) if it exists now. `id` is the encoded group key. Clears
  // the set.
  Status Flush(Batch* batch, const std::function<Status(const std::string& id, const Row&, int64_t)>& emit);

 public:
  struct GroupState;

 private:
  Result<GroupState> Load(Batch* batch, const std::string& gkey);
  Status Store(Batch* batch, const std::string& gkey, const GroupState& st);
  Status ApplyMinMax(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w);
  Result<Value> MinMax(Batch* batch, const std::string& gkey, size_t agg, bool max);
  Result<int64_t> ApplyDistinct(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w);
  Result<Row> Output(Batch* batch, const std::string& gkey, const GroupState& st);
  Result<bool> Exists(Batch* batch, const std::string& gkey, const GroupState& st);
  std::string GroupKeyPrefix(const std::string& gkey) const;

  const AggregateOp* op_;
  std::string prefix_;
  std::map<std::string, std::optional<Row>> dirty_;   // encoded group key -> output before the batch
};

// The aggregate as a circuit node (input port 0).
class AggregateNode : public Node {
 public:
  AggregateNode(std::unique_ptr<AggregateOp> op, std::string prefix)
      : op_(std::move(op)), state_(op_.get(), std::move(prefix)) {
    set_width(static_cast<int>(op_->group_by.size() + op_->aggs.size()));
  }
  Status Push(Batch* b, int, const std::string&, const Row& row, int64_t w) override {
    return state_.Apply(b, WeightedRow{row, w});
  }
  Status Flush(Batch* b) override {
    return state_.Flush(b, [&](const std::string& id, const Row& r, int64_t w) { return Emit(b, id, r, w); });
  }
  void TouchGlobal() override { state_.TouchGlobalGroup(); }

 private:
  std::unique_ptr<AggregateOp> op_;
  AggregateState state_;
};

}  // namespace pgt::engine
