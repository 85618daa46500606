// Decoder end to end: real PG15 WAL compared with test_decoding's output of the same range, and
// synthetic WAL for consistency stages, subtransactions and restart_lsn.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "file_catalog.h"
#include "test_util.h"
#include "walreader/decoder.h"
#include "walreader/text_format.h"

namespace pgt::test {
namespace {

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

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CheckFixture(DecoderOptions opts) {
  auto info = Info();
  Lsn page = std::stoull(info["page_start"], nullptr, 16);
  Lsn start = std::stoull(info["start"], nullptr, 16);
  Oid db = static_cast<Oid>(std::stoul(info["db_oid"]));
  auto cat = internal::FileCatalog::Load(FixturePath("basic.catalog"), db);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  MemorySource src(page, ReadFile(FixturePath("basic.wal")));
  opts.database_oid = db;
  Decoder dec(&src, cat->get(), opts);
  ASSERT_TRUE(dec.Start(start, 1, true).ok());
  std::string out;
  Lsn last_commit = 0;
  for (;;) {
    auto t = dec.Next(kNoWait);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    if (!t->has_value()) break;
    EXPECT_GT((*t)->commit_lsn, last_commit);
    EXPECT_GT((*t)->end_lsn, (*t)->commit_lsn);
    EXPECT_LE((*t)->first_lsn, (*t)->commit_lsn);
    EXPECT_GT((*t)->commit_time_us, 700000000000000);   // after 2022
    last_commit = (*t)->commit_lsn;
    out += "BEGIN\n";
    for (auto& c : (*t)->changes)
      out += FormatChangeTestDecoding(c, [&](Oid id) { return (*cat)->LookupByOid(id); }) + "\n";
    out += "COMMIT\n";
  }
  EXPECT_EQ(out, Slurp(FixturePath("basic.expected")));
  EXPECT_EQ(dec.open_transactions(), 0u);
  EXPECT_EQ(dec.restart_lsn(), dec.decoded_upto());
}

TEST(DecoderTest, FixtureMatchesTestDecodingOutput) { CheckFixture(DecoderOptions{}); }

// Same fixture with a reorder buffer limit of 1 byte: every change goes through a spill file.
TEST(DecoderTest, FixtureMatchesTestDecodingOutputWithSpill) {
  DecoderOptions opts;
  opts.reorder_memory_limit = 1;
  opts.spill_dir = "/tmp/walreader-decoder-spill-" + std::to_string(::getpid());
  CheckFixture(opts);
  EXPECT_FALSE(std::filesystem::exists(opts.spill_dir));   // emptied and removed at destruction
}

// --- synthetic WAL ---------------------------------------------------------------------------

const RelFileLocator kLoc{1663, 5, 16384};

struct Synthetic {
  WalBuilder w{0x2000000};
  Lsn Insert(Xid xid, int id, const char* name, Xid top = 0) {
    std::string ids = std::to_string(id);
    return w.Add(10, 0x00, xid,
                 Block0AndMain(kLoc, Tuple({ids.c_str(), name}, {true, false}), {1, 0, 0x08}, top));
  }
  Lsn XactEnd(uint8_t op, Xid xid, std::vector<Xid> subs) {
    std::vector<uint8_t> m;
    PutU64(&m, 1000);
    PutU32(&m, subs.empty() ? 0 : 2);
    if (!subs.empty()) {
      PutU32(&m, static_cast<uint32_t>(subs.size()));
      for (Xid s : subs) PutU32(&m, s);
    }
    return w.Add(1, op | 0x80, xid, MainDataOnly(m));
  }
  Lsn Commit(Xid xid, std::vector<Xid> subs = {}) { return XactEnd(0x00, xid, subs); }
  Lsn Abort(Xid xid, std::vector<Xid> subs = {}) { return XactEnd(0x20, xid, subs); }
  Lsn Running(Xid next, Xid oldest, std::vector<Xid> xids) {
    std::vector<uint8_t> m;
    PutU32(&m, static_cast<uint32_t>(xids.size()));
    PutU32(&m, 0);
    PutU32(&m, 0);   // overflow bool + padding
    PutU32(&m, next);
    PutU32(&m, oldest);
    PutU32(&m, next - 1);
    for (Xid x : xids) PutU32(&m, x);
    return w.Add(8, 0x10, 0, MainDataOnly(m));
  }
};

std::unique_ptr<internal::FileCatalog> Catalog() {
  auto cat = std::make_unique<internal::FileCatalog>();
  RelationDesc d;
  d.relid = 500;
  d.schema = "public";
  d.name = "t";
  d.locator = kLoc;
  AttributeDesc id{1, "id", 23, TypeId::kInt4, 4, 'i', true};
  AttributeDesc name{2, "name", 25, TypeId::kText, -1, 'i', false};
  d.attrs = {id, name};
  d.key_attnums = {1};
  cat->Add(d);
  return cat;
}

std::vector<Transaction> DrainAll(Decoder& dec) {
  std::vector<Transaction> out;
  for (;;) {
    auto t = dec.Next(kNoWait);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok() || !t->has_value()) break;
    out.push_back(std::move(**t));
  }
  return out;
}

TEST(DecoderTest, ConsistencyNeedsTwoStagesOfRunningXacts) {
  Synthetic s;
  s.Insert(10, 1, "started-before");          // xid 10 was running before our start
  Lsn start = s.Insert(11, 2, "a");
  s.Running(/*next*/ 12, /*oldest*/ 10, {10, 11});   // stage A: N1 = 12
  s.Commit(11);                                      // before consistency: dropped
  s.Insert(12, 3, "b");
  s.Running(13, 10, {10, 12});                       // oldest 10 < N1: still stage B
  s.Commit(10);
  s.Running(14, 12, {12, 13});                       // oldest 12 >= N1: N2 = 14
  s.Insert(14, 4, "c");
  s.Commit(12);                                      // not consistent yet: dropped
  s.Running(15, 14, {14});                           // oldest 14 >= N2: consistent
  s.Commit(14);
  auto cat = Catalog();
  MemorySource src(s.w.start(), s.w.PaddedBytes());
  Decoder dec(&src, cat.get(), DecoderOptions{5});
  ASSERT_TRUE(dec.Start(start, 1, false).ok());
  auto txns = DrainAll(dec);
  EXPECT_TRUE(dec.consistent());
  ASSERT_EQ(txns.size(), 1u);
  EXPECT_EQ(txns[0].xid, 14u);
  ASSERT_EQ(txns[0].changes.size(), 1u);
  EXPECT_EQ((*txns[0].changes[0].new_row)[1].s, "c");
}

TEST(DecoderTest, EmptyRunningXactsMakesConsistentAtOnce) {
  Synthetic s;
  s.Running(20, 20, {});
  s.Insert(20, 1, "x");
  s.Commit(20);
  auto cat = Catalog();
  MemorySource src(s.w.start(), s.w.PaddedBytes());
  Decoder dec(&src, cat.get(), DecoderOptions{5});
  ASSERT_TRUE(dec.Start(s.w.start(), 1, false).ok());
  auto txns = DrainAll(dec);
  EXPECT_TRUE(dec.consistent());
  EXPECT_EQ(txns.size(), 1u);
}

TEST(DecoderTest, CommitOrderSubxactsAndRestartLsn) {
  Synthetic s;
  Lsn first30 = s.Insert(30, 1, "t30");
  Lsn first31 = s.Insert(31, 2, "t31");
  s.Insert(32, 3, "sub-of-30", /*top*/ 30);
  s.Insert(33, 4, "sub-aborted", 30);
  s.Abort(33);                                // ROLLBACK TO SAVEPOINT
  Lsn c31 = s.Commit(31);
  Lsn c31_end = s.w.last_end();
  s.Insert(34, 5, "aborted-top");
  s.Abort(34);
  Lsn c30 = s.Commit(30, {32});
  s.Insert(35, 6, "other-db-is-ignored");
  auto cat = Catalog();
  MemorySource src(s.w.start(), s.w.PaddedBytes());
  Decoder dec(&src, cat.get(), DecoderOptions{5});
  ASSERT_TRUE(dec.Start(s.w.start(), 1, true).ok());
  auto t = dec.Next(kNoWait);
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->xid, 31u);
  EXPECT_EQ((*t)->commit_lsn, c31);
  EXPECT_EQ((*t)->end_lsn, c31_end);
  EXPECT_EQ((*t)->first_lsn, first31);
  EXPECT_EQ(dec.restart_lsn(), first30);   // 30 is still open
  EXPECT_EQ(dec.open_transactions(), 1u);  // 30, with its subxacts 32/33 merged into it
  t = dec.Next(kNoWait);
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->xid, 30u);
  EXPECT_EQ((*t)->commit_lsn, c30);
  ASSERT_EQ((*t)->changes.size(), 2u);
  EXPECT_EQ((*(*t)->changes[1].new_row)[1].s, "sub-of-30");
  t = dec.Next(kNoWait);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->has_value());
  // 35 is open (no commit yet): restart_lsn points at its first record.
  EXPECT_EQ(dec.open_transactions(), 1u);
  EXPECT_LT(dec.restart_lsn(), dec.decoded_upto());
}

