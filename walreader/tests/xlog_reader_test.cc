// Page/record reader: real PG15 WAL (fixtures/basic.wal) and synthetic WAL.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "test_util.h"
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

}  // namespace
}  // namespace pgt::test
