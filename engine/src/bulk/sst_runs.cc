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
  io.move_files = true;   // hard link into the store (same file system): no copy
  s = db_->IngestExternalFile(h, {path}, io);
  if (!s.ok()) return fail(s, "cannot ingest");
  return Status::Ok();
}

SstRuns::SstRuns(StateStore* store, Cf cf, std::string dir, size_t run_bytes)
    : store_(store), cf_(cf), dir_(std::move(dir)), run_bytes_(run_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) status_ = Status::IOError("bulk load: cannot create " + dir_ + ": " + ec.message());
  arena_.reserve(run_bytes_ + (1 << 16));
}

SstRuns::~SstRuns() = default;

void SstRuns::Add(std::string_view key, std::string_view value, bool del) {
  if (!status_.ok()) return;
  if (sorted_ && !run_.empty()) {
    const Entry& last = run_.back();
    std::string_view prev(arena_.data() + last.off, last.klen);
    sorted_ = prev < key;
  }
  run_.push_back(Entry{arena_.size(), static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size()), del});
  arena_.append(key);
  arena_.append(value);
  if (arena_.size() >= run_bytes_) status_ = Flush();
}

void SstRuns::Put(std::string_view key, std::string_view value) { Add(key, value, false); }
void SstRuns::Delete(std::string_view key) { Add(key, {}, true); }

Status SstRuns::Flush() {
  if (!status_.ok() || run_.empty()) return status_;
  auto key = [&](const Entry& e) { return std::string_view(arena_.data() + e.off, e.klen); };
  if (!sorted_) {
    // Ties broken by arrival (arena offset): equal keys stay in put order.
    std::sort(run_.begin(), run_.end(), [&](const Entry& a, const Entry& b) {
      int c = key(a).compare(key(b));
      return c != 0 ? c < 0 : a.off < b.off;
    });
  }
  size_t i = 0;
  const std::string path = dir_ + "/run-" + std::to_string(static_cast<int>(cf_)) + "-" + std::to_string(files_) + ".sst";
  Status st = store_->IngestSorted(cf_, path, [&](StateStore::BulkEntry* out) {
    if (i >= run_.size()) return false;
    // Equal keys are adjacent and in put order: the last one wins.
    while (i + 1 < run_.size() && key(run_[i + 1]) == key(run_[i])) ++i;
    const Entry& e = run_[i++];
    out->key = key(e);
    out->value = std::string_view(arena_.data() + e.off + e.klen, e.vlen);
    out->del = e.del;
    return true;
  });
  entries_ += static_cast<int64_t>(run_.size());
  ++files_;
  run_.clear();
  arena_.clear();
  sorted_ = true;
  if (!st.ok()) status_ = st;
  return status_;
}

}  // namespace pgt::engine
