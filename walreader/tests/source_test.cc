// Segment-file sources (pg_wal, archive flat/barman, restore_command, zstd/gzip by magic) and
// corruption handling: every error names the segment and the LSN, and no record past the last
// good one is returned. Synthetic 1 MB-segment WAL from WalBuilder.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "test_util.h"
#include "walreader/text_format.h"
#include "xlog_reader.h"

namespace pgt::test {
namespace {

namespace fs = std::filesystem;
using internal::XLogReader;
constexpr uint64_t kSeg = 1 << 20;
constexpr Lsn kStart = kSeg;   // segment 000000010000000000000001
constexpr auto kNoWait = std::chrono::milliseconds(0);

std::string SegName(uint64_t segno, uint32_t tli = 1) {  // NOLINT
  char b[32];
  std::snprintf(b, sizeof b, "%08X%08X%08X", tli, static_cast<uint32_t>(segno / 4096),
                static_cast<uint32_t>(segno % 4096));
  return b;
}

// Three full 1 MB segments (1, 2, 3); records of varied sizes up into segment 3.
struct Wal {
  std::vector<std::vector<uint8_t>> segs;   // index 0 = segment 1
  std::vector<Lsn> starts;                  // record starts
  Lsn end = 0;
  explicit Wal(uint32_t tli = 1) {
    WalBuilder b(kStart, kSeg, tli);
    std::mt19937 rng(7);
    while (b.end() < kStart + 2 * kSeg + 100000) {
      std::vector<uint8_t> body(rng() % 3000);
      for (auto& x : body) x = static_cast<uint8_t>(rng());
      starts.push_back(b.Add(10, 0, 1000, MainDataOnly(body)));
    }
    end = b.last_end();
    std::vector<uint8_t> all = b.bytes;
    all.resize(3 * kSeg, 0);
    for (int i = 0; i < 3; i++)
      segs.emplace_back(all.begin() + i * kSeg, all.begin() + (i + 1) * kSeg);
  }
};

void WriteFile(const std::string& p, const std::vector<uint8_t>& b) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream o(p, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<uint8_t> ZstdCompress(const std::vector<uint8_t>& in) {
  std::vector<uint8_t> out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  out.resize(n);
  return out;
}

std::vector<uint8_t> GzipCompress(const std::vector<uint8_t>& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> out(deflateBound(&zs, in.size()) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/wr-src-test.XXXXXX";
    path_ = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ReadResult {
  std::vector<Lsn> starts;
  Status err;
};

ReadResult ReadAll(WalSource* src, Lsn start = kStart + 40, TimeLineId tli = 1) {
  ReadResult r;
  XLogReader reader(src);
  r.err = reader.Start(start, tli);
  if (!r.err.ok()) return r;
  for (;;) {
    auto rec = reader.Next(kNoWait);
    if (!rec.ok()) { r.err = rec.status(); break; }
    if (!rec->has_value()) break;
    r.starts.push_back((*rec)->start);
  }
  return r;
}

std::unique_ptr<WalSource> Archive(const std::string& dir, Lsn required_until = 0) {
  SegmentSourceOptions o;
  o.dir = dir;
  o.required_until = required_until;
  auto s = OpenSegmentSource(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s.value());
}

TEST(SourceTest, FlatArchiveReadsEverySegmentWithSizeFromHeader) {
  Wal w;
  TempDir d;
  for (int i = 0; i < 3; i++) WriteFile(d.path() + "/" + SegName(i + 1), w.segs[i]);
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_TRUE(r.err.ok()) << r.err.ToString();
  EXPECT_EQ(r.starts, w.starts);
}

TEST(SourceTest, BarmanLayoutZstdAndGzipDetectedByMagic) {
  Wal w;
  TempDir d;
  std::string sub = d.path() + "/wals/0000000100000000/";
  WriteFile(sub + SegName(1) + ".zst", ZstdCompress(w.segs[0]));
  WriteFile(sub + SegName(2), GzipCompress(w.segs[1]));   // gzip without extension
  WriteFile(sub + SegName(3) + ".gz", ZstdCompress(w.segs[2]));   // extension lies: zstd
  WriteFile(d.path() + "/wals/" + SegName(1) + ".history", {'1', '\t', '0', '/', '0', '\n'});
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_TRUE(r.err.ok()) << r.err.ToString();
  EXPECT_EQ(r.starts, w.starts);
}

TEST(SourceTest, RestoreCommandFetchesSegments) {
  Wal w;
  TempDir d;
  for (int i = 0; i < 3; i++) WriteFile(d.path() + "/store/" + SegName(i + 1) + ".zst", ZstdCompress(w.segs[i]));
  SegmentSourceOptions o;
  o.restore_command = "cp " + d.path() + "/store/%f.zst %p";
  o.required_until = w.end;
  auto src = OpenSegmentSource(o);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto r = ReadAll(src->get());
  EXPECT_TRUE(r.err.ok()) << r.err.ToString();
  EXPECT_EQ(r.starts, w.starts);
}

TEST(SourceTest, RestoreCommandFailureIsAMissingSegment) {
  Wal w;
  SegmentSourceOptions o;
  o.restore_command = "false %f %p";
  o.required_until = w.end;
  auto src = OpenSegmentSource(o);
  ASSERT_TRUE(src.ok());
  auto r = ReadAll(src->get());
  EXPECT_TRUE(r.starts.empty());
  EXPECT_EQ(r.err.code(), Status::Code::kNotFound) << r.err.ToString();
  // the segment size is unknown until a segment was read: named as for 16 MB segments
  EXPECT_NE(r.err.message().find("WAL segment 000000010000000000000000 not found by restore_command"),
            std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find("0/100000"), std::string::npos) << r.err.ToString();
}

TEST(SourceTest, FollowsTimelineHistoryInFlatAndBarmanArchives) {
  Wal w1;
  Wal w2(2);   // same records, pages of timeline 2
  std::vector<uint8_t> junk(kSeg, 0x55);
  std::string hist = "# comment\n1\t0/280000\tno recovery target specified\n";
  for (int barman = 0; barman < 2; barman++) {
    TempDir d;
    std::string sub = barman ? d.path() + "/wals/0000000100000000/" : d.path() + "/";
    std::string sub2 = barman ? d.path() + "/wals/0000000200000000/" : d.path() + "/";
    WriteFile(sub + SegName(1, 1), w1.segs[0]);
    WriteFile(sub + SegName(2, 1), junk);   // the old timeline's copy: must not be used
    WriteFile(sub2 + SegName(2, 2) + (barman ? ".zst" : ""), barman ? ZstdCompress(w2.segs[1]) : w2.segs[1]);
    WriteFile(sub2 + SegName(3, 2), w2.segs[2]);
    // barman compresses history files like segments (wals/00000002.history.zst)
    std::vector<uint8_t> hist_bytes(hist.begin(), hist.end());
    WriteFile((barman ? d.path() + "/wals/" : d.path() + "/") + "00000002.history" + (barman ? ".zst" : ""),
              barman ? ZstdCompress(hist_bytes) : hist_bytes);
    auto src = Archive(d.path(), w1.end);
    auto r = ReadAll(src.get(), kStart + 40, 2);
    EXPECT_TRUE(r.err.ok()) << (barman ? "barman: " : "flat: ") << r.err.ToString();
    EXPECT_EQ(r.starts, w1.starts);
  }
}

TEST(SourceTest, InvalidTimelineHistoryIsCorruption) {
  TempDir d;
  std::string hist = "3\t0/280000\tbad parent\n";
  WriteFile(d.path() + "/00000002.history", std::vector<uint8_t>(hist.begin(), hist.end()));
  auto src = Archive(d.path());
  Status st = src->Start(kStart, 2);
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("00000002.history"), std::string::npos) << st.ToString();
}

TEST(SourceTest, PgWalMissingSegmentMeansNoWalYet) {
  Wal w;
  TempDir d;
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  auto src = OpenDirectorySource(d.path());
  ASSERT_TRUE(src.ok());
  auto r = ReadAll(src->get());
  EXPECT_TRUE(r.err.ok()) << r.err.ToString();
  ASSERT_FALSE(r.starts.empty());
  EXPECT_LT(r.starts.back(), kStart + kSeg);
  // The segment appears later: reading goes on.
  WriteFile(d.path() + "/" + SegName(2), w.segs[1]);
  WriteFile(d.path() + "/" + SegName(3), w.segs[2]);
  auto r2 = ReadAll(src->get());
  EXPECT_TRUE(r2.err.ok()) << r2.err.ToString();
  EXPECT_EQ(r2.starts, w.starts);
}

TEST(SourceTest, PgWalRecycledSegmentMeansNoWalYet) {
  Wal w;
  TempDir d;
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  WriteFile(d.path() + "/" + SegName(2), w.segs[0]);   // old segment renamed: stale pageaddr
  auto src = OpenDirectorySource(d.path());
  ASSERT_TRUE(src.ok());
  auto r = ReadAll(src->get());
  EXPECT_TRUE(r.err.ok()) << r.err.ToString();
  ASSERT_FALSE(r.starts.empty());
  EXPECT_LT(r.starts.back(), kStart + kSeg);
  // the server then writes the real segment 2 and 3
  WriteFile(d.path() + "/" + SegName(2), w.segs[1]);
  WriteFile(d.path() + "/" + SegName(3), w.segs[2]);
  auto r2 = ReadAll(src->get());
  EXPECT_TRUE(r2.err.ok()) << r2.err.ToString();
  EXPECT_EQ(r2.starts, w.starts);
}

// A promoted server archives its old timeline's last segment as NNN.partial; until the new
// timeline's file of that segment is archived, the old one is read only up to where the new
// timeline began (the bytes past it are the abandoned timeline's), and once the new file is
// there a new Start() reads it.
TEST(SourceTest, OlderTimelineSegmentEndsWhereTheNewTimelineBegan) {
  Wal w1;
  Wal w2(2);
  constexpr Lsn kSwitch = 0x280000;   // inside segment 2
  TempDir d;
  const std::string dir = d.path() + "/wals/";
  WriteFile(dir + "0000000100000000/" + SegName(1, 1), w1.segs[0]);
  std::vector<uint8_t> old_tail = w1.segs[1];
  std::fill(old_tail.begin() + (kSwitch - 2 * kSeg), old_tail.end(), 0x55);   // the abandoned timeline
  WriteFile(dir + "0000000100000000/" + SegName(2, 1) + ".partial.zst", ZstdCompress(old_tail));
  std::string hist = "1\t0/280000\tno recovery target specified\n";
  WriteFile(dir + "00000002.history", std::vector<uint8_t>(hist.begin(), hist.end()));
  auto src = Archive(d.path());
  ASSERT_TRUE(src->Start(2 * kSeg, 2).ok());
  std::vector<uint8_t> got;
  for (int i = 0; i < 40; i++) ASSERT_TRUE(src->Read(&got, kNoWait).ok());
  ASSERT_EQ(got.size(), kSwitch - 2 * kSeg) << "read past the switch point from the old timeline's segment";
  EXPECT_TRUE(std::equal(got.begin(), got.end(), w1.segs[1].begin()));
  // The new timeline's segment arrives: read from the switch point on.
  WriteFile(dir + "0000000200000000/" + SegName(2, 2) + ".zst", ZstdCompress(w2.segs[1]));
  ASSERT_TRUE(src->Start(kSwitch, 2).ok());
  got.clear();
  for (int i = 0; i < 40 && got.size() < 3 * kSeg - kSwitch; i++) ASSERT_TRUE(src->Read(&got, kNoWait).ok());
  ASSERT_EQ(got.size(), 3 * kSeg - kSwitch);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), w2.segs[1].begin() + (kSwitch - 2 * kSeg)));
}

TEST(SourceTest, PartialSegmentEndsCleanly) {
  Wal w;
  TempDir d;
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  WriteFile(d.path() + "/" + SegName(2), w.segs[1]);
  std::vector<uint8_t> part(w.segs[2].begin(), w.segs[2].begin() + 50000);
  WriteFile(d.path() + "/" + SegName(3) + ".partial", part);
  auto src = Archive(d.path());
  auto r = ReadAll(src.get());
  EXPECT_TRUE(r.err.ok()) << r.err.ToString();
  ASSERT_FALSE(r.starts.empty());
  EXPECT_LT(r.starts.back(), kStart + 2 * kSeg + 50000);
  EXPECT_GT(r.starts.back(), kStart + 2 * kSeg);
}

// Records returned before an error all end before `bad` (no record past the last good one).
void ExpectPrefixBefore(const ReadResult& r, const Wal& w, Lsn bad) {
  ASSERT_LE(r.starts.size(), w.starts.size());
  for (size_t i = 0; i < r.starts.size(); i++) EXPECT_EQ(r.starts[i], w.starts[i]);
  // every record of the WAL that ends before `bad` was returned
  size_t complete = 0;
  for (size_t i = 0; i + 1 < w.starts.size(); i++)
    if (w.starts[i + 1] <= bad) complete = i + 1;
  EXPECT_GE(r.starts.size() + 1, complete);
  if (!r.starts.empty()) { EXPECT_LT(r.starts.back(), bad); }
}

TEST(SourceTest, MissingArchiveSegmentNamesSegmentAndLsn) {
  Wal w;
  TempDir d;
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  WriteFile(d.path() + "/" + SegName(3), w.segs[2]);
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_EQ(r.err.code(), Status::Code::kNotFound) << r.err.ToString();
  EXPECT_NE(r.err.message().find(SegName(2)), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find("0/200000"), std::string::npos) << r.err.ToString();
  ExpectPrefixBefore(r, w, kStart + kSeg);
}

TEST(SourceTest, TruncatedSegmentNamesSegmentAndLsn) {
  Wal w;
  TempDir d;
  std::vector<uint8_t> cut(w.segs[0].begin(), w.segs[0].begin() + 300001);
  WriteFile(d.path() + "/" + SegName(1), cut);
  WriteFile(d.path() + "/" + SegName(2), w.segs[1]);
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_EQ(r.err.code(), Status::Code::kCorruption) << r.err.ToString();
  EXPECT_NE(r.err.message().find(SegName(1)), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find("truncated"), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find(FormatLsn(kStart + 300001)), std::string::npos) << r.err.ToString();
  ExpectPrefixBefore(r, w, kStart + 300001);
  EXPECT_GT(r.starts.size(), 10u);
}

TEST(SourceTest, FlippedBitIsCrcErrorNamingSegmentAndRecord) {
  Wal w;
  TempDir d;
  // a record in segment 2, flip a bit in its payload
  Lsn victim = 0;
  for (Lsn s : w.starts)
    if (s > kStart + kSeg + 5000 && (s % 8192) < 4000) { victim = s; break; }
  ASSERT_NE(victim, 0u);
  auto seg2 = w.segs[1];
  seg2[victim - (kStart + kSeg) + 30] ^= 0x10;
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  WriteFile(d.path() + "/" + SegName(2), seg2);
  WriteFile(d.path() + "/" + SegName(3), w.segs[2]);
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_EQ(r.err.code(), Status::Code::kCorruption) << r.err.ToString();
  EXPECT_NE(r.err.message().find("checksum"), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find(SegName(2)), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find(FormatLsn(victim)), std::string::npos) << r.err.ToString();
  ExpectPrefixBefore(r, w, victim);
  EXPECT_EQ(r.starts.back(), w.starts[std::find(w.starts.begin(), w.starts.end(), victim) - w.starts.begin() - 1]);
}

TEST(SourceTest, SegmentOfALaterTimelineIsAnError) {
  Wal w;
  Wal w2(2);   // same layout, pages say timeline 2
  TempDir d;
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  WriteFile(d.path() + "/" + SegName(2), w2.segs[1]);   // misnamed: belongs to timeline 2
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_EQ(r.err.code(), Status::Code::kCorruption) << r.err.ToString();
  EXPECT_NE(r.err.message().find("timeline 2"), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find(SegName(2)), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find("0/200000"), std::string::npos) << r.err.ToString();
  ExpectPrefixBefore(r, w, kStart + kSeg);
}

TEST(SourceTest, RequestedTimelineWithoutSegmentsIsMissing) {
  Wal w;
  TempDir d;
  for (int i = 0; i < 3; i++) WriteFile(d.path() + "/" + SegName(i + 1), w.segs[i]);
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get(), kStart + 40, 2);
  EXPECT_EQ(r.err.code(), Status::Code::kNotFound) << r.err.ToString();
  EXPECT_NE(r.err.message().find("00000002"), std::string::npos) << r.err.ToString();
}

