// Test helpers: an in-memory WalSource, a synthetic WAL writer (pages, continuation, CRC) and
// record/tuple builders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "walreader/catalog.h"
#include "walreader/source.h"

namespace pgt::test {

// Serves `bytes` (WAL starting at page-aligned `base`) in chunks of at most `chunk` bytes.
class MemorySource : public WalSource {
 public:
  MemorySource(Lsn base, std::vector<uint8_t> bytes, size_t chunk = 1 << 20)
      : base_(base), bytes_(std::move(bytes)), chunk_(chunk) {}
  Status Start(Lsn start, TimeLineId) override;
  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds wait) override;
  void ConfirmFlush(Lsn lsn) override { confirmed_ = lsn; }
  TimeLineId timeline() const override { return 1; }
  void Append(const std::vector<uint8_t>& more) { bytes_.insert(bytes_.end(), more.begin(), more.end()); }
  void Truncate(size_t n) { limit_ = n; }   // serve only the first n bytes (0 = all)
  int starts() const { return starts_; }

 private:
  Lsn base_;
  std::vector<uint8_t> bytes_;
  size_t chunk_;
  Lsn pos_ = 0;
  size_t limit_ = 0;
  Lsn confirmed_ = 0;
  int starts_ = 0;
};

// Writes synthetic WAL (PG15 page magic unless `magic` says otherwise): page headers (long at
// segment starts), records with CRC and xl_prev, continuation across pages.
class WalBuilder {
 public:
  explicit WalBuilder(Lsn start, uint64_t seg_size = 1 << 20, uint32_t tli = 1,
                      uint16_t magic = 0xD110);
  // Appends a record whose content after the 24-byte header is `body`; returns its start LSN.
  Lsn Add(uint8_t rmid, uint8_t info, uint32_t xid, const std::vector<uint8_t>& body);
  Lsn AddSwitch();                        // XLOG_SWITCH; the next record starts a new segment
  Lsn end() const { return pos_; }        // insert position
  Lsn last_end() const { return last_end_; }
  Lsn start() const { return start_; }
  // xl_prev of the next record (a builder starting mid-stream continues another one's chain).
  void set_prev(Lsn prev) { last_start_ = prev; }
  std::vector<uint8_t> bytes;             // WAL from start(); the last page may be partial
  std::vector<uint8_t> PaddedBytes() const;   // padded with zeros to a page boundary

 private:
  void Put(const uint8_t* p, size_t n);
  void PageHeader(uint32_t rem);
  Lsn start_, pos_, last_start_ = 0, last_end_ = 0;
  uint64_t seg_size_;
  uint32_t tli_;
  uint16_t magic_;
};

// Record bodies (fragment headers + payload).
std::vector<uint8_t> MainDataOnly(const std::vector<uint8_t>& main);
// Block 0 with data (+ main data), relation `loc`.
std::vector<uint8_t> Block0AndMain(const RelFileLocator& loc, const std::vector<uint8_t>& block_data,
                                   const std::vector<uint8_t>& main, uint32_t toplevel_xid = 0);
// xl_heap_header + tuple of int4 columns and text columns (nullptr = NULL).
std::vector<uint8_t> Tuple(const std::vector<const char*>& values, const std::vector<bool>& is_int);

std::vector<uint8_t> ReadFile(const std::string& path);
std::string FixturePath(const std::string& name);
void PutU16(std::vector<uint8_t>* v, uint16_t x);
void PutU32(std::vector<uint8_t>* v, uint32_t x);
void PutU64(std::vector<uint8_t>* v, uint64_t x);

}  // namespace pgt::test
