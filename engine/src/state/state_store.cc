#include "state/state_store.h"

#include "log.h"

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/experimental.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

namespace pgt::engine {
namespace {
const char* kCfNames[] = {"meta", "mirror", "agg", "minmax", "pending"};

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::IOError("RocksDB " + what + ": " + s.ToString());
}

bool HasPrefix(const rocksdb::Slice& key, std::string_view prefix) {
  return key.size() >= prefix.size() && std::memcmp(key.data(), prefix.data(), prefix.size()) == 0;
}

using ScanFn = std::function<bool(std::string_view, std::string_view)>;

// `base` (nullptr: absent) with the count delta `operand` applied (state_store.h, "Counted
// entries"): counts add up; an absent entry or one at count 0 takes the operand's payload.
std::string ApplyCount(const std::string_view* base, std::string_view operand) {
  const bool present = base && base->size() >= 8 && CountOf(*base) != 0;
  const int64_t count = (present ? CountOf(*base) : 0) + CountOf(operand);
  return CountedEntry(count, present ? base->substr(8) : operand.substr(8));
}

// The minmax family's merge operator: applies count deltas in order. No partial merge: two
// deltas cannot be combined without the base (whether the count passes 0 in between decides
// which payload is kept), so RocksDB stacks them until a read or a compaction reaches the base.
class CountMergeOperator : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::string acc;
    std::string_view base_view;
    const std::string_view* base = nullptr;
    if (in.existing_value) {
      base_view = std::string_view(in.existing_value->data(), in.existing_value->size());
      base = &base_view;
    }
    for (const rocksdb::Slice& op : in.operand_list) {
      if (op.size() < 8) return false;   // not a count delta: corruption, reported by RocksDB
      acc = ApplyCount(base, std::string_view(op.data(), op.size()));
      base_view = acc;
      base = &base_view;
    }
    out->new_value = std::move(acc);
    return true;
  }
  const char* Name() const override { return "pgt.CountMerge"; }
};

// Drops counted entries whose count reached 0 (left by merges; readers skip them meanwhile).
// Dropping one at any level is exact: RocksDB turns it into a deletion of the older versions.
class ZeroCountFilter : public rocksdb::CompactionFilter {
 public:
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*, bool*) const override {
    return value.size() >= 8 && CountOf(std::string_view(value.data(), value.size())) == 0;
  }
  const char* Name() const override { return "pgt.ZeroCountFilter"; }
};

// The memtable insert hint's prefix (StateStore::Open): the key's first byte, for keys longer
// than kMaxRangeDeleteKey only. RocksDB 7.8 keeps one set of hints per memtable but inserts
// range deletions into a second skiplist through the same hints (MemTable::Add), so a range
// deletion's start key must never be in the domain: a hint from the other list corrupts the
// memtable (StateStoreTest.HintedInsertsAroundPrefixDeletionsMatchAModel trips a RocksDB
// assertion without this). DeletePrefix issues range deletions only for prefixes of at most
// kMaxRangeDeleteKey bytes (a table prefix + one tag byte, a mirror prefix) and deletes under
// a longer prefix key by key.
constexpr size_t kMaxRangeDeleteKey = 9;
class InsertHintPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "pgt.InsertHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return rocksdb::Slice(key.data(), 1); }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > kMaxRangeDeleteKey; }
};

std::atomic<uint64_t> next_batch_serial{1};
uint64_t NextBatchSerial() { return next_batch_serial.fetch_add(1, std::memory_order_relaxed); }

// A RocksDB iterator bounded to [lower, upper) (upper "" = unbounded): a scan of a prefix
// never steps over deleted entries (tombstones) outside it, e.g. the pending rows of other
// tables merged since the last compaction.
class BoundedIterator {
 public:
  BoundedIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snap,
                  std::string_view lower, const std::string& upper)
      : lower_(lower), upper_(upper), lo_(lower_), hi_(upper_) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    ro.iterate_lower_bound = &lo_;
    if (!upper_.empty()) ro.iterate_upper_bound = &hi_;
    it_.reset(db->NewIterator(ro, cf));
  }
  rocksdb::Iterator* get() { return it_.get(); }

 private:
  std::string lower_, upper_;
  rocksdb::Slice lo_, hi_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Visits the keys with `prefix` in key order until `fn` returns false.
