// Page/record reader (internal): turns a WalSource's byte stream into complete, CRC-checked WAL
// records. Validates every page header (magic, info bits, long header at segment start,
// pageaddr, non-decreasing timeline), reassembles records across pages, follows XLOG_SWITCH to
// the next segment and handles FIRST_IS_OVERWRITE_CONTRECORD. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/source.h"
#include "walreader/status.h"

namespace pgt::internal {

// XLOG_PAGE_MAGIC of each supported major version (access/xlog_internal.h of REL_15..18_STABLE;
// checked against WAL written by 15.x, 16.14, 17.10 and 18.4). Record layouts that differ between
// versions are chosen by the major this maps to (RawRecord::pg_major).
constexpr uint16_t kXLogPageMagicPg15 = 0xD110;
constexpr uint16_t kXLogPageMagicPg16 = 0xD113;
constexpr uint16_t kXLogPageMagicPg17 = 0xD116;
constexpr uint16_t kXLogPageMagicPg18 = 0xD118;
// The major version whose WAL pages carry `magic`, or 0 for a magic of no supported version.
int PgMajorFromPageMagic(uint16_t magic);
constexpr uint16_t kXlpFirstIsContrecord = 0x1;
constexpr uint16_t kXlpLongHeader = 0x2;
constexpr uint16_t kXlpBkpRemovable = 0x4;
constexpr uint16_t kXlpFirstIsOverwriteContrecord = 0x8;
constexpr uint32_t kShortPageHeaderSize = 24;
constexpr uint32_t kLongPageHeaderSize = 40;
constexpr uint32_t kXLogRecordHeaderSize = 24;
constexpr uint64_t kDefaultSegmentSize = 16 * 1024 * 1024;

// One complete record: its bytes (header included) and position.
struct RawRecord {
  Lsn start = kInvalidLsn;   // LSN of the record header
  Lsn end = kInvalidLsn;     // LSN just past its last byte (not aligned)
  int pg_major = 15;         // server major version that wrote it (from the page magic)
  std::vector<uint8_t> bytes;
};

class XLogReader {
 public:
  explicit XLogReader(WalSource* source) : source_(source) {}

  // Positions the reader. A page-aligned `lsn` means "the first record starting on or after this
  // page" (a continued record is skipped); otherwise `lsn` must be the exact start of a record.
  Status Start(Lsn lsn, TimeLineId tli);

  // Reads the next record. Returns nullopt when not enough WAL arrived within `wait`.
  // Errors name the segment file (%08X%08X%08X) holding the offending WAL, and its LSN.
  Result<std::optional<RawRecord>> Next(std::chrono::milliseconds wait);

  // Optional: gives the bytes of a consumed record back for the next one (saves an allocation
  // per record on the decoder's hot path).
  void Recycle(std::vector<uint8_t>&& bytes) { spare_ = std::move(bytes); }

  uint64_t segment_size() const { return seg_size_; }
  // Major version of the server that wrote the WAL (15..18), from the first page header read;
  // 0 before any. Every later page must carry the same magic.
  int pg_major() const { return pg_major_; }
  // Calls made to the source so far (each may have waited): lets a caller skip clock reads.
  uint64_t source_reads() const { return source_reads_; }
  // Start LSN of the next record to read (valid between records).
  Lsn position() const { return pos_; }

 private:
  Result<std::optional<RawRecord>> NextImpl(std::chrono::milliseconds wait);
  enum class Fill { kOk, kNoData };
  // Makes bytes [lsn, lsn+n) available in buf_. kNoData if the source had nothing in time.
  Result<Fill> Ensure(Lsn lsn, size_t n, std::chrono::milliseconds wait);
  const uint8_t* At(Lsn lsn) const { return buf_.data() + (lsn - buf_start_); }
  // Validates the header of the page starting at `page`; returns its size (24 or 40).
  Result<uint32_t> ValidatePageHeader(Lsn page, std::chrono::milliseconds wait, bool* no_data);
  void Trim();
  Status Discard(Lsn from);   // drops buffered bytes from `from` on (WalSource::TakeDiscardFrom)

  WalSource* source_;
  std::vector<uint8_t> buf_;
  std::vector<uint8_t> spare_;   // see Recycle
  uint64_t source_reads_ = 0;
  Lsn buf_start_ = 0;
  Lsn pos_ = 0;                 // next record start candidate (or page start)
  Lsn consumed_ = 0;            // end of the last record read (returned or skipped to a target)
  Lsn target_ = 0;              // exact record start requested by Start (0 = none)
  bool skip_contrecord_ = false;
  Lsn prev_record_ = 0;         // start of the previous record, for xl_prev checks
  TimeLineId tli_ = 0;
  TimeLineId last_page_tli_ = 0;
  uint64_t seg_size_ = kDefaultSegmentSize;
  bool seg_size_from_header_ = false;   // else from the source (or the default)
  uint64_t sysid_ = 0;
  int pg_major_ = 0;            // from the first page magic (like sysid_, kept across Start)
  bool zero_hit_ = false;       // met zero-filled WAL (end of what was written)
  Lsn where_ = 0;               // WAL being examined (for the segment name in errors)
};

}  // namespace pgt::internal
