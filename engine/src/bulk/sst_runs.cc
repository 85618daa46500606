// Sorted runs ingested as SST files; see sst_runs.h.
#include "bulk/sst_runs.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace pgt::engine {

Status StateStore::IngestSorted(Cf cf, const std::string& path, const std::function<bool(BulkEntry*)>& next) {
  rocksdb::ColumnFamilyHandle* h = cfs_[static_cast<int>(cf)];
  rocksdb::Options opts(db_->GetDBOptions(), db_->GetOptions(h));
  // SstFileWriter compresses with the bottommost compression when one is set (ZSTD here,
  // 10-23 % of a load's CPU when profiled): bulk files get the cheap LZ4 of the upper levels;
  // compaction rewrites them with ZSTD once they reach the bottom.
  opts.bottommost_compression = rocksdb::kDisableCompressionOption;
  opts.compression = rocksdb::kLZ4Compression;
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), opts, h);
  auto fail = [&](const rocksdb::Status& s, const char* what) {
    return Status::IOError(std::string("bulk load: ") + what + " " + path + ": " + s.ToString());
  };
  rocksdb::Status s = writer.Open(path);
  if (!s.ok()) return fail(s, "cannot create");
  BulkEntry e;
  size_t n = 0;
  while (next(&e)) {
    rocksdb::Slice k(e.key.data(), e.key.size());
    s = e.del ? writer.Delete(k) : writer.Put(k, rocksdb::Slice(e.value.data(), e.value.size()));
    if (!s.ok()) return fail(s, "cannot write");
    ++n;
  }
  if (n == 0) return Status::Ok();
  s = writer.Finish();
  if (!s.ok()) return fail(s, "cannot finish");
  rocksdb::IngestExternalFileOptions io;
  io.move_files = true;            // hard link into the store (same file system): no copy
  io.write_global_seqno = false;   // the sequence number goes to the MANIFEST, not into the file
  s = db_->IngestExternalFile(h, {path}, io);
  if (!s.ok()) return fail(s, "cannot ingest");
  return Status::Ok();
}

namespace {
uint64_t LoadBE64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

// Key order on entries: the cached 16-byte heads decide unless equal (zero padding keeps the
// order: a padded byte only ties with a real 0, and then the full keys decide).
bool KeyLess(const SstRuns::Entry& a, std::string_view ka, const SstRuns::Entry& b, std::string_view kb) {
  if (a.h0 != b.h0) return a.h0 < b.h0;
  if (a.h1 != b.h1) return a.h1 < b.h1;
  return ka < kb;
}

bool KeyEqual(const SstRuns::Entry& a, std::string_view ka, const SstRuns::Entry& b, std::string_view kb) {
  return a.h0 == b.h0 && a.h1 == b.h1 && ka == kb;
}
}  // namespace

SstRuns::SstRuns(StateStore* store, Cf cf, std::string dir, size_t run_bytes)
    : store_(store), cf_(cf), dir_(std::move(dir)), run_bytes_(run_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) status_ = Status::IOError("bulk load: cannot create " + dir_ + ": " + ec.message());
}

SstRuns::~SstRuns() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    queued_.reset();   // not flushed: nothing of it is needed (the load failed or was cancelled)
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void SstRuns::Add(std::string_view key, std::string_view value, bool del) {
  Entry e{0, 0, static_cast<uint32_t>(fill_.arena.size()), static_cast<uint32_t>(key.size()),
          static_cast<uint32_t>(value.size()), del};
  char head[16] = {};
  std::memcpy(head, key.data(), std::min(key.size(), sizeof head));
  e.h0 = LoadBE64(head);
  e.h1 = LoadBE64(head + 8);
  if (fill_.sorted && !fill_.entries.empty()) {
    const Entry& last = fill_.entries.back();
    fill_.sorted = KeyLess(last, std::string_view(fill_.arena.data() + last.off, last.klen), e, key);
  }
  if (fill_.entries.empty() && fill_.arena.capacity() < run_bytes_) fill_.arena.reserve(run_bytes_ + (1 << 16));
  fill_.entries.push_back(e);
  fill_.arena.append(key);
  fill_.arena.append(value);
  if (fill_.arena.size() >= run_bytes_) HandOver();
}

void SstRuns::Put(std::string_view key, std::string_view value) { Add(key, value, false); }
void SstRuns::Delete(std::string_view key) { Add(key, {}, true); }

void SstRuns::HandOver() {
  if (fill_.entries.empty()) return;
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !queued_ && !busy_; });   // bounded: the previous run is written
  queued_ = std::make_unique<Run>(std::move(fill_));
  queued_no_ = handed_++;
  if (spare_) {
    fill_ = std::move(*spare_);
    spare_.reset();
  } else {
    fill_ = Run{};
  }
  if (!writer_.joinable()) writer_ = std::thread(&SstRuns::WriterLoop, this);
  l.unlock();
  cv_.notify_all();
}

void SstRuns::WriterLoop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return queued_ || stop_; });
    if (!queued_) return;
    std::unique_ptr<Run> run = std::move(queued_);
    const int64_t no = queued_no_;
    const bool skip = !status_.ok();   // after an error nothing more is ingested
    busy_ = true;
    l.unlock();
    Status st = skip ? Status::Ok() : WriteRun(run.get(), no);
    const auto n = static_cast<int64_t>(run->entries.size());
    run->arena.clear();
    run->entries.clear();
    run->sorted = true;
    l.lock();
    busy_ = false;
    if (!st.ok() && status_.ok()) status_ = st;
    if (st.ok() && !skip) {
      ++files_;
      entries_ += n;
    }
    if (!spare_) spare_ = std::move(run);
    cv_.notify_all();
  }
}

Status SstRuns::WriteRun(Run* run, int64_t file_no) {
  const std::string& arena = run->arena;
  auto key = [&](const Entry& e) { return std::string_view(arena.data() + e.off, e.klen); };
  std::vector<Entry>& es = run->entries;
  if (!run->sorted) {
    // Ties broken by arrival (arena offset): equal keys stay in put order.
    std::sort(es.begin(), es.end(), [&](const Entry& a, const Entry& b) {
      if (KeyLess(a, key(a), b, key(b))) return true;
      if (KeyLess(b, key(b), a, key(a))) return false;
      return a.off < b.off;
    });
  }
  size_t i = 0;
  const std::string path = dir_ + "/run-" + std::to_string(static_cast<int>(cf_)) + "-" + std::to_string(file_no) + ".sst";
  return store_->IngestSorted(cf_, path, [&](StateStore::BulkEntry* out) {
    if (i >= es.size()) return false;
    // Equal keys are adjacent and in put order: the last one wins.
    while (i + 1 < es.size() && KeyEqual(es[i + 1], key(es[i + 1]), es[i], key(es[i]))) ++i;
    const Entry& e = es[i++];
    out->key = key(e);
    out->value = std::string_view(arena.data() + e.off + e.klen, e.vlen);
    out->del = e.del;
    return true;
  });
}

Status SstRuns::Flush() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!status_.ok()) return status_;
  }
  HandOver();
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !queued_ && !busy_; });
  return status_;
}

Status SstRuns::status() {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

int64_t SstRuns::files() {
  std::lock_guard<std::mutex> l(mu_);
  return files_;
}

int64_t SstRuns::entries() {
  std::lock_guard<std::mutex> l(mu_);
  return entries_;
}

}  // namespace pgt::engine
