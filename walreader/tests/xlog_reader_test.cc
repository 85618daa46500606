// Page/record reader: real PG15 WAL (fixtures/basic.wal) and synthetic WAL.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "test_util.h"
#include "bytes.h"
#include "xlog_reader.h"

namespace pgt::test {
namespace {

using internal::RawRecord;
using internal::XLogReader;
constexpr auto kNoWait = std::chrono::milliseconds(0);

std::map<std::string, std::string> Info() {
  std::map<std::string, std::string> m;
  std::ifstream in(FixturePath("basic.wal.info"));
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    m[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return m;
}
Lsn HexLsn(const std::string& s) { return std::stoull(s, nullptr, 16); }

std::vector<RawRecord> ReadAll(XLogReader& r, Status* err = nullptr) {
  std::vector<RawRecord> out;
  for (;;) {
    auto rec = r.Next(kNoWait);
    if (!rec.ok()) { if (err) *err = rec.status(); break; }
    if (!rec->has_value()) break;
    out.push_back(std::move(**rec));
  }
  return out;
}

TEST(XLogReaderTest, ReadsRealWalFromExactRecordStart) {
  auto info = Info();
  Lsn page = HexLsn(info["page_start"]), start = HexLsn(info["start"]), end = HexLsn(info["end"]);
  MemorySource src(page, ReadFile(FixturePath("basic.wal")));
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(start, 1).ok());
  Status err;
  auto recs = ReadAll(r, &err);
  EXPECT_TRUE(err.ok()) << err.ToString();
  ASSERT_GT(recs.size(), 50u);
  EXPECT_EQ(recs.front().start, start);
  EXPECT_GE(recs.back().end, end);
  for (size_t i = 1; i < recs.size(); i++) EXPECT_EQ(recs[i].start % 8, 0u);
}

TEST(XLogReaderTest, PageAlignedStartSkipsRecordInProgress) {
  auto info = Info();
  Lsn page = HexLsn(info["page_start"]);
  auto bytes = ReadFile(FixturePath("basic.wal"));
  MemorySource src(page, bytes);
  XLogReader all(&src);
  ASSERT_TRUE(all.Start(HexLsn(info["start"]), 1).ok());
  auto recs = ReadAll(all);
  // Find a record crossing a page boundary and start at that boundary.
  const RawRecord* crossing = nullptr;
  for (auto& r : recs)
    if (r.start / 8192 != (r.end - 1) / 8192) { crossing = &r; break; }
  ASSERT_NE(crossing, nullptr) << "fixture has no record crossing pages";
  Lsn boundary = (crossing->start / 8192 + 1) * 8192;
  MemorySource src2(page, bytes);
  XLogReader r2(&src2);
  ASSERT_TRUE(r2.Start(boundary, 1).ok());
  auto rec = r2.Next(kNoWait);
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_TRUE(rec->has_value());
  EXPECT_EQ((*rec)->start, (crossing->end + 7) / 8 * 8);
}

TEST(XLogReaderTest, ArbitrarySplitsGiveTheSameRecords) {
  auto info = Info();
  Lsn page = HexLsn(info["page_start"]);
  auto bytes = ReadFile(FixturePath("basic.wal"));
  MemorySource big(page, bytes), small(page, bytes, 7);
  XLogReader a(&big), b(&small);
  ASSERT_TRUE(a.Start(page, 1).ok());
  ASSERT_TRUE(b.Start(page, 1).ok());
  auto ra = ReadAll(a), rb = ReadAll(b);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); i++) {
    EXPECT_EQ(ra[i].start, rb[i].start);
    EXPECT_EQ(ra[i].bytes, rb[i].bytes);
  }
}

