// Page/record reader: see xlog_reader.h. Grammar (wal-format.md §1-2): a segment is a sequence
// of 8 KB pages, each starting with a page header (long on the first page of a segment); records
// start MAXALIGNed and may span pages, the continuation following the next page's header with
// FIRST_IS_CONTRECORD and xlp_rem_len = bytes still to come.
#include "xlog_reader.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "bytes.h"
#include "crc32c.h"

namespace pgt::internal {

namespace {
constexpr uint32_t kMaxRecordLength = 1024u * 1024u * 1024u;
constexpr size_t kTrimThreshold = 4 * 1024 * 1024;
Lsn PageOf(Lsn lsn) { return lsn & ~static_cast<Lsn>(kXLogBlcksz - 1); }
}  // namespace

int PgMajorFromPageMagic(uint16_t magic) {
  switch (magic) {
    case kXLogPageMagicPg15: return 15;
    case kXLogPageMagicPg16: return 16;
    case kXLogPageMagicPg17: return 17;
    case kXLogPageMagicPg18: return 18;
  }
  return 0;
}

Status XLogReader::Start(Lsn lsn, TimeLineId tli) {
  lsn = MaxAlign(lsn);   // a record end (decoded_upto) names the next record's start
  Lsn page = PageOf(lsn);
  buf_.clear();
  buf_start_ = page;
  pos_ = page;
  consumed_ = page;
  target_ = (lsn == page) ? 0 : lsn;
  skip_contrecord_ = true;
  prev_record_ = 0;
  tli_ = tli;
  last_page_tli_ = 0;
  return source_->Start(page, tli);
}

Result<XLogReader::Fill> XLogReader::Ensure(Lsn lsn, size_t n, std::chrono::milliseconds wait) {
  if (lsn < buf_start_) return Status::Internal("reader asked for trimmed WAL at " + FormatLsn(lsn));
  while (buf_start_ + buf_.size() < lsn + n) {
    // Drop the consumed bytes before reading more. What remains is at most the record being
    // assembled (everything before it was consumed), so the move is short, and the buffer stays
    // small enough to be in cache while records are copied out of it and checksummed (with a
    // 4 MB buffer that copy went to memory).
    const Lsn keep = std::min(PageOf(pos_), PageOf(lsn));
    if (keep > buf_start_ && !buf_.empty()) {
      size_t drop = static_cast<size_t>(std::min<uint64_t>(keep - buf_start_, buf_.size()));
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(drop));
      buf_start_ += drop;
    }
    size_t before = buf_.size();
    source_reads_++;
    Status st = source_->Read(&buf_, wait);
    if (!st.ok()) return st;
    if (Lsn d = source_->TakeDiscardFrom(); d != kInvalidLsn) {
      PGT_RETURN_IF_ERROR(Discard(d));
      return Fill::kNoData;   // the caller restarts the record at pos_ with the new bytes
    }
    if (!seg_size_from_header_ && source_->segment_size() != 0) seg_size_ = source_->segment_size();
    if (buf_.size() == before) return Fill::kNoData;
  }
  return Fill::kOk;
}

// The source moved to a timeline that forked at `from`: bytes from there on are not WAL of the
// timeline being read. Records consumed so far end at or before consumed_, so a fork before it
// would mean that WAL of the abandoned timeline was already returned: refuse rather than decode
// a history that was not kept. pos_ may lie past the fork without that: when the last record
// ended on a page boundary, pos_ has already stepped over the next (abandoned) page's header
// while the torn record after it was being read. The reader then goes back to the fork.
Status XLogReader::Discard(Lsn from) {
  if (from < consumed_ || from < buf_start_)
    return Status::Corruption("timeline " + std::to_string(source_->timeline()) + " forked at " +
                              FormatLsn(from) + ", before WAL already read up to " +
                              FormatLsn(consumed_));
  if (from < buf_start_ + buf_.size()) buf_.resize(static_cast<size_t>(from - buf_start_));
  if (pos_ > from) pos_ = from;
  return Status::Ok();
}

void XLogReader::Trim() {
  Lsn keep = PageOf(pos_);
  if (keep > buf_start_ && keep - buf_start_ > kTrimThreshold) {
    // pos_ may lie past the buffered bytes (a record ending in the last 7 bytes of a page, an
    // XLOG_SWITCH): never erase more than is buffered; the source continues at the buffer end.
    size_t n = static_cast<size_t>(std::min<uint64_t>(keep - buf_start_, buf_.size()));
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(n));
    buf_start_ += n;
  }
}

