// Streaming emission (Decoder::NextStreamed, ReorderBuffer::CommitStream) and the fast paths of
// the CLI (hardware CRC-32C, AppendChangeTestDecoding): each checked against the reference path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "crc32c.h"
#include "file_catalog.h"
#include "reorder_buffer.h"
#include "test_util.h"
#include "walreader/decoder.h"
#include "walreader/text_format.h"

namespace pgt::test {
namespace {

namespace fs = std::filesystem;
using internal::ReorderBuffer;

// --- CRC-32C ---------------------------------------------------------------------------------

TEST(Crc32cTest, KnownVectorBothImplementations) {
  const char* s = "123456789";   // the standard check value of CRC-32C
  auto p = reinterpret_cast<const uint8_t*>(s);
  EXPECT_EQ(internal::Crc32cFinish(internal::Crc32cExtend(internal::kCrc32cInit, p, 9)), 0xE3069283u);
  EXPECT_EQ(internal::Crc32cFinish(internal::Crc32cExtendTable(internal::kCrc32cInit, p, 9)),
            0xE3069283u);
}

TEST(Crc32cTest, HardwareAndTableAgreeOnEveryLengthAndAlignment) {
  std::mt19937 rnd(7);
  std::vector<uint8_t> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<uint8_t>(rnd());
  for (size_t off = 0; off < 9; off++)
    for (size_t len = 0; len < 300; len++) {
      uint32_t a = internal::Crc32cExtend(0x12345678u, buf.data() + off, len);
      uint32_t b = internal::Crc32cExtendTable(0x12345678u, buf.data() + off, len);
      ASSERT_EQ(a, b) << "off " << off << " len " << len;
    }
  // Long inputs take the three-way path (blocks of 3 x 256 and 3 x 2048 bytes, combined by
  // shift tables): lengths around the block sizes, at several alignments.
  std::vector<uint8_t> big(40000 + 16);
  for (auto& b : big) b = static_cast<uint8_t>(rnd());
  for (size_t off = 0; off < 3; off++)
    for (size_t len : {767u, 768u, 769u, 1536u, 1543u, 6143u, 6144u, 6151u, 8192u, 8220u, 12288u,
                       20000u, 40000u})
      ASSERT_EQ(internal::Crc32cExtend(0x12345678u, big.data() + off, len),
                internal::Crc32cExtendTable(0x12345678u, big.data() + off, len))
          << "off " << off << " len " << len;
  // A running CRC in pieces equals the CRC of the whole.
  uint32_t whole = internal::Crc32cExtend(internal::kCrc32cInit, buf.data(), 4096);
  uint32_t parts = internal::Crc32cExtend(internal::kCrc32cInit, buf.data(), 1001);
  parts = internal::Crc32cExtend(parts, buf.data() + 1001, 4096 - 1001);
  EXPECT_EQ(whole, parts);
  std::printf("crc32c: %s\n", internal::Crc32cHardware() ? "SSE4.2" : "slicing-by-8 table");
}

// --- text fast path ----------------------------------------------------------------------------

// The literal test_decoding prints for a value, built from ValueToText (the reference).
std::string ReferenceLiteral(const Value& v, Oid type_oid, const TextOptions& o) {
  std::string txt = ValueToText(v, type_oid, o);
  switch (type_oid) {
    case 20: case 21: case 23: case 26: case 700: case 701: case 1700: return txt;
    case 16: return txt == "t" ? "true" : "false";
    default: break;
  }
  std::string out = "'";
  for (char c : txt) { if (c == '\'') out += '\''; out += c; }
  return out + "'";
}

TEST(TextFastPathTest, AppendedLiteralsEqualTheReferenceRendering) {
  struct Col { const char* name; Oid oid; TypeId type; };
  const Col cols[] = {{"i2", 21, TypeId::kInt2}, {"i4", 23, TypeId::kInt4}, {"i8", 20, TypeId::kInt8},
                      {"o", 26, TypeId::kOid}, {"b", 16, TypeId::kBool}, {"d", 1082, TypeId::kDate},
                      {"tm", 1083, TypeId::kTime}, {"ts", 1114, TypeId::kTimestamp},
                      {"tz", 1184, TypeId::kTimestamptz}, {"t", 25, TypeId::kText},
                      {"vc", 1043, TypeId::kVarchar}, {"bc", 1042, TypeId::kBpchar},
                      {"n", 1700, TypeId::kNumeric}, {"Mixed Case", 25, TypeId::kText}};
  RelationDesc d;
  d.relid = 1;
  d.schema = "public";
  d.name = "t";
  for (size_t i = 0; i < std::size(cols); i++) {
    AttributeDesc a;
    a.attnum = static_cast<int16_t>(i + 1);
    a.name = cols[i].name;
    a.type_oid = cols[i].oid;
    a.type = cols[i].type;
    d.attrs.push_back(a);
  }
  std::mt19937_64 rnd(11);
  const int64_t kSpecial[] = {0, 1, -1, INT64_MIN, INT64_MAX, INT32_MIN, INT32_MAX,
                              -63113904000000000LL /* BC */, 86400000000LL - 1, 3600000000LL * 24};
  for (const char* zone : {"UTC", "Europe/Paris"}) {
    TextOptions o;
    o.timezone = zone;
    TestDecodingFormatter cached(o);   // column headers computed once, reused for every row
    for (int round = 0; round < 3000; round++) {
      Row row;
      std::string want = "table public.t: INSERT:";
      for (const Col& c : cols) {
        Value v;
        int64_t x = round < 10 ? kSpecial[round] : static_cast<int64_t>(rnd());
        switch (c.type) {
          case TypeId::kInt2: v = Value::Int(c.type, static_cast<int16_t>(x)); break;
          case TypeId::kInt4: v = Value::Int(c.type, static_cast<int32_t>(x)); break;
          case TypeId::kOid: v = Value::Int(c.type, static_cast<uint32_t>(x)); break;
          case TypeId::kBool: v = Value::Bool(x & 1); break;
          case TypeId::kDate:
            v = Value::Int(c.type, round < 10 ? static_cast<int32_t>(x) : static_cast<int32_t>(x % 3000000));
            break;
          case TypeId::kTime: v = Value::Int(c.type, static_cast<int64_t>(static_cast<uint64_t>(x) % 86400000001ULL)); break;
          case TypeId::kTimestamp: case TypeId::kTimestamptz:
            v = Value::Int(c.type, round < 10 ? x : x % (3000LL * 365 * 86400000000LL));
            break;
          case TypeId::kNumeric: v = Value::Str(c.type, std::to_string(x) + ".50"); break;
          default: v = Value::Str(c.type, "it's " + std::to_string(x) + (x & 1 ? "''" : "")); break;
        }
        if (round % 17 == 0 && c.oid == 25) v = Value::Null(c.type);
        want += std::string(" ") + (c.name[0] == 'M' ? "\"Mixed Case\"" : c.name) + "[" +
                FormatTypeName(c.oid) + "]:" + (v.is_null ? "null" : ReferenceLiteral(v, c.oid, o));
        row.push_back(v);
      }
      Change ch;
      ch.relid = 1;
      ch.new_row = row;
      std::string got = "";
      AppendChangeTestDecoding(&got, ch, [&](Oid) { return &d; }, o);
      ASSERT_EQ(got, want) << "zone " << zone << " round " << round;
      std::string got2;
      cached.Append(&got2, ch, [&](Oid) { return &d; });
      ASSERT_EQ(got2, want) << "formatter, zone " << zone << " round " << round;
    }
  }
}

// --- streaming from the reorder buffer -----------------------------------------------------------

size_t FilesIn(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return 0;
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) { (void)e; n++; }
  return n;
}

size_t VmRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  return 0;
}

