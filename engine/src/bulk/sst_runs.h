// SstRuns: bulk loading of one column family for bootstraps, instead of one WriteBatch per chunk
// of rows. Puts are appended to an in-memory run (one arena); a full run is sorted by key (ties
// in put order: for a key put twice in a run the later put wins), written with
// rocksdb::SstFileWriter and ingested (IngestExternalFile: atomic and durable, no WAL, no
// memtable). Runs are ingested in order, each getting a newer sequence number than the last, so
// across runs the later put wins too — the same "last write wins" as a WriteBatch, which is what
// pending output needs (an aggregate group emitted in one chunk and changed in the next).
//
// Pipelined (issue 10): a full run is handed to this object's writer thread, which sorts, writes
// and ingests it while the caller fills the next run, so decoding and the circuit overlap with
// sorting, compression and file writes. At most one run waits or is being written (a caller that
// fills another first waits for it): memory is bounded by two runs. One writer thread, FIFO, keeps
// the ingestion order. Keys already in order (a mirror of a table loaded in key order) skip the
// sort; other runs are sorted on fixed-size entries carrying the key's first 16 bytes, so most
// comparisons are two integer compares (pending output is keyed by a hash: random order).
//
// Merge mode (`merge_at_end`, for pending output, keyed by a hash: every run spans the whole key
// range): runs are not ingested one by one (overlapping L0 files, compacted during the load) but
// spilled to scratch files and merged at Flush into non-overlapping files ingested at once
// (bulk/spill_runs.h). A load that fits in one run is written and ingested directly.
//
// Used through Batch::RouteToBulk (state_store.h): the bootstrap's batch hands every write of
// the column families that the circuit never reads during a load (mirror rows, pending output)
// to a run; nothing ingested is readable through a table until the bootstrap registers it.
// Put/Delete/Flush belong to one thread (the loader's); not otherwise thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "state/state_store.h"

namespace pgt::engine {

class SstRuns : public BulkSink {
 public:
  // Files are written in `dir` (created; a crashed bootstrap's leftovers are removed by the
  // caller). A run is handed to the writer when its arena reaches `run_bytes`.
  SstRuns(StateStore* store, Cf cf, std::string dir, size_t run_bytes, bool merge_at_end = false);
  ~SstRuns() override;   // waits for the writer (a run in flight is still ingested)
  void Put(std::string_view key, std::string_view value) override;
  void Delete(std::string_view key) override;
  // Writes and ingests what is buffered and waits for the writer. The first error is kept and
  // returned by every later call.
  Status Flush();
  Status status();
  int64_t files();
  int64_t entries();
  // Merge mode: called about every `every` from Flush's thread while the spilled runs are
  // merged, with the records merged so far and the total spilled (later writes of a key in
  // other runs included), and once when the merge is over (done == total then).
  void set_merge_progress(std::function<void(int64_t done, int64_t total)> f, std::chrono::milliseconds every) {
    merge_progress_ = std::move(f);
    merge_progress_every_ = every;
  }

  struct Entry {
    uint64_t h0, h1;     // key bytes [0, 8) and [8, 16), big-endian, zero-padded
    uint32_t off;        // key at arena[off], then the value
    uint32_t klen, vlen;
    bool del;
  };
  struct Run {
    std::string arena;
    std::vector<Entry> entries;
    bool sorted = true;  // the keys arrived in strictly ascending order
  };

 private:
  void Add(std::string_view key, std::string_view value, bool del);
  void HandOver(bool last);        // the filled run to the writer (waits while it is busy)
  void WriterLoop();
  Status WriteRun(Run* run, int64_t file_no);
  Status SpillRun(Run* run, int64_t file_no);   // merge mode: to scratch files, per partition
  Status MergeSpills(int64_t* ingested);         // merge mode, at Flush: merge and ingest

  StateStore* store_;
  Cf cf_;
  std::string dir_;
  size_t run_bytes_;
  bool merge_at_end_;
  Run fill_;                       // the run being filled (caller's thread)
  int64_t handed_ = 0;             // runs handed over (file numbers)

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Run> queued_;    // the next run for the writer (at most one)
  int64_t queued_no_ = 0;
  bool queued_spill_ = false;
  bool busy_ = false;              // the writer is writing a run
  bool stop_ = false;
  Status status_;                  // first error (caller or writer)
  int64_t files_ = 0, entries_ = 0;
  std::unique_ptr<Run> spare_;     // a written run's buffers, reused for the next fill
  // Merge mode (writer thread, then Flush once the writer is idle): partition bounds chosen from
  // the first spilled run (partition p holds keys in [splits_[p-1], splits_[p])), and each
  // partition's scratch files in run order.
  std::vector<std::string> splits_;
  std::vector<std::vector<std::string>> spills_;
  int64_t spilled_ = 0;            // records in the scratch files (writer thread, then Flush)
  std::function<void(int64_t, int64_t)> merge_progress_;
  std::chrono::milliseconds merge_progress_every_{5000};
  std::thread writer_;
};

}  // namespace pgt::engine
