// Spilled runs and their merge (issue 10): the bulk load of a column family whose keys arrive in
// random order (pending output, keyed by a hash of the row identity). Ingesting each sorted run
// as it fills makes every file span the whole key range: they land in L0 and RocksDB compacts
// them into each other during the load (13.5 % of a projection's engine CPU when profiled).
// Instead each sorted run is written to a plain scratch file (length-prefixed records, no
// compression, no index), split into key-range partitions chosen from the first run; at the end
// the runs of each partition are merged (k-way, the later run wins a key written in several)
// into one SST file per partition, on one thread per partition, and all of them are ingested in
// one call: non-overlapping files, placed in the lowest level, never compacted by the load.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "state/state_store.h"

namespace pgt::engine {

// Appends records (key, value, deletion flag) to a scratch file through a buffer.
class SpillWriter {
 public:
  ~SpillWriter();
  Status Open(const std::string& path);
  void Add(std::string_view key, std::string_view value, bool del);
  Status Close();

 private:
  void Drain();
  std::string path_;
  std::FILE* f_ = nullptr;
  std::string buf_;
  bool failed_ = false;
};

// Reads a scratch file back record by record; the current record stays valid until Next.
class SpillReader {
 public:
  ~SpillReader();
  Status Open(const std::string& path);
  // False at the end of the file (or on an error: see status()).
  bool Next();
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  bool del() const { return del_; }
  const Status& status() const { return status_; }

 private:
  bool Fill(size_t need);   // at least `need` unread bytes buffered (false at the end)
  std::string path_;
  std::FILE* f_ = nullptr;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  std::string_view key_, value_;
  bool del_ = false;
  Status status_;
};

// Merges the scratch files `runs` (each sorted, no key twice; later files win a shared key)
// into one SST file at `out` for `cf`; `*written` = false when they hold nothing. `*done` (if
// given) counts the records read from the runs, for progress from another thread.
Status MergeRunsToSst(StateStore* store, Cf cf, const std::vector<std::string>& runs, const std::string& out,
                      bool* written, std::atomic<int64_t>* done = nullptr);

}  // namespace pgt::engine