// A one-million-row transaction committed and emitted in bounded memory: the accounted bytes
// never pass the limit by more than one change, and the process RSS does not grow by anything
// like the materialised transaction (about 200 MB as a Transaction).
TEST(StreamTest, MillionRowTransactionIsEmittedInBoundedMemory) {
  std::string dir = "/tmp/walreader-stream-test-" + std::to_string(::getpid());
  const size_t limit = 256 << 10;
  ReorderBuffer rb(limit, dir);
  rb.ProcessXid(100, 0, 10);
  size_t one = 0;
  for (int i = 0; i < 1000000; i++) {
    Change c;
    c.kind = ChangeKind::kInsert;
    c.relid = 1;
    c.lsn = 10 + static_cast<Lsn>(i);
    c.new_row = Row{Value::Int(TypeId::kInt4, i), Value::Str(TypeId::kText, std::string(40, 'x'))};
    one = std::max(one, ReorderBuffer::ApproxSize(c));
    rb.AddChange(100, std::move(c));
  }
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  const size_t rss_before = VmRssKb();
  size_t rss_max = rss_before, mem_max = 0;
  int64_t next = 0;
  bool in_order = true;
  Transaction h = rb.CommitStream(100, {}, 5000000, 5000010, 1, [&](const Transaction& hdr, Change&& c) {
    in_order = in_order && hdr.xid == 100 && (*c.new_row)[0].i == next;
    next++;
    mem_max = std::max(mem_max, rb.memory_used());
    if (next % 50000 == 0) rss_max = std::max(rss_max, VmRssKb());
  });
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(next, 1000000);
  EXPECT_EQ(h.first_lsn, 10u);
  EXPECT_EQ(h.commit_lsn, 5000000u);
  EXPECT_LE(rb.peak_memory_used(), limit + one);
  EXPECT_LE(mem_max, limit);
  EXPECT_LT(rss_max - rss_before, size_t{32} << 10) << "RSS grew by " << (rss_max - rss_before) << " KB";
  std::printf("stream: peak accounted %zu bytes (limit %zu), RSS growth while emitting %zu KB\n",
              rb.peak_memory_used(), limit, rss_max - rss_before);
  EXPECT_EQ(rb.memory_used(), 0u);
  EXPECT_EQ(FilesIn(dir), 0u);   // the spill file is removed once emitted
}

