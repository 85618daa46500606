// BootstrapLoader: pushes a bootstrap's source rows (weight +1) into a new stream table's circuit
// and the mirrors built with it, writing in bulk (issue 10):
//  - mirror rows and pending output, which nothing reads while a table loads, go to sorted runs
//    ingested as SST files (bulk/sst_runs.h) instead of one synced WriteBatch per chunk;
//  - operator state (aggregate groups, arrangements, DISTINCT counts), which the operators read
//    back, stays in a batch committed every kChunkRows rows, after the consolidating operators
//    flushed (aggregate groups emit once per chunk, not once per row);
//  - progress: the live counters (/status, /metrics) per chunk and a bootstrap_progress event
//    every few seconds (rows, rows/s, the expected total).
// Nothing is registered here: Finish() leaves every row durable but unreachable until the
// caller commits the table's registration (a crash before that is wiped by the next attempt).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "bulk/sst_runs.h"
#include "metrics.h"
#include "source_mirror.h"
#include "stream_table.h"

namespace pgt::engine {

class BootstrapLoader {
 public:
  // `tmp_dir`: scratch directory for SST files (emptied first). `expected_rows`: an estimate for
  // progress (0 = unknown).
  BootstrapLoader(StateStore* store, StreamTable* table, const std::string& tmp_dir, LiveProgress* live,
                  int64_t expected_rows);
  ~BootstrapLoader();
  // One source row; `mirror` (may be null) also gets it.
  Status Add(Oid relid, SourceMirror* mirror, const Row& row);
  // Flushes the circuit and the runs; every row is durable (not registered) when this returns.
  Status Finish();
  int64_t rows() const { return rows_; }
  // Checked once per chunk: when set, Add fails with Unavailable("cancelled").
  void set_cancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }
  double seconds() const;

 private:
  Status EndChunk();

  StateStore* store_;
  StreamTable* table_;
  std::string tmp_dir_;
  LiveProgress* live_;
  int64_t expected_;
  Batch batch_;
  SstRuns mirror_runs_, pending_runs_;
  int64_t rows_ = 0;
  std::chrono::steady_clock::time_point started_, last_event_;
  int64_t rows_at_last_event_ = 0;
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace pgt::engine