Result<uint32_t> XLogReader::ValidatePageHeader(Lsn page, std::chrono::milliseconds wait,
                                                bool* no_data) {
  *no_data = false;
  where_ = page;
  PGT_ASSIGN_OR_RETURN(Fill f, Ensure(page, kShortPageHeaderSize, wait));
  if (f == Fill::kNoData) { *no_data = true; return 0u; }
  const uint8_t* h = At(page);
  uint16_t magic = U16(h), info = U16(h + 2);
  uint32_t tli = U32(h + 4);
  uint64_t addr = U64(h + 8);
  std::string where = " in WAL page at " + FormatLsn(page);
  if (magic == 0 && addr == 0 && info == 0) {   // zero-filled: end of the WAL written so far
    *no_data = true;
    zero_hit_ = true;
    return 0u;
  }
  const int major = PgMajorFromPageMagic(magic);
  if (major == 0) {
    char m[8];
    std::snprintf(m, sizeof m, "%04X", magic);
    return Status::Corruption(std::string("invalid magic number ") + m + where +
                              " (not WAL of a supported version: expected D110, D113, D116 or D118"
                              " for PostgreSQL 15, 16, 17 or 18)");
  }
  if (pg_major_ != 0 && major != pg_major_) {
    // One system's WAL never changes version (pg_upgrade starts a new system): a mix means
    // files of another cluster, and record layouts would be misread.
    return Status::Corruption("WAL page magic of PostgreSQL " + std::to_string(major) + where +
                              " after WAL of PostgreSQL " + std::to_string(pg_major_));
  }
  if (info & ~0xFu) return Status::Corruption("invalid info bits" + where);
  uint32_t hdr = kShortPageHeaderSize;
  if (info & kXlpLongHeader) {
    PGT_ASSIGN_OR_RETURN(Fill f2, Ensure(page, kLongPageHeaderSize, wait));
    if (f2 == Fill::kNoData) { *no_data = true; return 0u; }
    h = At(page);
    uint64_t sysid = U64(h + 24);
    uint32_t seg = U32(h + 32), blcksz = U32(h + 36);
    if (seg < (1u << 20) || seg > (1u << 30) || (seg & (seg - 1)) != 0)
      return Status::Corruption("invalid segment size " + std::to_string(seg) + where);
    if (blcksz != kXLogBlcksz)
      return Status::Corruption("unsupported XLOG_BLCKSZ " + std::to_string(blcksz) + where);
    if (sysid_ != 0 && sysid != sysid_)
      return Status::Corruption("WAL belongs to system " + std::to_string(sysid) +
                                ", expected " + std::to_string(sysid_) + where);
    if (page % seg != 0) return Status::Corruption("long header on a non-segment-start page" + where);
    sysid_ = sysid;
    seg_size_ = seg;
    seg_size_from_header_ = true;
    hdr = kLongPageHeaderSize;
  } else if (page % seg_size_ == 0) {
    return Status::Corruption("missing long header at segment start" + where);
  }
  const bool long_expected = page % seg_size_ == 0;
  if (addr < page && (page - addr) % seg_size_ == 0 &&
      ((info & kXlpLongHeader) != 0) == long_expected) {
    // A recycled segment (pg_wal renames old segments to future names) not yet overwritten up to
    // here: the end of the WAL written so far, as for zero-filled pages (PostgreSQL's readers
    // stop there too). In an archive this is a wrong file: the CLI reports WAL ending early.
    *no_data = true;
    zero_hit_ = true;
    return 0u;
  }
  if (addr != page)
    return Status::Corruption("unexpected pageaddr " + FormatLsn(addr) + where);
  // A source that follows timelines (streaming) may move past the requested one.
  const TimeLineId max_tli = std::max(tli_, source_->timeline());
  if (tli_ != 0 && tli > max_tli)
    return Status::Corruption("WAL page at " + FormatLsn(page) + " belongs to timeline " +
                              std::to_string(tli) + ", but timeline " + std::to_string(max_tli) +
                              " was requested (segment of a later timeline?)");
  if (tli < last_page_tli_)
    return Status::Corruption("out-of-sequence timeline " + std::to_string(tli) + " (after " +
                              std::to_string(last_page_tli_) + ")" + where);
  last_page_tli_ = tli;
  pg_major_ = major;
  return hdr;
}

Result<std::optional<RawRecord>> XLogReader::Next(std::chrono::milliseconds wait) {
  auto r = NextImpl(wait);
  if (r.ok() || r.status().code() != Status::Code::kCorruption ||
      r.status().message().find("WAL segment ") != std::string::npos)
    return r;
  uint64_t segno = where_ / seg_size_, per_id = 0x100000000ull / seg_size_;
  char name[32];
  std::snprintf(name, sizeof name, "%08X%08X%08X", std::max(tli_, source_->timeline()),
                static_cast<uint32_t>(segno / per_id),
                static_cast<uint32_t>(segno % per_id));
  return r.status().WithContext(std::string("WAL segment ") + name);
}

