// Sorted runs ingested as SST files; see sst_runs.h.
#include "bulk/sst_runs.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <thread>

#include "bulk/spill_runs.h"

namespace pgt::engine {

Status StateStore::WriteSorted(Cf cf, const std::string& path, const std::function<bool(BulkEntry*)>& next,
                               bool* written) {
  *written = false;
  rocksdb::ColumnFamilyHandle* h = cfs_[static_cast<int>(cf)];
  rocksdb::Options opts(db_->GetDBOptions(), db_->GetOptions(h));
  // SstFileWriter compresses with the bottommost compression when one is set (ZSTD here,
  // 10-23 % of a load's CPU when profiled): bulk files get the cheap LZ4 of the upper levels;
  // compaction rewrites them with ZSTD once they reach the bottom.
  opts.bottommost_compression = rocksdb::kDisableCompressionOption;
  opts.compression = rocksdb::kLZ4Compression;
  // Pages kept in the OS cache (SstFileWriter drops them every 1 MB by default): the files are
  // read right after the load (a table bootstrapped from the mirror scans it; the first merge
  // reads the pending rows); with the hint, an ingested mirror was read back from disk, while
  // a compacted one (the compaction's output is not dropped) was not.
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), opts, h, /*invalidate_page_cache=*/false);
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
  *written = true;
  return Status::Ok();
}

Status StateStore::IngestFiles(Cf cf, const std::vector<std::string>& paths) {
  if (paths.empty()) return Status::Ok();
  rocksdb::IngestExternalFileOptions io;
  io.move_files = true;            // hard link into the store (same file system): no copy
  io.write_global_seqno = false;   // the sequence number goes to the MANIFEST, not into the file
  rocksdb::Status s = db_->IngestExternalFile(cfs_[static_cast<int>(cf)], paths, io);
  if (!s.ok()) return Status::IOError("bulk load: cannot ingest " + paths.front() + ": " + s.ToString());
  return Status::Ok();
}

Status StateStore::IngestSorted(Cf cf, const std::string& path, const std::function<bool(BulkEntry*)>& next) {
  bool written = false;
  PGT_RETURN_IF_ERROR(WriteSorted(cf, path, next, &written));
  return written ? IngestFiles(cf, {path}) : Status::Ok();
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

SstRuns::SstRuns(StateStore* store, Cf cf, std::string dir, size_t run_bytes, bool merge_at_end)
    : store_(store), cf_(cf), dir_(std::move(dir)), run_bytes_(run_bytes), merge_at_end_(merge_at_end) {
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
  if (fill_.entries.empty() && fill_.arena.capacity() < run_bytes_) {
    // Reserved once per buffer (a written run's buffers are reused): no doubling and copying.
    // Entries are reserved for the smallest plausible rows (16 bytes of key and value); pages
    // never written are never touched, so this is address space, not memory.
    fill_.arena.reserve(run_bytes_ + (1 << 16));
    fill_.entries.reserve(run_bytes_ / 16);
  }
  fill_.entries.push_back(e);
  fill_.arena.append(key);
  fill_.arena.append(value);
  if (fill_.arena.size() >= run_bytes_) HandOver(false);
}

void SstRuns::Put(std::string_view key, std::string_view value) { Add(key, value, false); }
void SstRuns::Delete(std::string_view key) { Add(key, {}, true); }

void SstRuns::HandOver(bool last) {
  if (fill_.entries.empty()) return;
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !queued_ && !busy_; });   // bounded: the previous run is written
  queued_ = std::make_unique<Run>(std::move(fill_));
  // Merge mode spills every run but the only one of a load that fits in one.
  queued_spill_ = merge_at_end_ && !(last && handed_ == 0);
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
    const bool spill = queued_spill_;
    const bool skip = !status_.ok();   // after an error nothing more is ingested
    busy_ = true;
    l.unlock();
    Status st = skip ? Status::Ok() : spill ? SpillRun(run.get(), no) : WriteRun(run.get(), no);
    const auto n = static_cast<int64_t>(run->entries.size());
    run->arena.clear();
    run->entries.clear();
    run->sorted = true;
    l.lock();
    busy_ = false;
    if (!st.ok() && status_.ok()) status_ = st;
    if (st.ok() && !skip) {
      if (!spill) ++files_;
      entries_ += n;
    }
    if (!spare_) spare_ = std::move(run);
    cv_.notify_all();
  }
}

namespace {
// Sorts a run by key; ties broken by arrival (arena offset): equal keys stay in put order.
void SortRun(SstRuns::Run* run) {
  if (run->sorted) return;
  const std::string& arena = run->arena;
  auto key = [&](const SstRuns::Entry& e) { return std::string_view(arena.data() + e.off, e.klen); };
  std::sort(run->entries.begin(), run->entries.end(), [&](const SstRuns::Entry& a, const SstRuns::Entry& b) {
    if (KeyLess(a, key(a), b, key(b))) return true;
    if (KeyLess(b, key(b), a, key(a))) return false;
    return a.off < b.off;
  });
}

// In a sorted run, the index of the last put of entries[i]'s key (equal keys are adjacent and
// in put order: the last one wins).
size_t LastOfKey(const SstRuns::Run& run, size_t i) {
  const auto& es = run.entries;
  auto key = [&](const SstRuns::Entry& e) { return std::string_view(run.arena.data() + e.off, e.klen); };
  while (i + 1 < es.size() && KeyEqual(es[i + 1], key(es[i + 1]), es[i], key(es[i]))) ++i;
  return i;
}
}  // namespace