TEST(DecoderTest, UnknownRmgrIsAnErrorNamingTheLsn) {
  Synthetic s;
  Lsn bad = s.w.Add(77, 0, 0, MainDataOnly({1}));
  auto cat = Catalog();
  MemorySource src(s.w.start(), s.w.PaddedBytes());
  Decoder dec(&src, cat.get(), DecoderOptions{5});
  ASSERT_TRUE(dec.Start(s.w.start(), 1, true).ok());
  auto t = dec.Next(kNoWait);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(FormatLsn(bad)), std::string::npos) << t.status().ToString();
  EXPECT_FALSE(dec.Next(kNoWait).ok());   // sticky until restarted
}

TEST(DecoderTest, WaldumpCliMatchesTestDecoding) {
  // Lay the fixture bytes into a (sparse) 16 MB segment file in a temporary directory.
  auto info = Info();
  Lsn page = std::stoull(info["page_start"], nullptr, 16);
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("wr-waldump-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  char name[32];
  std::snprintf(name, sizeof name, "%08X%08X%08X", 1, 0, static_cast<unsigned>(page >> 24));
  {
    std::ofstream f(dir / name, std::ios::binary);
    auto bytes = ReadFile(FixturePath("basic.wal"));
    f.seekp(static_cast<std::streamoff>(page % (16 << 20)));
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  fs::resize_file(dir / name, 16 << 20);
  std::string out_path = (dir / "out.txt").string();
  std::string cmd = std::string(WALDUMP_BIN) + " --wal-dir=" + dir.string() + " --start=" +
                    FormatLsn(std::stoull(info["start"], nullptr, 16)) + " --end=" +
                    FormatLsn(std::stoull(info["end"], nullptr, 16)) + " --catalog-file=" +
                    FixturePath("basic.catalog") + " --db-oid=" + info["db_oid"] + " > " + out_path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(Slurp(out_path), Slurp(FixturePath("basic.expected")));
  // Again with a 1-byte reorder buffer: every change goes through a spill file.
  std::string spill = (dir / "spill").string();
  std::string cmd2 = cmd;
  cmd2.insert(cmd2.find(" > "), " --reorder-memory-limit=1 --spill-dir=" + spill);
  ASSERT_EQ(std::system(cmd2.c_str()), 0) << cmd2;
  EXPECT_EQ(Slurp(out_path), Slurp(FixturePath("basic.expected")));
  EXPECT_FALSE(fs::exists(spill));   // created on demand, removed when empty
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pgt::test
