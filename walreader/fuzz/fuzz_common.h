// Shared helpers of the libFuzzer targets (see README.md): an in-memory WalSource and checks of
// the invariants the parsers promise to their callers.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "record.h"
#include "walreader/source.h"
#include "xact_parse.h"

namespace pgt::fuzz {

// A violated invariant is a finding: report it and abort so that libFuzzer saves the input.
#define PGT_FUZZ_CHECK(cond)                                                          \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

// Serves `bytes` (WAL starting at page-aligned `base`) in reads of at most `chunk` bytes.
class MemSource : public WalSource {
 public:
  MemSource(Lsn base, const uint8_t* p, size_t n, size_t chunk, uint64_t seg_size)
      : base_(base), bytes_(p, p + n), chunk_(chunk), seg_size_(seg_size) {}
  Status Start(Lsn start, TimeLineId) override {
    if (start < base_) return Status::NotFound("before the fuzz input");
    pos_ = start;
    return Status::Ok();
  }
  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds) override {
    if (pos_ - base_ >= bytes_.size()) return Status::Ok();
    size_t off = static_cast<size_t>(pos_ - base_);
    size_t n = std::min(chunk_, bytes_.size() - off);
    out->insert(out->end(), bytes_.begin() + static_cast<ptrdiff_t>(off),
                bytes_.begin() + static_cast<ptrdiff_t>(off + n));
    pos_ += n;
    return Status::Ok();
  }
  void ConfirmFlush(Lsn) override {}
  TimeLineId timeline() const override { return 1; }
  uint64_t segment_size() const override { return seg_size_; }

 private:
  Lsn base_;
  std::vector<uint8_t> bytes_;
  size_t chunk_;
  uint64_t seg_size_;
  Lsn pos_ = 0;
};

inline void Touch(const uint8_t* p, size_t n) {
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < n; i++) sink = sink ^ p[i];
  (void)sink;
}

// Every range DecodeRecord hands out must lie inside the record; read them all (ASan checks).
inline void CheckDecoded(const internal::DecodedRecord& r) {
  const size_t n = r.bytes.size();
  PGT_FUZZ_CHECK(r.main_off <= n && r.main_len <= n - r.main_off);
  Touch(r.bytes.data() + r.main_off, r.main_len);
  for (const auto& b : r.blocks) {
    PGT_FUZZ_CHECK(b.id <= 32);
    if (b.has_image) {
      PGT_FUZZ_CHECK(b.image_off <= n && b.image_len <= n - b.image_off);
      Touch(r.bytes.data() + b.image_off, b.image_len);
    }
    if (b.has_data) {
      PGT_FUZZ_CHECK(b.data_off <= n && b.data_len <= n - b.data_off);
      Touch(r.block_data(b), b.data_len);
    }
  }
}

// The main-data parsers the decoder applies to transaction-control records.
inline void ParseMainData(const internal::DecodedRecord& r) {
  using namespace internal;
  const uint8_t* p = r.main_data();
  const size_t len = r.main_len;
  if (r.rmid == kRmXact) {
    uint8_t op = r.info & kXactOpMask;
    const bool commit = op == kXactCommit || op == kXactCommitPrepared;
    if (commit || op == kXactAbort || op == kXactAbortPrepared) {
      // Both dropped-stats item sizes (12 bytes up to 17, 16 in 18) on the same bytes.
      for (int major : {15, 18}) (void)ParseXactEnd(p, len, r.info, commit, major);
    } else if (op == kXactAssignment) {
      (void)ParseAssignment(p, len);
    }
  } else if (r.rmid == kRmStandby && (r.info & 0xF0) == 0x10) {
    (void)ParseRunningXacts(p, len);
  }
}

}  // namespace pgt::fuzz