TEST(SourceTest, GarbageFileIsCorruptionNamingSegment) {
  Wal w;
  TempDir d;
  std::vector<uint8_t> junk(kSeg);
  std::mt19937 rng(3);
  for (auto& x : junk) x = static_cast<uint8_t>(rng());
  junk[0] = 0x34;   // not a compression magic
  WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
  WriteFile(d.path() + "/" + SegName(2), junk);
  auto src = Archive(d.path(), w.end);
  auto r = ReadAll(src.get());
  EXPECT_EQ(r.err.code(), Status::Code::kCorruption) << r.err.ToString();
  EXPECT_NE(r.err.message().find(SegName(2)), std::string::npos) << r.err.ToString();
  EXPECT_NE(r.err.message().find("0/200000"), std::string::npos) << r.err.ToString();
  ExpectPrefixBefore(r, w, kStart + kSeg);
}

TEST(SourceTest, BrokenCompressedSegmentIsCorruption) {
  Wal w;
  for (int kind = 0; kind < 2; kind++) {
    TempDir d;
    auto z = kind == 0 ? ZstdCompress(w.segs[1]) : GzipCompress(w.segs[1]);
    z.resize(z.size() / 2);
    WriteFile(d.path() + "/" + SegName(1), w.segs[0]);
    WriteFile(d.path() + "/" + SegName(2) + (kind == 0 ? ".zst" : ".gz"), z);
    auto src = Archive(d.path(), w.end);
    auto r = ReadAll(src.get());
    EXPECT_EQ(r.err.code(), Status::Code::kCorruption) << r.err.ToString();
    EXPECT_NE(r.err.message().find("cannot decompress"), std::string::npos) << r.err.ToString();
    EXPECT_NE(r.err.message().find(SegName(2)), std::string::npos) << r.err.ToString();
    ExpectPrefixBefore(r, w, kStart + kSeg);
  }
}