TEST(XLogReaderTest, ReassemblesRecordSpanningSeveralPages) {
  WalBuilder w(0x1000000);
  std::vector<uint8_t> big(20000);
  for (size_t i = 0; i < big.size(); i++) big[i] = uint8_t(i * 7);
  w.Add(0, 0x20, 0, MainDataOnly({1, 2, 3}));
  Lsn s = w.Add(0, 0x20, 0, MainDataOnly(big));
  Lsn after = w.Add(0, 0x20, 0, MainDataOnly({9}));
  MemorySource src(w.start(), w.PaddedBytes());
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(w.start(), 1).ok());
  auto recs = ReadAll(r);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].start, s);
  EXPECT_EQ(recs[1].bytes.size(), 24 + 5 + big.size());
  EXPECT_TRUE(std::equal(big.begin(), big.end(), recs[1].bytes.begin() + 29));
  EXPECT_EQ(recs[2].start, after);
  // Starting at the second page boundary skips the rest of the big record.
  MemorySource src2(w.start(), w.PaddedBytes());
  XLogReader r2(&src2);
  ASSERT_TRUE(r2.Start(w.start() + 2 * 8192, 1).ok());
  auto recs2 = ReadAll(r2);
  ASSERT_EQ(recs2.size(), 1u);
  EXPECT_EQ(recs2[0].start, after);
}

TEST(XLogReaderTest, ExactStartMidPageSkipsEarlierRecords) {
  WalBuilder w(0x1000000);
  w.Add(0, 0x20, 0, MainDataOnly({1}));
  Lsn second = w.Add(0, 0x20, 0, MainDataOnly({2}));
  w.Add(0, 0x20, 0, MainDataOnly({3}));
  MemorySource src(w.start(), w.PaddedBytes());
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(second, 1).ok());
  auto recs = ReadAll(r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].start, second);
  // A position inside a record is an error.
  MemorySource src2(w.start(), w.PaddedBytes());
  XLogReader r2(&src2);
  ASSERT_TRUE(r2.Start(second + 8, 1).ok());
  auto rec = r2.Next(kNoWait);
  EXPECT_FALSE(rec.ok());
}

TEST(XLogReaderTest, CrcMismatchIsCorruption) {
  WalBuilder w(0x1000000);
  w.Add(0, 0x20, 0, MainDataOnly({1}));
  Lsn s = w.Add(0, 0x20, 0, MainDataOnly({5, 6, 7}));
  auto bytes = w.PaddedBytes();
  bytes[s - w.start() + 26] ^= 0x40;
  MemorySource src(w.start(), bytes);
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(w.start(), 1).ok());
  Status err;
  auto recs = ReadAll(r, &err);
  EXPECT_EQ(recs.size(), 1u);
  EXPECT_EQ(err.code(), Status::Code::kCorruption);
  EXPECT_NE(err.message().find("checksum"), std::string::npos) << err.ToString();
  EXPECT_NE(err.message().find(FormatLsn(s)), std::string::npos);
}

TEST(XLogReaderTest, BadPageHeadersAreCorruption) {
  WalBuilder w(0x1000000);
  std::vector<uint8_t> big(9000, 1);
  w.Add(0, 0x20, 0, MainDataOnly(big));
  w.Add(0, 0x20, 0, MainDataOnly({1}));
  for (int which = 0; which < 3; which++) {
    auto bytes = w.PaddedBytes();
    uint8_t* p2 = bytes.data() + 8192;   // second page header
    if (which == 0) p2[0] = 0x11;        // magic
    if (which == 1) p2[8] ^= 0x20;       // pageaddr
    if (which == 2) p2[2] |= 0x10;       // unknown info bit
    MemorySource src(w.start(), bytes);
    XLogReader r(&src);
    ASSERT_TRUE(r.Start(w.start(), 1).ok());
    Status err;
    auto recs = ReadAll(r, &err);
    EXPECT_EQ(err.code(), Status::Code::kCorruption) << which;
    EXPECT_TRUE(recs.empty());
  }
}

TEST(XLogReaderTest, XlogSwitchSkipsToNextSegment) {
  WalBuilder w(0x100000 * 3, 0x100000);
  w.Add(0, 0x20, 0, MainDataOnly({1}));
  w.AddSwitch();
  Lsn next = w.Add(0, 0x20, 0, MainDataOnly({2}));
  EXPECT_EQ(next, 0x100000u * 4 + 40);
  MemorySource src(w.start(), w.PaddedBytes());
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(w.start(), 1).ok());
  Status err;
  auto recs = ReadAll(r, &err);
  ASSERT_TRUE(err.ok()) << err.ToString();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].start, next);
}

