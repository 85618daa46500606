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
// extreme after deleting the old one is one seek, not a rescan. M's entries are counted entries
// (state_store.h): a batch writes each changed value's count delta as a merge operand, without
// reading it; an entry at count 0 is a value gone (skipped by seeks, dropped by compaction). A group with n = 0 disappears,
// except the single group of an aggregate without GROUP BY, which always exists (SQL semantics).
//
// As a circuit node its output delta per dirty group is (−old row, +new row): the old row is
// computed when the group is first touched in a batch, the new one at Flush(); a group whose
// output did not change emits nothing (consolidation per batch). The output identity is the
// encoded group key.
//
// Per batch, the dirty groups' states are kept decoded in memory (a write-back cache): a change
// is folded into its group without touching RocksDB, MIN/MAX inputs are collected as a delta of
// the multiset M per group, and Flush() writes each group's record and M's changed entries once
// (count deltas). The group record caches each MIN/MAX's current extreme, so the old row needs no
// seek and the new one needs a read only when the extreme changes: the old extreme's count when
// it loses copies, the winning added value's stored representation, and a seek only when the old
// extreme's last copy was deleted. The cache is bounded:
// past kMaxDirtyGroups groups it is flushed early (emitting the exact delta so far). A cache
// left by a batch that was dropped (never flushed) is discarded when the next batch arrives.
//
// State lives in the agg and minmax column families under the node's prefix.
#pragma once

#include <functional>
#include <memory>
#include <map>
#include <unordered_map>
#include <optional>
#include <string>

#include "circuit/node.h"
#include "circuit/plan.h"
#include "circuit/zset.h"
#include "state/state_store.h"

namespace pgt::engine {

class AggregateState {
 public:
  AggregateState(const AggregateOp* op, std::string prefix);
  ~AggregateState();

  using EmitFn = std::function<Status(const std::string& id, const Row&, int64_t)>;
  // Folds one weighted input row into its group's state (in memory until Flush); past the
  // cache's bound the dirty groups are flushed early through `emit`.
  Status Apply(Batch* batch, const Row& row, int64_t w, const EmitFn& emit);
  // Marks the global group (no GROUP BY) dirty so the next Flush emits it even without input.
  void TouchGlobalGroup() { touch_global_ = op_->group_by.empty(); }
  // For each dirty group whose output changed: emit(id, old row, -1) if it existed before the
  // batch, then emit(id, new row, +1) if it exists now. `id` is the encoded group key. Writes
  // the groups' state and clears the cache.
  Status Flush(Batch* batch, const EmitFn& emit);

  static constexpr size_t kMaxDirtyGroups = 100000;

 public:
  struct GroupState;
  struct Dirty;

 private:
  Result<Dirty*> Touch(Batch* batch, const std::string& gkey, const Row* keys);
  Result<bool> Load(Batch* batch, const std::string& gkey, GroupState* st);
  void Store(Batch* batch, const std::string& gkey, const GroupState& st);
  Status FlushMinMax(Batch* batch, const std::string& gkey, size_t agg, Dirty* d);
  Status ApplyMinMax(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w);
  Result<Value> SeekMinMax(Batch* batch, const std::string& gkey, size_t agg, bool max);
  Result<int64_t> ApplyDistinct(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w);
  Result<Row> Output(Batch* batch, const std::string& gkey, GroupState* st);
  std::string GroupKeyPrefix(const std::string& gkey) const;
  void CheckBatch(Batch* batch);

  const AggregateOp* op_;
  std::string prefix_;
  std::unordered_map<std::string, std::unique_ptr<Dirty>> dirty_;   // encoded group key -> its batch state
  uint64_t batch_serial_ = 0;                                       // the batch dirty_ belongs to
  bool touch_global_ = false;
};

// The aggregate as a circuit node (input port 0).
class AggregateNode : public Node {
 public:
  AggregateNode(std::unique_ptr<AggregateOp> op, std::string prefix)
      : op_(std::move(op)), state_(op_.get(), std::move(prefix)) {
    set_width(static_cast<int>(op_->group_by.size() + op_->aggs.size()));
  }
  Status Push(Batch* b, int, const std::string&, const Row& row, int64_t w) override {
    return state_.Apply(b, row, w, [&](const std::string& id, const Row& r, int64_t x) { return Emit(b, id, r, x); });
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