TEST(TextFormatTest, TimestamptzInNamedZones) {
  // 2024-07-01 12:00:00 UTC = 8948 days + 12 h after 2000-01-01
  int64_t ts = (8948LL * 86400 + 12 * 3600) * 1000000;
  auto txt = [&](const char* zone, int64_t t) {
    TextOptions o;
    o.timezone = zone;
    return ValueToText(Value::Int(TypeId::kTimestamptz, t), o);
  };
  EXPECT_EQ(txt("UTC", ts), "2024-07-01 12:00:00+00");
  EXPECT_EQ(txt("Europe/Paris", ts), "2024-07-01 14:00:00+02");
  EXPECT_EQ(txt("Asia/Kathmandu", ts + 5), "2024-07-01 17:45:00.000005+05:45");
  EXPECT_EQ(txt("America/St_Johns", ts), "2024-07-01 09:30:00-02:30");
  // local mean time before zones (PostgreSQL 15: '1900-01-01 00:00:00+00' in Europe/Paris is
  // '1900-01-01 00:09:21+00:09:21'; '0044-03-15 12:00:00+00 BC' is '0044-03-15 12:09:21+00:09:21 BC')
  int64_t y1900 = -36524LL * 86400 * 1000000;
  EXPECT_EQ(txt("Europe/Paris", y1900), "1900-01-01 00:09:21+00:09:21");
  EXPECT_EQ(txt("Europe/Paris", INT64_MAX), "infinity");
}

