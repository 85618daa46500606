// A merge's pending rows in bounded memory (issue 10): read from the RocksDB snapshot taken when
// the merge was prepared, chunk by chunk, and — once the merge landed — removed by walking that
// same snapshot again beside the current state (no copy of the rows is kept in between).
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "merge.h"
#include "state/state_store.h"

namespace pgt::engine {

// Rows per chunk (decoded rows handed to one COPY piece; pending removals per RocksDB write).
// Test-only override: PGT_TEST_MERGE_CHUNK_ROWS (> 0), so that tests cross chunk boundaries
// with a few rows. A chunk also ends past kMergeChunkBytes of encoded values (wide rows).
size_t MergeChunkRows();
constexpr size_t kMergeChunkBytes = size_t{4} << 20;
// Removals after one merge from which the pending prefix is flushed and compacted soon.
constexpr int64_t kCompactAfterRemovals = 10000;

// True if the snapshot holds a pending row under `prefix`.
Result<bool> AnyPending(StateStore* store, const StoreSnapshot& snap, std::string_view prefix);

// Decodes the snapshot's pending rows under `prefix` in key order and hands them to `emit` a
// chunk at a time (at most MergeChunkRows() rows or about kMergeChunkBytes of values).
Status ScanPendingChunks(StateStore* store, const StoreSnapshot& snap, std::string_view prefix,
                         const PendingChunkFn& emit);

// After a merge of the snapshot's pending rows landed: removes each pending row under `prefix`
// whose current committed value is still the snapshot's (it is in the table now; a changed one
// is merged next time). `first` (the merge's frontier and header writes) is committed together
// with the first deletions, later deletions in further writes of MergeChunkRows() keys: no
// deletion is ever durable before the frontier that makes it right. `on_first_written` runs
// once that first write succeeded (the merge's outcome is then recorded). Returns the status of
// that first write; a later write that fails leaves rows pending (merged again next time,
// harmless) and is logged.
Status RemoveMergedPending(StateStore* store, const StoreSnapshot& snap, std::string_view prefix, Batch* first,
                           const std::function<void()>& on_first_written);

}  // namespace pgt::engine