// Subtransactions and ROLLBACK TO through the streamed commit, spilled and in memory.
TEST(StreamTest, StreamedCommitKeepsOnlyCommittedSubxacts) {
  std::string dir = "/tmp/walreader-stream-test2-" + std::to_string(::getpid());
  ReorderBuffer rb(1024, dir);
  rb.ProcessXid(100, 0, 10);
  Lsn lsn = 10;
  std::vector<int64_t> want;
  for (int i = 0; i < 200; i++) {
    Xid x = i % 4 == 1 ? 101 : i % 4 == 2 ? 102 : 100;   // 102 is rolled back
    if (x != 100) rb.Assign(100, {x}, lsn);
    Change c;
    c.relid = 1;
    c.lsn = lsn++;
    c.new_row = Row{Value::Int(TypeId::kInt4, i), Value::Str(TypeId::kText, std::string(60, 'y'))};
    rb.AddChange(x, std::move(c));
    if (x != 102) want.push_back(i);
  }
  rb.Abort(102, {});
  std::vector<int64_t> got;
  rb.CommitStream(100, {101}, lsn, lsn + 1, 1,
                  [&](const Transaction&, Change&& c) { got.push_back((*c.new_row)[0].i); });
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_GT(rb.spill_count(), 0u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(FilesIn(dir), 0u);
}

// --- Decoder::NextStreamed on real PG15 WAL ------------------------------------------------------

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

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct TextSink : TransactionSink {
  CatalogResolver* cat = nullptr;
  std::string out;
  int offered = 0, ended = 0;
  int decline_every = 0;   // decline the n-th, 2n-th... transaction
  Lsn last_commit = 0;
  bool BeginTransaction(const Transaction& t) override {
    offered++;
    EXPECT_TRUE(t.changes.empty());
    EXPECT_GT(t.commit_lsn, last_commit);
    EXPECT_LE(t.first_lsn, t.commit_lsn);
    last_commit = t.commit_lsn;
    if (decline_every != 0 && offered % decline_every == 0) return false;
    out += "BEGIN\n";
    return true;
  }
  void OnChange(const Change& c) override {
    AppendChangeTestDecoding(&out, c, [&](Oid id) { return cat->LookupByOid(id); }, TextOptions{});
    out += "\n";
  }
  void EndTransaction(const Transaction&) override {
    ended++;
    out += "COMMIT\n";
  }
};

// Streams the fixture; `mix` alternates Next and NextStreamed calls.
std::string StreamFixture(DecoderOptions opts, int decline_every, bool mix, int* offered) {
  auto info = Info();
  Lsn page = std::stoull(info["page_start"], nullptr, 16);
  Lsn start = std::stoull(info["start"], nullptr, 16);
  Oid db = static_cast<Oid>(std::stoul(info["db_oid"]));
  auto cat = internal::FileCatalog::Load(FixturePath("basic.catalog"), db);
  EXPECT_TRUE(cat.ok()) << cat.status().ToString();
  if (!cat.ok()) return "";
  MemorySource src(page, ReadFile(FixturePath("basic.wal")));
  opts.database_oid = db;
  Decoder dec(&src, cat->get(), opts);
  EXPECT_TRUE(dec.Start(start, 1, true).ok());
  TextSink sink;
  sink.cat = cat->get();
  sink.decline_every = decline_every;
  for (int k = 0;; k++) {
    if (mix && k % 2 == 1) {
      auto t = dec.Next(std::chrono::milliseconds(0));
      EXPECT_TRUE(t.ok());
      if (!t.ok() || !t->has_value()) break;
      sink.out += "BEGIN\n";
      for (auto& c : (*t)->changes) sink.OnChange(c);
      sink.out += "COMMIT\n";
      sink.offered++;   // keeps the decline pattern aligned (unused with mix)
      continue;
    }
    auto got = dec.NextStreamed(std::chrono::milliseconds(0), &sink);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || !got.value()) break;
  }
  EXPECT_EQ(dec.open_transactions(), 0u);
  if (decline_every == 0 && !mix) { EXPECT_EQ(sink.ended, sink.offered); }
  *offered = sink.offered;
  return sink.out;
}

