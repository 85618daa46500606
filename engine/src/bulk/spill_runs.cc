// Spilled runs and their merge; see spill_runs.h.
#include "bulk/spill_runs.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pgt::engine {
namespace {
constexpr size_t kWriteBuffer = size_t{1} << 20;
// Per scratch file being merged: a partition of a 10M-row load merges ~15 runs.
constexpr size_t kReadBuffer = size_t{256} << 10;
constexpr uint32_t kDelBit = 0x80000000u;

Status IoError(const char* what, const std::string& path) {
  return Status::IOError(std::string("bulk load: ") + what + " " + path + ": " + std::strerror(errno));
}
}  // namespace

SpillWriter::~SpillWriter() {
  if (f_) std::fclose(f_);
}

Status SpillWriter::Open(const std::string& path) {
  path_ = path;
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return IoError("cannot create", path);
  buf_.reserve(kWriteBuffer + 4096);
  return Status::Ok();
}

void SpillWriter::Add(std::string_view key, std::string_view value, bool del) {
  uint32_t head[2] = {static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size()) | (del ? kDelBit : 0)};
  buf_.append(reinterpret_cast<const char*>(head), sizeof head);
  buf_.append(key);
  buf_.append(value);
  if (buf_.size() >= kWriteBuffer) Drain();
}

void SpillWriter::Drain() {
  if (!buf_.empty() && !failed_ && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) failed_ = true;
  buf_.clear();
}

Status SpillWriter::Close() {
  Drain();
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (failed_ || !closed) return IoError("cannot write", path_);
  return Status::Ok();
}

SpillReader::~SpillReader() {
  if (f_) std::fclose(f_);
}

Status SpillReader::Open(const std::string& path) {
  path_ = path;
  f_ = std::fopen(path.c_str(), "rb");
  if (!f_) return IoError("cannot open", path);
  buf_.resize(kReadBuffer);
  return Status::Ok();
}

bool SpillReader::Fill(size_t need) {
  if (end_ - pos_ >= need) return true;
  // Keep the unread tail (the current record's views are no longer needed: Next moves on).
  std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
  end_ -= pos_;
  pos_ = 0;
  if (buf_.size() < need) buf_.resize(need);
  while (end_ < need) {
    size_t n = std::fread(buf_.data() + end_, 1, buf_.size() - end_, f_);
    if (n == 0) {
      if (std::ferror(f_)) status_ = IoError("cannot read", path_);
      else if (end_ != 0) status_ = Status::Corruption("bulk load: truncated scratch file " + path_);
      return false;
    }
    end_ += n;
  }
  return true;
}

bool SpillReader::Next() {
  if (!status_.ok() || !Fill(8)) return false;
  uint32_t head[2];
  std::memcpy(head, buf_.data() + pos_, sizeof head);
  const size_t klen = head[0], vlen = head[1] & ~kDelBit;
  if (!Fill(8 + klen + vlen)) {
    if (status_.ok()) status_ = Status::Corruption("bulk load: truncated scratch file " + path_);
    return false;
  }
  const char* p = buf_.data() + pos_ + 8;
  key_ = std::string_view(p, klen);
  value_ = std::string_view(p + klen, vlen);
  del_ = (head[1] & kDelBit) != 0;
  pos_ += 8 + klen + vlen;
  return true;
}

Status MergeRunsToSst(StateStore* store, Cf cf, const std::vector<std::string>& runs, const std::string& out,
                      bool* written, std::atomic<int64_t>* done) {
  std::vector<SpillReader> readers(runs.size());
  // Min-heap of readers by (current key, run): for a key in several runs the earliest run pops
  // first, and the last one popped (the newest write) is the one kept.
  std::vector<size_t> heap;
  auto after = [&](size_t a, size_t b) {
    int c = readers[a].key().compare(readers[b].key());
    return c != 0 ? c > 0 : a > b;
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    PGT_RETURN_IF_ERROR(readers[i].Open(runs[i]));
    if (readers[i].Next()) heap.push_back(i);
    PGT_RETURN_IF_ERROR(readers[i].status());
  }
  std::make_heap(heap.begin(), heap.end(), after);
  Status st;
  size_t advance = runs.size();   // the reader whose record was handed out last: moved on first
  auto step = [&](size_t r) {
    if (done) done->fetch_add(1, std::memory_order_relaxed);
    if (readers[r].Next()) {
      heap.push_back(r);
      std::push_heap(heap.begin(), heap.end(), after);
    } else if (!readers[r].status().ok() && st.ok()) {
      st = readers[r].status();
    }
  };
  auto pop = [&] {
    std::pop_heap(heap.begin(), heap.end(), after);
    size_t r = heap.back();
    heap.pop_back();
    return r;
  };
  Status ws = store->WriteSorted(cf, out, [&](StateStore::BulkEntry* e) {
    if (advance < runs.size()) step(advance);
    if (heap.empty() || !st.ok()) return false;
    size_t r = pop();
    while (!heap.empty() && readers[heap.front()].key() == readers[r].key()) {
      step(r);   // an older write of the key: dropped
      r = pop();
    }
    e->key = readers[r].key();
    e->value = readers[r].value();
    e->del = readers[r].del();
    advance = r;
    return true;
  }, written);
  PGT_RETURN_IF_ERROR(st);
  return ws;
}

}  // namespace pgt::engine