Status SstRuns::WriteRun(Run* run, int64_t file_no) {
  SortRun(run);
  const std::string& arena = run->arena;
  const std::vector<Entry>& es = run->entries;
  size_t i = 0;
  const std::string path = dir_ + "/run-" + std::to_string(static_cast<int>(cf_)) + "-" + std::to_string(file_no) + ".sst";
  return store_->IngestSorted(cf_, path, [&](StateStore::BulkEntry* out) {
    if (i >= es.size()) return false;
    const size_t last = LastOfKey(*run, i);
    const Entry& e = es[last];
    i = last + 1;
    out->key = std::string_view(arena.data() + e.off, e.klen);
    out->value = std::string_view(arena.data() + e.off + e.klen, e.vlen);
    out->del = e.del;
    return true;
  });
}

Status SstRuns::SpillRun(Run* run, int64_t file_no) {
  SortRun(run);
  const std::string& arena = run->arena;
  const std::vector<Entry>& es = run->entries;
  auto key = [&](const Entry& e) { return std::string_view(arena.data() + e.off, e.klen); };
  if (spills_.empty()) {
    // Partitions from the first run's key quantiles (hash keys: about equal shares), one per
    // core, so the final merge writes its files in parallel.
    const size_t parts = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    for (size_t p = 1; p < parts; ++p) {
      std::string_view k = key(es[es.size() * p / parts]);
      if (splits_.empty() || k > splits_.back()) splits_.emplace_back(k);
    }
    spills_.resize(splits_.size() + 1);
  }
  size_t part = 0;
  SpillWriter w;
  auto open = [&]() -> Status {
    std::string path = dir_ + "/spill-" + std::to_string(static_cast<int>(cf_)) + "-" + std::to_string(file_no) +
                       "-" + std::to_string(part) + ".bin";
    PGT_RETURN_IF_ERROR(w.Open(path));
    spills_[part].push_back(std::move(path));
    return Status::Ok();
  };
  PGT_RETURN_IF_ERROR(open());
  for (size_t i = 0; i < es.size(); ++i) {
    i = LastOfKey(*run, i);
    const Entry& e = es[i];
    const std::string_view k = key(e);
    if (part < splits_.size() && k >= splits_[part]) {
      PGT_RETURN_IF_ERROR(w.Close());
      while (part < splits_.size() && k >= splits_[part]) ++part;
      w = SpillWriter();
      PGT_RETURN_IF_ERROR(open());
    }
    w.Add(k, std::string_view(arena.data() + e.off + e.klen, e.vlen), e.del);
    ++spilled_;
  }
  return w.Close();
}

Status SstRuns::MergeSpills(int64_t* ingested) {
  std::vector<std::string> out(spills_.size());
  std::vector<Status> st(spills_.size());
  std::vector<char> written(spills_.size(), 0);
  std::vector<std::thread> threads;
  std::atomic<int64_t> done{0};
  std::atomic<size_t> finished{0};
  for (size_t p = 0; p < spills_.size(); ++p) {
    out[p] = dir_ + "/merged-" + std::to_string(static_cast<int>(cf_)) + "-" + std::to_string(p) + ".sst";
    threads.emplace_back([&, p] {
      bool w = false;
      st[p] = MergeRunsToSst(store_, cf_, spills_[p], out[p], &w, &done);
      written[p] = w;
      finished.fetch_add(1);
    });
  }
  // Seconds for millions of rows (more for larger tables): progress while the partitions merge.
  auto last = std::chrono::steady_clock::now();
  while (merge_progress_ && finished.load() < threads.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - last < merge_progress_every_) continue;
    last = std::chrono::steady_clock::now();
    merge_progress_(done.load(std::memory_order_relaxed), spilled_);
  }
  for (auto& t : threads) t.join();
  if (merge_progress_) merge_progress_(done.load(), spilled_);   // the final figure
  std::vector<std::string> files;
  for (size_t p = 0; p < spills_.size(); ++p) {
    PGT_RETURN_IF_ERROR(st[p]);
    if (written[p]) files.push_back(out[p]);
  }
  for (const auto& part : spills_) {
    for (const auto& f : part) {
      std::error_code ec;
      std::filesystem::remove(f, ec);
    }
  }
  spills_.clear();
  PGT_RETURN_IF_ERROR(store_->IngestFiles(cf_, files));
  *ingested = static_cast<int64_t>(files.size());
  return Status::Ok();
}

Status SstRuns::Flush() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!status_.ok()) return status_;
  }
  HandOver(true);
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !queued_ && !busy_; });
  if (!status_.ok() || spills_.empty()) return status_;
  // The writer is idle and gets no more runs: the merge needs no lock, and the run buffers
  // are released first (the merge holds only its read buffers).
  spare_.reset();
  l.unlock();
  fill_ = Run{};
  int64_t ingested = 0;
  Status st = MergeSpills(&ingested);
  l.lock();
  files_ += ingested;
  if (!st.ok() && status_.ok()) status_ = st;
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