TEST(StreamTest, NextStreamedMatchesTestDecodingOutput) {
  std::string want = Slurp(FixturePath("basic.expected"));
  int offered = 0;
  EXPECT_EQ(StreamFixture(DecoderOptions{}, 0, false, &offered), want);
  DecoderOptions spill;
  spill.reorder_memory_limit = 1;   // every change read back from a spill file
  spill.spill_dir = "/tmp/walreader-stream-fixture-" + std::to_string(::getpid());
  EXPECT_EQ(StreamFixture(spill, 0, false, &offered), want);
  EXPECT_FALSE(fs::exists(spill.spill_dir));
  EXPECT_EQ(StreamFixture(DecoderOptions{}, 0, true, &offered), want);   // mixed with Next
  // Declining every second transaction drops exactly those from the output.
  std::string declined = StreamFixture(DecoderOptions{}, 2, false, &offered);
  std::string expect_declined;
  int n = 0;
  std::istringstream in(want);
  std::string line, txn;
  while (std::getline(in, line)) {
    txn += line + "\n";
    if (line == "COMMIT") {
      if (++n % 2 != 0) expect_declined += txn;
      txn.clear();
    }
  }
  EXPECT_GT(n, 2);
  EXPECT_EQ(offered, n);
  EXPECT_EQ(declined, expect_declined);
}

}  // namespace
}  // namespace pgt::test

namespace pgt::test {
namespace {

// Tuples of relations the catalog does not track are skipped before their bytes are looked at:
// the same malformed tuple is an error for a tracked relation and nothing for an untracked one.
TEST(StreamTest, UntrackedRelationTuplesAreNotDecoded) {
  const RelFileLocator tracked{1663, 5, 16384}, untracked{1663, 5, 99999};
  auto run = [&](const RelFileLocator& target) -> Status {
    WalBuilder w(0x2000000);
    const std::vector<uint8_t> garbage = {0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x00};   // t_hoff 1
    w.Add(10, 0x00, 40, Block0AndMain(target, garbage, {1, 0, 0x08}));
    std::vector<uint8_t> commit;
    PutU64(&commit, 1000);
    PutU32(&commit, 0);
    w.Add(1, 0x80, 40, MainDataOnly(commit));
    internal::FileCatalog cat;
    RelationDesc d;
    d.relid = 500;
    d.schema = "public";
    d.name = "t";
    d.locator = tracked;
    d.attrs = {AttributeDesc{1, "id", 23, TypeId::kInt4, 4, 'i', true}};
    cat.Add(d);
    MemorySource src(w.start(), w.PaddedBytes());
    Decoder dec(&src, &cat, DecoderOptions{5});
    Status st = dec.Start(w.start(), 1, true);
    if (!st.ok()) return st;
    struct Count : TransactionSink {
      int changes = 0;
      bool BeginTransaction(const Transaction&) override { return true; }
      void OnChange(const Change&) override { changes++; }
      void EndTransaction(const Transaction&) override {}
    } sink;
    for (;;) {
      auto got = dec.NextStreamed(std::chrono::milliseconds(0), &sink);
      if (!got.ok()) return got.status();
      if (!got.value()) break;
    }
    EXPECT_EQ(sink.changes, 0);
    return Status::Ok();
  };
  Status bad = run(tracked);
  EXPECT_EQ(bad.code(), Status::Code::kCorruption) << bad.ToString();
  Status skipped = run(untracked);
  EXPECT_TRUE(skipped.ok()) << skipped.ToString();
}

}  // namespace
}  // namespace pgt::test