Status ScanPrefix(rocksdb::Iterator* it, std::string_view prefix, const ScanFn& fn) {
  it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
  for (; it->Valid() && HasPrefix(it->key(), prefix); it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size())))
      break;
  }
  return FromRocks(it->status(), "scan");
}
}  // namespace

void AppendBE64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBE64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

std::string CountedEntry(int64_t count, std::string_view payload) {
  std::string e;
  e.reserve(8 + payload.size());
  AppendBE64(&e, static_cast<uint64_t>(count));
  e.append(payload);
  return e;
}

int64_t CountOf(std::string_view entry) { return entry.size() < 8 ? 0 : static_cast<int64_t>(ReadBE64(entry)); }

const char* CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

std::string TablePrefix(int64_t table_id) {
  std::string p;
  AppendBE64(&p, static_cast<uint64_t>(table_id));
  return p;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    auto c = static_cast<uint8_t>(prefix.back());
    if (c != 0xff) { prefix.back() = static_cast<char>(c + 1); return prefix; }
    prefix.pop_back();
  }
  return prefix;
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir) {
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  // Memory (issue 10, "state at scale": RSS <= 512 MB): RocksDB's defaults allow two 64 MB
  // memtables per column family, 640 MB over our five. All memtables together are held to
  // kMemtableBudget: past it the largest is flushed.
  constexpr size_t kMemtableBudget = size_t{128} << 20;
  dbo.db_write_buffer_size = kMemtableBudget;
  rocksdb::ColumnFamilyOptions cfo;
  // Point lookups (mirror rows, aggregate groups, MIN/MAX entries) mostly hit or miss in
  // memory: bloom filters skip SST files that lack the key, and one shared block cache keeps hot
  // blocks decoded.
  //
  // Filters and indexes are partitioned (blocks of ~4 KB under a small pinned top level): a whole
  // filter of an SST file with 1M keys is ~1.2 MB, larger than a shard of the cache (64 MB in 64
  // shards by default), so it was never kept: every Get read the whole filter from the file and
  // checksummed it — 55 % of the engine's CPU on tpcb at scale 10 (1M-row mirror, one bulk-loaded
  // file). Fewer, larger shards for the same reason (an index or data block of a big row).
  static std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(64 << 20, /*num_shard_bits=*/4);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cfo.compression = rocksdb::kLZ4Compression;     // hot levels: cheap
  cfo.bottommost_compression = rocksdb::kZSTD;    // cold data: small
  cfo.write_buffer_size = kMemtableBudget / 4;
  // Memtable inserts (the commit's main cost: ~40 % of the apply path's instructions were key
  // comparisons in the skiplist) start from the previous insert's position. Commit writes every
  // family's keys in ascending order, but RocksDB's ordinary sequential-insert shortcut only
  // helps when the next key lands in the same gap of the bottom level, which almost never
  // happens in a memtable that already holds the state's keys: each insert searched from the
  // top. With an insert hint the search climbs from the last position only as far as needed.
  // The hint is kept per key prefix (InsertHintPrefix: the first byte, and never for a key that
  // may start a range deletion); it is memtable-only (nothing on disk changes) and ignored by
  // concurrent memtable writes.
  static const std::shared_ptr<const rocksdb::SliceTransform> hint_prefix = std::make_shared<InsertHintPrefix>();
  cfo.memtable_insert_with_hint_prefix_extractor = hint_prefix;
  // Pending rows are deleted once merged and MIN/MAX entries when their count reaches zero:
  // an SST file dense in deletions is compacted early, so prefix scans and extreme seeks do not
  // keep stepping over the same tombstones.
  cfo.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/10000, /*deletion_trigger=*/5000,
                                                    /*deletion_ratio=*/0.5));
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  descs.emplace_back(rocksdb::kDefaultColumnFamilyName, cfo);
  // Pending output is written by batches and deleted by merges about once per schedule period:
  // its live rows are few, but every merge and count walks the tombstones of merged rows until
  // they are compacted away. A small memtable keeps that garbage short (flushed, then dropped by
  // compaction) — with the default 64 MB, a full-mode run spent most of the engine's time
  // iterating over deleted pending keys.
  rocksdb::ColumnFamilyOptions pending_cfo = cfo;
  pending_cfo.write_buffer_size = 4 << 20;
  pending_cfo.level0_file_num_compaction_trigger = 2;
  // MIN/MAX and DISTINCT multisets: counted entries (state_store.h), changed by merge operands.
  static const ZeroCountFilter zero_count_filter;
  rocksdb::ColumnFamilyOptions minmax_cfo = cfo;
  minmax_cfo.merge_operator = std::make_shared<CountMergeOperator>();
  minmax_cfo.compaction_filter = &zero_count_filter;
  for (const char* n : kCfNames) {
    const std::string name(n);
    descs.emplace_back(n, name == "pending" ? pending_cfo : name == "minmax" ? minmax_cfo : cfo);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(dbo, dir, descs, &handles, &raw);
  if (!s.ok()) return Status::IOError("cannot open state directory " + dir + ": " + s.ToString());
  auto store = std::unique_ptr<StateStore>(new StateStore());
  store->db_.reset(raw);
  for (int i = 0; i < static_cast<int>(Cf::kCount); ++i) store->cfs_[i] = handles[i + 1];
  delete handles[0];  // default CF handle unused
  return store;
}