TEST(XLogReaderTest, WaitsForMoreBytesMidRecord) {
  WalBuilder w(0x1000000);
  w.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(12000, 3)));
  w.Add(0, 0x20, 0, MainDataOnly({4}));
  MemorySource src(w.start(), w.PaddedBytes());
  src.Truncate(9000);   // the stream stopped in the middle of the first record
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(w.start(), 1).ok());
  auto rec = r.Next(kNoWait);
  ASSERT_TRUE(rec.ok());
  EXPECT_FALSE(rec->has_value());
  src.Truncate(0);
  auto recs = ReadAll(r);
  EXPECT_EQ(recs.size(), 2u);
}

// XLP_FIRST_IS_OVERWRITE_CONTRECORD (PG >= 15): a record B spanning into the next page was torn
// by a crash; the server wrote an XLOG_OVERWRITE_CONTRECORD record where B's continuation was
// expected, on a page flagged 0x8 without FIRST_IS_CONTRECORD. B is dropped, reading goes on.
struct OverwrittenWal {
  Lsn a = 0, b = 0, overwrite = 0, c = 0;
  std::vector<uint8_t> bytes;
};
OverwrittenWal BuildOverwrittenWal() {
  OverwrittenWal o;
  WalBuilder w1(0x2000000);
  o.a = w1.Add(0, 0x20, 0, MainDataOnly({1}));
  o.b = w1.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(12000, 5)));   // spans 2 pages
  o.bytes.assign(w1.bytes.begin(), w1.bytes.begin() + internal::kXLogBlcksz);
  WalBuilder w2(w1.start() + internal::kXLogBlcksz);
  w2.set_prev(o.a);   // the last record replayed before the torn one
  std::vector<uint8_t> payload;
  PutU64(&payload, o.b);   // xl_overwrite_contrecord: overwritten LSN, timestamp
  PutU64(&payload, 0);
  o.overwrite = w2.Add(0, 0xD0, 0, MainDataOnly(payload));
  o.c = w2.Add(0, 0x20, 0, MainDataOnly({3}));
  std::vector<uint8_t> tail = w2.PaddedBytes();
  tail[2] |= internal::kXlpFirstIsOverwriteContrecord;
  EXPECT_EQ(tail[2] & internal::kXlpFirstIsContrecord, 0);
  o.bytes.insert(o.bytes.end(), tail.begin(), tail.end());
  return o;
}

TEST(XLogReaderTest, OverwriteContrecordDropsTheTornRecord) {
  OverwrittenWal o = BuildOverwrittenWal();
  for (size_t chunk : {size_t{1} << 20, size_t{7}, size_t{4096}}) {
    MemorySource src(0x2000000, o.bytes, chunk);
    XLogReader r(&src);
    ASSERT_TRUE(r.Start(o.a, 1).ok());
    Status err;
    auto recs = ReadAll(r, &err);
    ASSERT_TRUE(err.ok()) << err.ToString();
    ASSERT_EQ(recs.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(recs[0].start, o.a);
    EXPECT_EQ(recs[1].start, o.overwrite);
    EXPECT_EQ(recs[1].bytes[17], 0);      // rmid XLOG
    EXPECT_EQ(recs[1].bytes[16], 0xD0);   // XLOG_OVERWRITE_CONTRECORD
    EXPECT_EQ(recs[2].start, o.c);
  }
  // Starting on the flagged page: its first record is the overwrite record.
  MemorySource src(0x2000000, o.bytes);
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(0x2000000 + internal::kXLogBlcksz, 1).ok());
  auto recs = ReadAll(r);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].start, o.overwrite);
  // Without the flag the same page is an error (continuation expected).
  std::vector<uint8_t> bad = o.bytes;
  bad[internal::kXLogBlcksz + 2] &= static_cast<uint8_t>(~internal::kXlpFirstIsOverwriteContrecord);
  MemorySource bsrc(0x2000000, bad);
  XLogReader br(&bsrc);
  ASSERT_TRUE(br.Start(o.a, 1).ok());
  Status err;
  ReadAll(br, &err);
  EXPECT_EQ(err.code(), Status::Code::kCorruption);
  EXPECT_NE(err.message().find("no contrecord flag"), std::string::npos) << err.ToString();
}

