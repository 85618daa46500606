// SstRuns: bulk loading of one column family for bootstraps, instead of one WriteBatch per chunk
// of rows. Puts are appended to an in-memory run (one arena); a full run is sorted by key (ties
// in put order: for a key put twice in a run the later put wins), written with
// rocksdb::SstFileWriter and ingested (IngestExternalFile: atomic and durable, no WAL, no
// memtable). Runs are ingested in order, each getting a newer sequence number than the last, so
// across runs the later put wins too — the same "last write wins" as a WriteBatch, which is what
// pending output needs (an aggregate group emitted in one chunk and changed in the next).
// Keys already in order (a mirror of a table loaded in key order) skip the sort.
//
// Used through Batch::RouteToBulk (state_store.h): the bootstrap's batch hands every write of
// the column families that the circuit never reads during a load (mirror rows, pending output)
// to a run; nothing ingested is readable through a table until the bootstrap registers it.
// Not thread-safe; one per column family and bootstrap.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "state/state_store.h"

namespace pgt::engine {

class SstRuns : public BulkSink {
 public:
  // Files are written in `dir` (created; a crashed bootstrap's leftovers are removed by the
  // caller). A run is flushed when its arena reaches `run_bytes`.
  SstRuns(StateStore* store, Cf cf, std::string dir, size_t run_bytes);
  ~SstRuns() override;
  void Put(std::string_view key, std::string_view value) override;
  void Delete(std::string_view key) override;
  // Writes and ingests what is buffered. The first error is kept and returned by every later call.
  Status Flush();
  Status status() const { return status_; }
  int64_t files() const { return files_; }
  int64_t entries() const { return entries_; }

 private:
  struct Entry {
    uint64_t off;        // key at arena_[off], then the value
    uint32_t klen, vlen;
    bool del;
  };
  void Add(std::string_view key, std::string_view value, bool del);

  StateStore* store_;
  Cf cf_;
  std::string dir_;
  size_t run_bytes_;
  std::string arena_;
  std::vector<Entry> run_;
  bool sorted_ = true;          // the run's keys arrived in strictly ascending order
  Status status_;
  int64_t files_ = 0, entries_ = 0;
};

}  // namespace pgt::engine