StateStore::~StateStore() {
  if (db_) {
    for (auto* h : cfs_) if (h) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

Result<std::optional<std::string>> StateStore::Get(Cf cf, std::string_view key) {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cfs_[static_cast<int>(cf)], rocksdb::Slice(key.data(), key.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  PGT_RETURN_IF_ERROR(FromRocks(s, "get"));
  return std::optional<std::string>(std::move(v));
}

Status StateStore::Scan(Cf cf, std::string_view prefix, const ScanFn& fn) {
  BoundedIterator it(db_.get(), cfs_[static_cast<int>(cf)], nullptr, prefix, PrefixSuccessor(std::string(prefix)));
  return ScanPrefix(it.get(), prefix, fn);
}

StoreSnapshot::~StoreSnapshot() { db_->ReleaseSnapshot(snap_); }

std::unique_ptr<StoreSnapshot> StateStore::Snapshot() {
  return std::unique_ptr<StoreSnapshot>(new StoreSnapshot(db_.get(), db_->GetSnapshot()));
}

Status StateStore::Scan(const StoreSnapshot& snap, Cf cf, std::string_view prefix, const ScanFn& fn) {
  BoundedIterator it(db_.get(), cfs_[static_cast<int>(cf)], snap.snap_, prefix, PrefixSuccessor(std::string(prefix)));
  return ScanPrefix(it.get(), prefix, fn);
}

// The batch is written in key order, one entry per key (the map holds only the last write of
// each key): overwritten values never reach the WAL, and the memtable's skiplist inserts keys
// in order, reusing the previous insert's position instead of a fresh descent per key.
Status StateStore::Commit(Batch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  size_t bytes = 12;   // the WriteBatch header; then per entry its type, column family, lengths
  for (const auto& w : batch->writes_)
    for (const auto& [k, slot] : w.map) bytes += k.size() + slot.value.size() + 16;
  rocksdb::WriteBatch sorted(bytes);   // one allocation, no regrowth while the batch is copied
  std::vector<std::pair<std::string_view, const Batch::Slot*>> keys;
  for (int c = 0; c < static_cast<int>(Cf::kCount); ++c) {
    auto& w = batch->writes_[c];
    keys.clear();
    keys.reserve(w.map.size());
    batch->ops_.committed[c] += w.map.size();
    if (w.indexed) {
      for (std::string_view k : w.order) keys.emplace_back(k, &w.map.find(k)->second);
    } else {
      for (const auto& [k, slot] : w.map) keys.emplace_back(k, &slot);
      std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    for (const auto& [k, slot] : keys) {
      rocksdb::Slice key(k.data(), k.size());
      const rocksdb::Slice value(slot->value.data(), slot->value.size());
      rocksdb::Status st = slot->kind == Batch::SlotKind::kDel   ? sorted.Delete(cfs_[c], key)
                           : slot->kind == Batch::SlotKind::kPut ? sorted.Put(cfs_[c], key, value)
                                                                 : sorted.Merge(cfs_[c], key, value);
      PGT_RETURN_IF_ERROR(FromRocks(st, "batch"));
    }
  }
  auto s = db_->Write(wo, &sorted);
  PGT_RETURN_IF_ERROR(FromRocks(s, "write"));
  batch->Clear();
  batch->serial_ = NextBatchSerial();
  return Status::Ok();
}

Status StateStore::DeletePrefix(Cf cf, std::string_view prefix) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::string end = PrefixSuccessor(std::string(prefix));
  if (end.empty()) return Status::InvalidArgument("DeletePrefix: empty prefix");
  if (prefix.size() > kMaxRangeDeleteKey) {   // no range deletion (see InsertHintPrefix): key by key
    Batch b(this);
    PGT_RETURN_IF_ERROR(Scan(cf, prefix, [&](std::string_view k, std::string_view) {
      b.Delete(cf, k);
      return true;
    }));
    return Commit(&b);
  }
  auto s = db_->DeleteRange(wo, cfs_[static_cast<int>(cf)], rocksdb::Slice(prefix.data(), prefix.size()), end);
  return FromRocks(s, "delete range");
}

Status StateStore::CompactAll(Cf cf) {
  rocksdb::FlushOptions fo;
  rocksdb::ColumnFamilyHandle* h = cfs_[static_cast<int>(cf)];
  PGT_RETURN_IF_ERROR(FromRocks(db_->Flush(fo, h), "flush"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(db_->CompactRange(co, h, nullptr, nullptr), "compaction");
}

void StateStore::CompactSoon(Cf cf, std::string_view prefix) {
  rocksdb::ColumnFamilyHandle* h = cfs_[static_cast<int>(cf)];
  rocksdb::FlushOptions fo;
  fo.wait = false;
  fo.allow_write_stall = true;
  const std::string lo(prefix), hi = PrefixSuccessor(std::string(prefix));
  const rocksdb::Slice begin(lo), end(hi);
  // Both only schedule background work; a failure costs speed (scans step over the deletions
  // until an ordinary compaction drops them), never data: logged, not returned.
  auto f = db_->Flush(fo, h);
  auto c = rocksdb::experimental::SuggestCompactRange(db_.get(), h, &begin, hi.empty() ? nullptr : &end);
  if (!f.ok() || !c.ok())
    PGT_LOG_WARN("compaction after many deletions not scheduled: ", (f.ok() ? c : f).ToString());
}

uint64_t StateStore::DeletionEntries(Cf cf) {
  rocksdb::ColumnFamilyHandle* h = cfs_[static_cast<int>(cf)];
  uint64_t n = 0, v = 0;
  if (db_->GetIntProperty(h, "rocksdb.num-deletes-active-mem-table", &v)) n += v;
  if (db_->GetIntProperty(h, "rocksdb.num-deletes-imm-mem-tables", &v)) n += v;
  rocksdb::TablePropertiesCollection props;
  if (db_->GetPropertiesOfAllTables(h, &props).ok())
    for (const auto& [file, p] : props) n += p->num_deletions;
  return n;
}

uint64_t StateStore::ApproximateSize() {
  uint64_t total = 0, v = 0;
  for (auto* h : cfs_) {
    if (db_->GetIntProperty(h, "rocksdb.total-sst-files-size", &v)) total += v;
  }
  return total;
}

Batch::Batch(StateStore* store) : store_(store), serial_(NextBatchSerial()) {}
Batch::~Batch() = default;

void Batch::Clear() {
  for (auto& w : writes_) {
    w.order.clear();
    w.map.clear();
    w.indexed = false;
  }
  count_ = 0;
}

static Status RoutedRead(Cf cf) {
  return Status::Internal("read of column family " + std::string(kCfNames[static_cast<int>(cf)]) +
                          " while it is bulk loaded");
}

Result<std::optional<std::string>> Batch::Get(Cf cf, std::string_view key) {
  if (bulk_[static_cast<int>(cf)]) return RoutedRead(cf);
  auto& map = writes_[static_cast<int>(cf)].map;
  auto it = map.find(key);
  if (it != map.end()) {
    ++ops_.get_hit[static_cast<int>(cf)];
    const Slot& slot = it->second;
    if (slot.kind == SlotKind::kDel) return std::optional<std::string>();
    if (slot.kind == SlotKind::kPut) return std::optional<std::string>(slot.value);
    PGT_ASSIGN_OR_RETURN(auto base, store_->Get(cf, key));   // the committed entry + the delta
    std::string_view bv = base ? std::string_view(*base) : std::string_view();
    return std::optional<std::string>(ApplyCount(base ? &bv : nullptr, slot.value));
  }
  ++ops_.get_db[static_cast<int>(cf)];
  return store_->Get(cf, key);
}

// The key's slot in the batch, created (and indexed) on its first write.
Batch::Slot* Batch::SlotFor(Cf cf, std::string_view key) {
  auto& w = writes_[static_cast<int>(cf)];
  // One hash and probe (find + emplace hashed the key twice; most writes are a key's first in
  // the batch). The key is copied even when present: keys rewritten in a batch (mirror rows) are
  // short enough not to allocate.
  auto [it, fresh] = w.map.try_emplace(std::string(key));
  if (fresh) {
    if (w.indexed) w.order.insert(std::string_view(it->first));
    ++count_;
  }
  return &it->second;
}

void Batch::Put(Cf cf, std::string_view key, std::string_view value) {
  if (BulkSink* sink = bulk_[static_cast<int>(cf)]) return sink->Put(key, value);
  ++ops_.put[static_cast<int>(cf)];
  Slot* s = SlotFor(cf, key);
  s->value.assign(value.data(), value.size());
  s->kind = SlotKind::kPut;
}

void Batch::Delete(Cf cf, std::string_view key) {
  if (BulkSink* sink = bulk_[static_cast<int>(cf)]) return sink->Delete(key);
  ++ops_.del[static_cast<int>(cf)];
  Slot* s = SlotFor(cf, key);
  s->value.clear();
  s->kind = SlotKind::kDel;
}

Status Batch::MergeCount(Cf cf, std::string_view key, int64_t delta, std::string_view payload) {
  ++ops_.merge[static_cast<int>(cf)];
  std::string op = CountedEntry(delta, payload);
  auto& map = writes_[static_cast<int>(cf)].map;
  auto it = map.find(key);
  if (it == map.end()) {   // the usual case: one delta per key and batch, no read
    Slot* s = SlotFor(cf, key);
    s->value = std::move(op);
    s->kind = SlotKind::kMerge;
    return Status::Ok();
  }
  Slot& s = it->second;
  if (s.kind == SlotKind::kMerge) {   // a second delta (rare): resolve the first over the committed entry
    PGT_ASSIGN_OR_RETURN(auto base, store_->Get(cf, key));
    std::string_view bv = base ? std::string_view(*base) : std::string_view();
    s.value = ApplyCount(base ? &bv : nullptr, s.value);
    s.kind = SlotKind::kPut;
  }
  std::string_view cur = s.value;
  s.value = ApplyCount(s.kind == SlotKind::kPut ? &cur : nullptr, op);   // after a deletion: absent
  s.kind = SlotKind::kPut;
  return Status::Ok();
}

// What a scan shows for a batch key: its value, or its count delta applied to the committed
// entry at the iterator (nullptr: none).
std::string_view Batch::SlotValue(const Slot& slot, rocksdb::Iterator* committed, std::string* buf) {
  if (slot.kind != SlotKind::kMerge) return slot.value;
  std::string_view base;
  if (committed) base = std::string_view(committed->value().data(), committed->value().size());
  *buf = ApplyCount(committed ? &base : nullptr, slot.value);
  return *buf;
}

Status Batch::Scan(Cf cf, std::string_view prefix, const ScanFn& fn) { return ScanWithBase(cf, prefix, false, fn); }

Status Batch::ScanReverse(Cf cf, std::string_view prefix, const ScanFn& fn) { return ScanWithBase(cf, prefix, true, fn); }

// The batch's writes merged over the committed state, in key order (or reverse): a key the
// batch wrote shows the batch's value (or nothing, if deleted). Writes made by `fn` during the
// scan may or may not be visited (as with any iterator over a changing batch).
Status Batch::ScanWithBase(Cf cf, std::string_view prefix, bool reverse, const ScanFn& fn) {
  if (bulk_[static_cast<int>(cf)]) return RoutedRead(cf);
  ++ops_.scan[static_cast<int>(cf)];
  auto& w = writes_[static_cast<int>(cf)];
  if (!w.indexed) {   // the family's first scan in this batch: index its keys from now on
    for (const auto& [k, slot] : w.map) w.order.insert(std::string_view(k));
    w.indexed = true;
  }
  const std::string end = PrefixSuccessor(std::string(prefix));
  BoundedIterator db(store_->db_.get(), store_->cfs_[static_cast<int>(cf)], nullptr, prefix, end);
  rocksdb::Iterator* it = db.get();
  // The batch's keys with the prefix: [lo, hi).
  auto lo = w.order.lower_bound(prefix);
  auto hi = end.empty() ? w.order.end() : w.order.lower_bound(std::string_view(end));
  auto in_range = [&](std::string_view k) { return HasPrefix(rocksdb::Slice(k.data(), k.size()), prefix); };
  std::string merged;   // a count delta applied to the committed entry
  if (!reverse) {
    it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
    auto bi = lo;
    for (;;) {
      const bool db_ok = it->Valid() && HasPrefix(it->key(), prefix);
      const bool b_ok = bi != hi && in_range(*bi);
      if (!db_ok && !b_ok) break;
      int cmp = !db_ok ? 1 : !b_ok ? -1 : it->key().compare(rocksdb::Slice(bi->data(), bi->size()));
      if (cmp < 0) {   // only in the committed state
        if (!fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size())))
          break;
        it->Next();
        continue;
      }
      std::string_view k = *bi;
      const Slot& slot = w.map.find(k)->second;
      ++bi;
      std::string_view value = SlotValue(slot, cmp == 0 ? it : nullptr, &merged);
      if (cmp == 0) it->Next();   // the batch's write shadows the committed value
      if (!slot.del() && !fn(k, value)) break;
    }
  } else {
    it->SeekToLast();   // the last key below the upper bound
    auto bi = hi;
    for (;;) {
      const bool db_ok = it->Valid() && HasPrefix(it->key(), prefix);
      const bool b_ok = bi != lo && in_range(*std::prev(bi));
      if (!db_ok && !b_ok) break;
      int cmp = !db_ok ? -1 : !b_ok ? 1 : it->key().compare(rocksdb::Slice(std::prev(bi)->data(), std::prev(bi)->size()));
      if (cmp > 0) {
        if (!fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size())))
          break;
        it->Prev();
        continue;
      }
      --bi;
      std::string_view k = *bi;
      const Slot& slot = w.map.find(k)->second;
      std::string_view value = SlotValue(slot, cmp == 0 ? it : nullptr, &merged);
      if (cmp == 0) it->Prev();
      if (!slot.del() && !fn(k, value)) break;
    }
  }
  return FromRocks(it->status(), reverse ? "reverse scan" : "scan");
}

Status StateStore::CreateCheckpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  PGT_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  return FromRocks(cp->CreateCheckpoint(dir), "checkpoint into " + dir);
}

}  // namespace pgt::engine