// A stream source that follows a timeline switch: it first serves the old timeline's WAL up to
// `old_limit` (a record torn past the switch point), then reports that bytes from `fork` on are
// void and serves the new timeline's WAL from there (WalSource::TakeDiscardFrom).
class ForkingSource : public WalSource {
 public:
  ForkingSource(Lsn base, std::vector<uint8_t> old_wal, size_t old_limit,
                std::vector<uint8_t> new_wal, Lsn fork)
      : base_(base), old_(std::move(old_wal)), new_(std::move(new_wal)), old_limit_(old_limit),
        fork_(fork) {}
  Status Start(Lsn start, TimeLineId) override { pos_ = start; return Status::Ok(); }
  Status Read(std::vector<uint8_t>* out, std::chrono::milliseconds) override {
    const std::vector<uint8_t>& src = forked_ ? new_ : old_;
    size_t avail = forked_ ? src.size() : old_limit_;
    size_t off = static_cast<size_t>(pos_ - base_);
    if (off >= avail) {
      if (!forked_) {   // the old timeline ended: switch, void what was sent past the fork
        forked_ = true;
        discard_ = fork_;
        pos_ = fork_;
      }
      return Status::Ok();
    }
    size_t n = std::min<size_t>(3000, avail - off);
    out->insert(out->end(), src.begin() + static_cast<ptrdiff_t>(off),
                src.begin() + static_cast<ptrdiff_t>(off + n));
    pos_ += n;
    return Status::Ok();
  }
  void ConfirmFlush(Lsn) override {}
  TimeLineId timeline() const override { return forked_ ? 2 : 1; }
  Lsn TakeDiscardFrom() override { Lsn d = discard_; discard_ = kInvalidLsn; return d; }

 private:
  Lsn base_;
  std::vector<uint8_t> old_, new_;
  size_t old_limit_;
  Lsn fork_, pos_ = 0, discard_ = kInvalidLsn;
  bool forked_ = false;
};

// Up to `n` records, reading on while the source switches timelines (a call may return none);
// stops at the first error.
std::vector<RawRecord> ReadAcrossTheFork(XLogReader& r, size_t n, Status* err) {
  std::vector<RawRecord> recs;
  for (int i = 0; i < 20 && recs.size() < n; i++) {
    auto rec = r.Next(kNoWait);
    if (!rec.ok()) { *err = rec.status(); break; }
    if (rec->has_value()) recs.push_back(std::move(**rec));
  }
  return recs;
}

TEST(XLogReaderTest, TimelineForkDiscardsTornOldTimelineBytes) {
  // Old timeline: A, then B spanning pages, torn (the stream stops inside B's continuation).
  WalBuilder old_tl(0x3000000, 1 << 20, 1);
  Lsn a = old_tl.Add(0, 0x20, 0, MainDataOnly({1}));
  Lsn b = old_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(12000, 6)));
  // New timeline (pages of timeline 2 after the fork page): A, then C and D at B's place.
  WalBuilder new_tl(0x3000000, 1 << 20, 2);
  ASSERT_EQ(new_tl.Add(0, 0x20, 0, MainDataOnly({1})), a);
  Lsn c = new_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(9000, 7)));
  Lsn d = new_tl.Add(0, 0x20, 0, MainDataOnly({8}));
  ASSERT_EQ(c, b);
  ForkingSource src(0x3000000, old_tl.PaddedBytes(), internal::kXLogBlcksz + 100,
                    new_tl.PaddedBytes(), c);
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(a, 1).ok());
  Status err;
  std::vector<RawRecord> recs = ReadAcrossTheFork(r, 3, &err);
  ASSERT_TRUE(err.ok()) << err.ToString();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].start, a);
  EXPECT_EQ(recs[1].start, c);
  EXPECT_EQ(recs[1].bytes.size(), 24u + 5 + 9000);   // C, not the torn B
  EXPECT_EQ(recs[2].start, d);
}

