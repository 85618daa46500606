#include "state/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <atomic>
#include <vector>

#include <rocksdb/cache.h>
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

std::atomic<uint64_t> next_batch_serial{1};
uint64_t NextBatchSerial() { return next_batch_serial.fetch_add(1, std::memory_order_relaxed); }

// Visits the keys with `prefix` in key order (or reverse order) until `fn` returns false.
Status ScanPrefix(rocksdb::Iterator* it, std::string_view prefix, bool reverse, const ScanFn& fn) {
  if (!reverse) {
    it->Seek(rocksdb::Slice(prefix.data(), prefix.size()));
  } else {
    std::string end = PrefixSuccessor(std::string(prefix));
    if (end.empty()) {
      it->SeekToLast();
    } else {
      it->Seek(end);
      if (it->Valid()) it->Prev();
      else it->SeekToLast();
    }
  }
  for (; it->Valid() && HasPrefix(it->key(), prefix); reverse ? it->Prev() : it->Next()) {
    if (!fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size())))
      break;
  }
  return FromRocks(it->status(), reverse ? "reverse scan" : "scan");
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
  static std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(64 << 20);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cfo.compression = rocksdb::kLZ4Compression;     // hot levels: cheap
  cfo.bottommost_compression = rocksdb::kZSTD;    // cold data: small
  cfo.write_buffer_size = kMemtableBudget / 4;
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
  for (const char* n : kCfNames) descs.emplace_back(n, std::string(n) == "pending" ? pending_cfo : cfo);
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
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[static_cast<int>(cf)]));
  return ScanPrefix(it.get(), prefix, /*reverse=*/false, fn);
}

StoreSnapshot::~StoreSnapshot() { db_->ReleaseSnapshot(snap_); }

std::unique_ptr<StoreSnapshot> StateStore::Snapshot() {
  return std::unique_ptr<StoreSnapshot>(new StoreSnapshot(db_.get(), db_->GetSnapshot()));
}

Status StateStore::Scan(const StoreSnapshot& snap, Cf cf, std::string_view prefix, const ScanFn& fn) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snap_;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[static_cast<int>(cf)]));
  return ScanPrefix(it.get(), prefix, /*reverse=*/false, fn);
}

// The batch is written in key order, one entry per key (the index holds only the last write of
// each key): overwritten values never reach the WAL, and the memtable's skiplist inserts keys
// in order, reusing the previous insert's position instead of a fresh descent per key.
Status StateStore::Commit(Batch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::WriteBatch sorted(batch->wb_->GetWriteBatch()->GetDataSize());
  for (auto* h : cfs_) {
    std::unique_ptr<rocksdb::WBWIIterator> it(batch->wb_->NewIterator(h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::WriteEntry e = it->Entry();
      rocksdb::Status st;
      switch (e.type) {
        case rocksdb::kPutRecord: st = sorted.Put(h, e.key, e.value); break;
        case rocksdb::kDeleteRecord: st = sorted.Delete(h, e.key); break;
        default: return Status::Internal("state batch holds an unexpected record type");
      }
      PGT_RETURN_IF_ERROR(FromRocks(st, "batch"));
    }
    PGT_RETURN_IF_ERROR(FromRocks(it->status(), "batch"));
  }
  auto s = db_->Write(wo, &sorted);
  PGT_RETURN_IF_ERROR(FromRocks(s, "write"));
  batch->wb_->Clear();
  batch->serial_ = NextBatchSerial();
  return Status::Ok();
}

Status StateStore::DeletePrefix(Cf cf, std::string_view prefix) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::string end = PrefixSuccessor(std::string(prefix));
  if (end.empty()) return Status::InvalidArgument("DeletePrefix: empty prefix");
  auto s = db_->DeleteRange(wo, cfs_[static_cast<int>(cf)], rocksdb::Slice(prefix.data(), prefix.size()), end);
  return FromRocks(s, "delete range");
}

uint64_t StateStore::ApproximateSize() {
  uint64_t total = 0, v = 0;
  for (auto* h : cfs_) {
    if (db_->GetIntProperty(h, "rocksdb.total-sst-files-size", &v)) total += v;
  }
  return total;
}

Batch::Batch(StateStore* store) : store_(store), wb_(std::make_unique<rocksdb::WriteBatchWithIndex>(
                                                    rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true)),
                                         serial_(NextBatchSerial()) {}
Batch::~Batch() = default;

size_t Batch::count() const { return wb_->GetWriteBatch()->Count(); }

static Status RoutedRead(Cf cf) {
  return Status::Internal("read of column family " + std::string(kCfNames[static_cast<int>(cf)]) +
                          " while it is bulk loaded");
}

Result<std::optional<std::string>> Batch::Get(Cf cf, std::string_view key) {
  if (bulk_[static_cast<int>(cf)]) return RoutedRead(cf);
  std::string v;
  auto s = wb_->GetFromBatchAndDB(store_->db_.get(), rocksdb::ReadOptions(), store_->cfs_[static_cast<int>(cf)],
                                  rocksdb::Slice(key.data(), key.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  PGT_RETURN_IF_ERROR(FromRocks(s, "get"));
  return std::optional<std::string>(std::move(v));
}

void Batch::Put(Cf cf, std::string_view key, std::string_view value) {
  if (BulkSink* sink = bulk_[static_cast<int>(cf)]) return sink->Put(key, value);
  wb_->Put(store_->cfs_[static_cast<int>(cf)], rocksdb::Slice(key.data(), key.size()),
           rocksdb::Slice(value.data(), value.size()));
}

void Batch::Delete(Cf cf, std::string_view key) {
  if (BulkSink* sink = bulk_[static_cast<int>(cf)]) return sink->Delete(key);
  wb_->Delete(store_->cfs_[static_cast<int>(cf)], rocksdb::Slice(key.data(), key.size()));
}

Status Batch::Scan(Cf cf, std::string_view prefix, const ScanFn& fn) { return ScanWithBase(cf, prefix, false, fn); }

Status Batch::ScanReverse(Cf cf, std::string_view prefix, const ScanFn& fn) { return ScanWithBase(cf, prefix, true, fn); }

Status Batch::ScanWithBase(Cf cf, std::string_view prefix, bool reverse, const ScanFn& fn) {
  if (bulk_[static_cast<int>(cf)]) return RoutedRead(cf);
  auto* h = store_->cfs_[static_cast<int>(cf)];
  std::unique_ptr<rocksdb::Iterator> it(
      wb_->NewIteratorWithBase(h, store_->db_->NewIterator(rocksdb::ReadOptions(), h)));
  return ScanPrefix(it.get(), prefix, reverse, fn);
}

Status StateStore::CreateCheckpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  PGT_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  return FromRocks(cp->CreateCheckpoint(dir), "checkpoint into " + dir);
}

}  // namespace pgt::engine