TEST(TextFormatTest, FloatsAtAHalfwayBoundGetOneMoreDigit) {
  // PostgreSQL's Ryu does not accept bounds: 105076816 prints 9 digits, not 1.0507682e+08.
  EXPECT_EQ(ValueToText(Value{TypeId::kFloat4, false, false, 0, 105076816.0f, {}}), "1.05076816e+08");
  EXPECT_EQ(ValueToText(Value{TypeId::kFloat4, false, false, 0, 0.1f, {}}), "0.1");
  EXPECT_EQ(ValueToText(Value{TypeId::kFloat8, false, false, 0, 0.1, {}}), "0.1");
  // Checked against PostgreSQL 15's float8out/float4out:
  auto f8 = [](double x) { return ValueToText(Value{TypeId::kFloat8, false, false, 0, x, {}}); };
  auto f4 = [](float x) { return ValueToText(Value{TypeId::kFloat4, false, false, 0, x, {}}); };
  EXPECT_EQ(f8(1e23), "9.999999999999999e+22");   // 1e+23 is exactly the upper bound
  EXPECT_EQ(f8(2e23), "1.9999999999999998e+23");
  EXPECT_EQ(f8(9007199254740993.0), "9.007199254740992e+15");
  EXPECT_EQ(f8(1e22), "1e+22");
  EXPECT_EQ(f8(5e-324), "5e-324");
  EXPECT_EQ(f8(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(f4(3.4e38f), "3.4e+38");
  EXPECT_EQ(f4(16777217.0f), "1.6777216e+07");
}

std::string Le(std::initializer_list<std::pair<uint64_t, int>> fields) {
  std::string out;
  for (auto [v, n] : fields)
    for (int i = 0; i < n; i++) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

TEST(TextFormatTest, IntervalTimetzAndArraysByTypeOid) {
  auto raw = [](std::string payload) { return Value::Str(TypeId::kUnknown, std::move(payload)); };
  TextOptions o;
  // interval: time us, days, months (interval_out, IntervalStyle postgres)
  auto iv = [&](int64_t us, int32_t d, int32_t m) {
    return ValueToText(raw(Le({{static_cast<uint64_t>(us), 8}, {static_cast<uint32_t>(d), 4},
                               {static_cast<uint32_t>(m), 4}})), 1186, o);
  };
  EXPECT_EQ(iv(0, 0, 0), "00:00:00");
  EXPECT_EQ(iv(3723500000, 1, 14), "1 year 2 mons 1 day 01:02:03.5");
  EXPECT_EQ(iv(-960000000, 325, -143), "-11 years -11 mons +325 days -00:16:00");
  EXPECT_EQ(iv(0, -1, 0), "-1 days");
  // PostgreSQL 17+: every field at its limit is an infinite interval (found by the PG17 oracle)
  EXPECT_EQ(iv(INT64_MAX, INT32_MAX, INT32_MAX), "infinity");
  EXPECT_EQ(iv(INT64_MIN, INT32_MIN, INT32_MIN), "-infinity");
  // timetz: time us, zone = seconds west of UTC
  EXPECT_EQ(ValueToText(raw(Le({{45296000000ull, 8}, {static_cast<uint32_t>(-19800), 4}})), 1266, o),
            "12:34:56+05:30");
  EXPECT_EQ(ValueToText(raw(Le({{1, 8}, {3600, 4}})), 1266, o), "00:00:00.000001-01");
  // int4[] {1,NULL,-3} with lower bound 0: ndim, dataoffset, elemtype, dim, lbound, bitmap, data
  std::string arr = Le({{1, 4}, {32, 4}, {23, 4}, {3, 4}, {0, 4}, {0b101, 1}, {0, 7},
                        {1, 4}, {static_cast<uint32_t>(-3), 4}});
  EXPECT_EQ(ValueToText(raw(arr), 1007, o), "[0:2]={1,NULL,-3}");
  // text[] {"a b",NULL-string,x} with short (1-byte) element headers
  std::string t = Le({{1, 4}, {0, 4}, {25, 4}, {3, 4}, {1, 4}});   // data at MAXALIGN(24)
  t += std::string(1, static_cast<char>((4 << 1) | 1)) + "a b";
  t += std::string(1, static_cast<char>((5 << 1) | 1)) + "NULL";
  t += std::string(1, static_cast<char>((2 << 1) | 1)) + "x";
  EXPECT_EQ(ValueToText(raw(t), 1009, o), "{\"a b\",\"NULL\",x}");
  EXPECT_EQ(ValueToText(raw(Le({{0, 4}, {0, 4}, {23, 4}})), 1007, o), "{}");
  EXPECT_EQ(FormatTypeName(1007), "integer[]");
  EXPECT_EQ(FormatTypeName(1185), "timestamp with time zone[]");
  EXPECT_EQ(FormatTypeName(1266), "time with time zone");
}

}  // namespace
}  // namespace pgt::test