// The last complete record ends exactly on a page boundary and the torn record begins on the
// next page: the reader has stepped over that (abandoned) page's header before the fork is
// known. The fork lies past every record read, so the reader goes back to it (CI seed 203370 of
// walreader_timeline_torn failed here with "forked at 0/89E000, before WAL already read up to
// 0/89E018").
TEST(XLogReaderTest, TimelineForkAtAPageBoundaryAfterTheNextPageHeaderWasRead) {
  WalBuilder old_tl(0x3000000, 1 << 20, 1);
  Lsn a = old_tl.Add(0, 0x20, 0, MainDataOnly({1}));
  const size_t fill = internal::kXLogBlcksz - (old_tl.end() + 7) / 8 * 8 % internal::kXLogBlcksz;
  Lsn b = old_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(fill - 24 - 5, 5)));
  ASSERT_EQ(old_tl.end() % internal::kXLogBlcksz, 0u);   // B ends on the page boundary
  const Lsn fork = old_tl.end();
  old_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(12000, 6)));   // torn
  WalBuilder new_tl(0x3000000, 1 << 20, 2);
  new_tl.Add(0, 0x20, 0, MainDataOnly({1}));
  new_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(fill - 24 - 5, 5)));
  Lsn c = new_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(100, 7)));
  ASSERT_EQ(c, fork + 24);
  ForkingSource src(0x3000000, old_tl.PaddedBytes(), internal::kXLogBlcksz + 200,
                    new_tl.PaddedBytes(), fork);
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(a, 1).ok());
  Status err;
  std::vector<RawRecord> recs = ReadAcrossTheFork(r, 3, &err);
  ASSERT_TRUE(err.ok()) << err.ToString();
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].start, b);
  EXPECT_EQ(recs[1].end, fork);
  EXPECT_EQ(recs[2].start, c);
  EXPECT_EQ(recs[2].bytes.size(), 24u + 2 + 100);   // C of timeline 2, not the torn record
}

TEST(XLogReaderTest, TimelineForkBeforeDecodedWalIsAnError) {
  WalBuilder old_tl(0x3000000, 1 << 20, 1);
  Lsn a = old_tl.Add(0, 0x20, 0, MainDataOnly({1}));
  old_tl.Add(0, 0x20, 0, MainDataOnly({2}));
  old_tl.Add(0, 0x20, 0, MainDataOnly(std::vector<uint8_t>(12000, 6)));
  WalBuilder new_tl(0x3000000, 1 << 20, 2);
  new_tl.Add(0, 0x20, 0, MainDataOnly({1}));
  new_tl.Add(0, 0x20, 0, MainDataOnly({9}));
  // The fork is at A's end, but the second old record (after it) was already returned.
  ForkingSource src(0x3000000, old_tl.PaddedBytes(), internal::kXLogBlcksz + 100,
                    new_tl.PaddedBytes(), (old_tl.start() + 40 + 24 + 2 + 7) / 8 * 8);
  XLogReader r(&src);
  ASSERT_TRUE(r.Start(a, 1).ok());
  Status err;
  auto recs = ReadAll(r, &err);
  for (int i = 0; i < 5 && err.ok(); i++) {
    auto more = ReadAll(r, &err);
    recs.insert(recs.end(), more.begin(), more.end());
  }
  EXPECT_EQ(recs.size(), 2u);
  EXPECT_EQ(err.code(), Status::Code::kCorruption);
  EXPECT_NE(err.message().find("forked at"), std::string::npos) << err.ToString();
}

}  // namespace
}  // namespace pgt::test
