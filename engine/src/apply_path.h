// ApplyPath: the engine's apply path for one batch of decoded transactions (DESIGN §5):
//
//   decoded change --SourceMirror::Apply--> (old row, new row) of one source key
//     --consolidated per source key for the batch--> at the end of the batch, per key,
//       (row at batch start, −1), (row now, +1) into every reader's scans (ApplySourceDelta)
//     --operators (write-back caches per batch)--> pending output (last value per identity)
//     --StreamTable::FinishBatch--> everything in one Batch, committed atomically by the caller.
//
// Consolidation: the batch's delta of a source is a Z-set keyed by the source's identity, so a
// row updated ten times in a batch costs one retraction and one insertion per reader, and a row
// inserted and deleted again costs nothing. It is exact because every operator maps any delta
// to the exact delta of its output (circuit/node.h): the state after the batch is the same.
// The buffer is bounded (kMaxDeltaKeys keys): past it the deltas so far are pushed early.
//
// A reader that skipped a change of a source in this batch (the transaction ended at or before
// its applied position, invariant 1: a table bootstrapped at a cut inside the batch) cannot use
// the batch-start rows: it gets that source's later changes one by one, as they come.
//
// The engine loop (mirrors.cc, engine.cc) and the in-process benchmark (engine/bench/) both go
// through this class, so the benchmark measures exactly the engine's code. State left by a batch
// that was dropped without Finish() (decoder restart, divergence) is discarded when the next
// batch arrives (Batch::serial). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "source_mirror.h"
#include "state/state_store.h"
#include "stream_table.h"
#include "walreader/change.h"

namespace pgt::engine {

class ApplyPath {
 public:
  struct Reader {
    int64_t id = 0;
    StreamTable* table = nullptr;
    bool applies = true;   // false: the transaction ends at or before the reader's applied position
    // false: the reader's storage table may reflect a position inside this batch (a frontier
    // adopted from a new primary after a rewind, ahead of the restored state), so a net-zero
    // delta over the batch is not "no change" for it: its changes go through one by one.
    bool consolidate = true;
  };
  // A reader could not apply a change (it stops being maintained; the others go on).
  using ErrorFn = std::function<void(int64_t id, const Status& why)>;
  // The readers of `relid` still maintained (not failed, not waiting for a re-bootstrap).
  using ReadersFn = std::function<void(Oid relid, std::vector<Reader>* out)>;

  static constexpr size_t kMaxDeltaKeys = 16384;

  // One decoded INSERT/UPDATE/DELETE of `mirror`'s source: applied to the mirror at once (the
  // next change may read the row), its effect on the readers recorded in the source's delta.
  // `readers` are the source's maintained readers with whether they apply this transaction.
  // Errors of one reader go to `on_error`; a mirror error goes to every applying reader.
  // `on_mirror` (optional) sees the mirror's outcome and the old/new rows (a running bootstrap's
  // catch-up log, bootstrap_job.cc).
  using MirrorFn = std::function<void(const Status& st, const std::optional<Row>& old_row,
                                      const std::optional<Row>& new_row)>;
  Status ApplyChange(Batch* b, SourceMirror* mirror, const Change& c, const std::vector<Reader>& readers,
                     const ReadersFn& current, const ErrorFn& on_error, const MirrorFn& on_mirror = nullptr);
  // End of the batch: the consolidated deltas go through the readers' circuits, then every
  // table in `all` finishes its batch (operators and pending output reach the batch).
  Status Finish(Batch* b, const ReadersFn& current, const std::vector<Reader>& all, const ErrorFn& on_error);
  // The source's mirror was dropped in this batch (TRUNCATE, stale file): its readers are
  // bootstrapped again, nothing more of this batch's changes is pushed to them.
  void DropSource(Oid relid);

 private:
  // One source key's rows at the start of the batch (or of the last early push) and now.
  struct KeyDelta {
    std::optional<Row> before, after;
  };
  struct SourceDelta {
    std::unordered_map<std::string, KeyDelta> keys;
    std::set<int64_t> one_by_one;   // readers that skipped a change of this source in this batch
  };
  void CheckBatch(Batch* b);
  void Note(SourceDelta* d, std::string key, std::optional<Row>* before, std::optional<Row>&& after);
  Status Push(Batch* b, Oid relid, SourceDelta* d, const ReadersFn& current, const ErrorFn& on_error);

  std::map<Oid, SourceDelta> sources_;
  size_t keys_ = 0;            // keys held over all sources
  uint64_t batch_serial_ = 0;
  std::vector<Reader> scratch_;
};

}  // namespace pgt::engine