Result<std::optional<RawRecord>> XLogReader::NextImpl(std::chrono::milliseconds wait) {
  Trim();
  auto no_more = [&]() -> Result<std::optional<RawRecord>> {
    if (zero_hit_) {
      // Zero-filled WAL (a pre-allocated segment not written yet): forget the bytes so that a
      // later call re-reads them from the source, and do not spin.
      zero_hit_ = false;
      Lsn page = PageOf(pos_);
      buf_.clear();
      buf_start_ = page;
      PGT_RETURN_IF_ERROR(source_->Start(page, tli_));
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(200)));
    }
    return std::optional<RawRecord>();
  };
  for (;;) {
    bool no_data = false;
    if (pos_ % kXLogBlcksz == 0) {
      PGT_ASSIGN_OR_RETURN(uint32_t hdr, ValidatePageHeader(pos_, wait, &no_data));
      if (no_data) return no_more();
      uint16_t info = U16(At(pos_ + 2));
      uint32_t rem = U32(At(pos_ + 16));
      if (skip_contrecord_ && (info & kXlpFirstIsContrecord)) {
        if (rem > kXLogBlcksz - hdr) {
          pos_ += kXLogBlcksz;   // the continuation goes on; the next page says how much is left
        } else {
          pos_ += hdr + MaxAlign(rem);
          skip_contrecord_ = false;
        }
        continue;
      }
      if (info & kXlpFirstIsContrecord)
        return Status::Corruption("unexpected continuation record in WAL page at " + FormatLsn(pos_));
      skip_contrecord_ = false;
      pos_ += hdr;
    }
    skip_contrecord_ = false;
    const Lsn start = pos_;
    where_ = start;
    PGT_ASSIGN_OR_RETURN(Fill f, Ensure(start, 4, wait));
    if (f == Fill::kNoData) return no_more();
    uint32_t tot_len = U32(At(start));
    if (tot_len == 0) {   // the rest of the page is zero: nothing written here yet
      zero_hit_ = true;
      return no_more();
    }
    if (tot_len < kXLogRecordHeaderSize || tot_len > kMaxRecordLength)
      return Status::Corruption("invalid record length " + std::to_string(tot_len) + " at " +
                                FormatLsn(start));
    RawRecord rec;
    rec.start = start;
    rec.bytes = std::move(spare_);   // a buffer handed back by Recycle: no allocation per record
    rec.bytes.clear();
    rec.bytes.reserve(tot_len);
    Lsn page_end = PageOf(start) + kXLogBlcksz;
    size_t n = std::min<uint64_t>(tot_len, page_end - start);
    PGT_ASSIGN_OR_RETURN(f, Ensure(start, n, wait));
    if (f == Fill::kNoData) return no_more();
    rec.bytes.assign(At(start), At(start) + n);   // a plain copy (insert's general path showed)
    Lsn p = start + n;
    bool overwritten = false;
    while (rec.bytes.size() < tot_len) {
      PGT_ASSIGN_OR_RETURN(uint32_t hdr, ValidatePageHeader(p, wait, &no_data));
      if (no_data) return no_more();
      uint16_t info = U16(At(p + 2));
      uint32_t rem = U32(At(p + 16));
      if (!(info & kXlpFirstIsContrecord)) {
        if (info & kXlpFirstIsOverwriteContrecord) {   // torn record abandoned after a crash
          overwritten = true;
          break;
        }
        return Status::Corruption("there is no contrecord flag at " + FormatLsn(p) +
                                  " (record at " + FormatLsn(start) + ")");
      }
      size_t missing = tot_len - rec.bytes.size();
      if (rem == 0 || rem != missing)
        return Status::Corruption("invalid contrecord length " + std::to_string(rem) +
                                  " (expected " + std::to_string(missing) + ") at " +
                                  FormatLsn(p));
      size_t take = std::min<size_t>(rem, kXLogBlcksz - hdr);
      PGT_ASSIGN_OR_RETURN(f, Ensure(p + hdr, take, wait));
      if (f == Fill::kNoData) return no_more();
      rec.bytes.insert(rec.bytes.end(), At(p + hdr), At(p + hdr) + take);
      p += hdr + take;
    }
    if (overwritten) {
      pos_ = p;   // restart at that page's first record
      continue;
    }
    rec.end = p;
    rec.pg_major = pg_major_;
    where_ = start;
    const uint8_t* b = rec.bytes.data();
    uint8_t rmid = b[17], info = b[16];
    Lsn xl_prev = U64(b + 8);
    if (prev_record_ != 0 && xl_prev != prev_record_)
      return Status::Corruption("record with incorrect prev-link " + FormatLsn(xl_prev) + " at " +
                                FormatLsn(start) + " (expected " + FormatLsn(prev_record_) + ")");
    uint32_t crc = Crc32cExtend(kCrc32cInit, b + kXLogRecordHeaderSize, tot_len - kXLogRecordHeaderSize);
    crc = Crc32cFinish(Crc32cExtend(crc, b, 20));
    if (crc != U32(b + 20))
      return Status::Corruption("incorrect resource manager data checksum in record at " +
                                FormatLsn(start));
    Lsn next = MaxAlign(rec.end);
    if (rmid == 0 && (info & 0xF0) == 0x40)   // XLOG_SWITCH: the rest of the segment is unused
      next = (rec.end + seg_size_ - 1) / seg_size_ * seg_size_;
    pos_ = next;
    consumed_ = next;
    prev_record_ = start;
    if (target_ != 0) {
      if (start < target_) continue;
      if (start > target_)
        return Status::InvalidArgument("no WAL record starts at " + FormatLsn(target_) +
                                       " (next record at " + FormatLsn(start) + ")");
      target_ = 0;
    }
    return std::optional<RawRecord>(std::move(rec));
  }
}

}  // namespace pgt::internal
