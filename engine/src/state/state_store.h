// StateStore: the engine's one RocksDB instance (DESIGN §5 "State").
//
// Column families: meta (checkpoint, table registry, in-flight merges), mirror (source rows by
// key), agg (aggregate group state), minmax (MIN/MAX value multisets), pending (output rows not
// merged yet). Every processed batch of transactions is one atomic, synced write: a Batch keeps
// its writes in memory (per column family a hash map holding the last write of each key, plus an
// ordered index of the keys for scans and for the commit), so reads inside a batch see the
// batch's own writes (read-your-writes: the map first, then RocksDB) and nothing reaches disk
// until Commit(), which writes the keys in order, one entry each (a count delta of the minmax
// family as a merge operand, see "Counted entries" below). A StateStore may be used from several threads (RocksDB is
// thread-safe): merge threads read through snapshots and commit their own small batches; a
// bootstrap's thread writes its own table's keys (bootstrap_job.h). A Batch belongs to one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "walreader/status.h"

namespace rocksdb {
class DB;
class Iterator;
class Snapshot;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace pgt::engine {

enum class Cf { kMeta = 0, kMirror, kAgg, kMinMax, kPending, kCount };
const char* CfName(Cf cf);

class StateStore;

// A consistent read view of the committed state (rocksdb snapshot), for readers on other
// threads (merges, merge_pool.cc): later commits are not visible through it. Must be destroyed
// before its StateStore.
class StoreSnapshot {
 public:
  ~StoreSnapshot();
  StoreSnapshot(const StoreSnapshot&) = delete;
  StoreSnapshot& operator=(const StoreSnapshot&) = delete;

 private:
  friend class StateStore;
  StoreSnapshot(rocksdb::DB* db, const rocksdb::Snapshot* s) : db_(db), snap_(s) {}
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

// Bulk loading (bootstrap; bulk/sst_runs.h): receives the writes a Batch routes to it.
class BulkSink {
 public:
  virtual ~BulkSink() = default;
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view key) = 0;
};

// What a Batch was asked to do, per column family (apply_bench reports it per source change):
// reads answered by the batch's own writes, reads that went to RocksDB, writes by kind (a
// write of a key already written in the batch counts too: it replaces the first one) and the
// entries its commits wrote (one per distinct key).
struct BatchOps {
  static constexpr int kCfs = static_cast<int>(Cf::kCount);
  uint64_t get_hit[kCfs] = {}, get_db[kCfs] = {}, put[kCfs] = {}, del[kCfs] = {}, merge[kCfs] = {},
           scan[kCfs] = {}, committed[kCfs] = {};
};

class Batch {
 public:
  explicit Batch(StateStore* store);
  ~Batch();
  Result<std::optional<std::string>> Get(Cf cf, std::string_view key);
  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);
  // A counted entry's delta (minmax family only; see "Counted entries" below): adds `delta` to
  // the key's count without reading it; `payload` is kept if the entry is absent (count 0).
  Status MergeCount(Cf cf, std::string_view key, int64_t delta, std::string_view payload);
  // Visits keys with `prefix` in order (batch writes merged over the DB) until `fn` returns false.
  Status Scan(Cf cf, std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn);
  // The same in reverse key order.
  Status ScanReverse(Cf cf, std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn);
  size_t count() const { return count_; }   // distinct keys written
  bool empty() const { return count_ == 0; }
  // Unique per batch of writes: a new value after every Commit (and for every Batch object),
  // so in-memory caches of one batch's work (operators, pending) can tell that the batch they
  // belong to was committed or dropped.
  uint64_t serial() const { return serial_; }
  // Bootstrap bulk loading: writes of `cf` go to `sink` instead of this batch (nullptr: back to
  // the batch). Only for column families nothing reads during the load: a Get or Scan of a
  // routed family is an error.
  void RouteToBulk(Cf cf, BulkSink* sink) { bulk_[static_cast<int>(cf)] = sink; }
  // Counts of this Batch object's operations since it was made (kept across commits).
  const BatchOps& ops() const { return ops_; }

