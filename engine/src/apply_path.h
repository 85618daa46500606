// ApplyPath: the engine's apply path for one batch of decoded transactions (DESIGN §5):
//
//   decoded change --SourceMirror::Apply--> (old row, new row) of one source key
//     --ApplyPath--> every stream table reading the source: ApplySourceDelta (scans → operators)
//     --StreamTable::FinishBatch--> pending output, all in one Batch, committed atomically.
//
// The engine loop (mirrors.cc, engine.cc) and the in-process benchmark (engine/bench/) both go
// through this class, so the benchmark measures exactly the engine's code.
//
// Readers are told apart per change: a reader that applies the change (its applied position is
// below the transaction's end, invariant 1) gets it; a reader that skips it does not.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <utility>
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
  };
  // A reader could not apply a change (it stops being maintained; the others go on).
  using ErrorFn = std::function<void(int64_t id, const Status& why)>;
  // The readers of `relid` still maintained (not failed, not waiting for a re-bootstrap).
  using ReadersFn = std::function<void(Oid relid, std::vector<Reader>* out)>;

  // One decoded INSERT/UPDATE/DELETE of `mirror`'s source: applied to the mirror, then to the
  // readers that apply it. Errors of one reader go to `on_error`; a mirror error goes to every
  // applying reader. Returns an error only for a failure of the batch itself.
  Status ApplyChange(Batch* b, SourceMirror* mirror, const Change& c, const std::vector<Reader>& readers,
                     const ErrorFn& on_error);
  // End of the batch: every reader's pending work reaches the batch (before the batch commits).
  Status Finish(Batch* b, const ReadersFn& readers, const std::vector<Reader>& all, const ErrorFn& on_error);
  // The source's mirror was dropped in this batch (TRUNCATE, stale file): its readers are
  // bootstrapped again, nothing of this batch's changes is pushed to them any more.
  void DropSource(Oid relid);

 private:
  std::vector<Reader> scratch_;
};

}  // namespace pgt::engine