 private:
  friend class StateStore;
  Status ScanWithBase(Cf cf, std::string_view prefix, bool reverse,
                      const std::function<bool(std::string_view, std::string_view)>& fn);
  // The last write of one key: a value, a deletion, or a count delta not yet applied to the
  // committed entry (kMerge: `value` is the operand).
  enum class SlotKind : uint8_t { kPut, kDel, kMerge };
  struct Slot {
    std::string value;
    SlotKind kind = SlotKind::kPut;
    bool del() const { return kind == SlotKind::kDel; }
  };
  struct StrHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  // One column family's writes: the map owns the keys; `order` views them sorted (map nodes
  // never move, and nothing is erased before Commit clears both). The ordered index is built
  // on the family's first scan in the batch and kept from then on; a family never scanned
  // (mirror, pending) is sorted once at Commit instead.
  struct CfWrites {
    std::unordered_map<std::string, Slot, StrHash, std::equal_to<>> map;
    std::set<std::string_view> order;
    bool indexed = false;
  };
  Slot* SlotFor(Cf cf, std::string_view key);
  static std::string_view SlotValue(const Slot& slot, rocksdb::Iterator* committed, std::string* buf);
  void Clear();
  StateStore* store_;
  CfWrites writes_[static_cast<int>(Cf::kCount)];
  size_t count_ = 0;
  uint64_t serial_;
  BulkSink* bulk_[static_cast<int>(Cf::kCount)] = {};
  BatchOps ops_;
};

class StateStore {
 public:
  static Result<std::unique_ptr<StateStore>> Open(const std::string& dir);
  ~StateStore();

  Result<std::optional<std::string>> Get(Cf cf, std::string_view key);
  Status Scan(Cf cf, std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn);
  // The committed state as of now, and a scan of it. Thread-safe (RocksDB reads and writes are).
  std::unique_ptr<StoreSnapshot> Snapshot();
  Status Scan(const StoreSnapshot& snap, Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn);
  Status Commit(Batch* batch);                       // atomic + fsync'd
  Status DeletePrefix(Cf cf, std::string_view prefix);  // range delete, fsync'd
  // A full manual compaction of `cf` (tests: counted entries at count 0 are dropped).
  Status CompactAll(Cf cf);
  // After many deletions under `prefix`: flushes `cf`'s memtable without waiting and marks the
  // SST files overlapping the prefix for compaction, so that the deletions meet the rows they
  // delete and both go, instead of every later scan of the prefix stepping over them.
  void CompactSoon(Cf cf, std::string_view prefix);
  // Deletion entries RocksDB still holds for `cf` (memtables + SST files): what scans step over.
  uint64_t DeletionEntries(Cf cf);
  // Approximate bytes on disk (SST + WAL) for metrics.
  uint64_t ApproximateSize();
  // Issue 8: a consistent copy of the committed state in `dir` (must not exist), SST files
  // hard-linked (rocksdb::Checkpoint).
  Status CreateCheckpoint(const std::string& dir);
  // Bulk loading (implemented in bulk/sst_runs.cc): writes the entries `next` yields (keys
  // strictly ascending) as one SST file at `path` and ingests it into `cf` (the file is moved
  // into the store; ingested data is newer than everything before it).
  struct BulkEntry {
    std::string_view key, value;
    bool del = false;
  };
  Status IngestSorted(Cf cf, const std::string& path, const std::function<bool(BulkEntry*)>& next);
  // The two halves of IngestSorted: the file only (`*written` = false when `next` yields
  // nothing: no file), and one atomic ingestion of several files (keys must not overlap).
  Status WriteSorted(Cf cf, const std::string& path, const std::function<bool(BulkEntry*)>& next, bool* written);
  Status IngestFiles(Cf cf, const std::vector<std::string>& paths);

 private:
  friend class Batch;
  StateStore() = default;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* cfs_[static_cast<int>(Cf::kCount)] = {};
};

// Counted entries (the minmax family: MIN/MAX and DISTINCT value multisets): a value is
// BE64(count, two's complement) followed by a payload (the first representation seen). A count
// delta is written as a RocksDB merge operand of the same layout (Batch::MergeCount), so a
// multiset entry changes without a read; counts add up, and the payload of an entry whose count
// was 0 (absent) is the operand's. An entry whose count reaches 0 is left with count 0 until a
// compaction drops it: readers treat count 0 as absent (CountOf).
std::string CountedEntry(int64_t count, std::string_view payload);
int64_t CountOf(std::string_view entry);

// Big-endian fixed-width encodings: keys sort numerically.
void AppendBE64(std::string* out, uint64_t v);
uint64_t ReadBE64(std::string_view s);
std::string TablePrefix(int64_t table_id);   // 8 bytes
// Smallest key greater than every key with `prefix` ("" if none).
std::string PrefixSuccessor(std::string prefix);

}  // namespace pgt::engine
