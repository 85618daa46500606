// WAL of PostgreSQL 15-18: page magic -> version, version-dependent record layouts (18's 16-byte
// dropped-stats items, 17's CHECKPOINT_REDO), and errors for WAL of other versions. The layouts
// are built by hand from access/xact.h and catalog/pg_control.h of each release; the oracle
// (tests/oracle_check.py --pg-bin=...) checks the same against real servers.
#include <gtest/gtest.h>

#include "file_catalog.h"
#include "test_util.h"
#include "walreader/decoder.h"
#include "xact_parse.h"
#include "xlog_reader.h"

namespace pgt::test {
namespace {

constexpr auto kNoWait = std::chrono::milliseconds(0);
constexpr uint16_t kMagic[] = {0xD110, 0xD113, 0xD116, 0xD118};
constexpr int kMajor[] = {15, 16, 17, 18};
const RelFileLocator kLoc{1663, 5, 16384};

struct Read {
  std::vector<internal::RawRecord> records;
  Status error;
};

Read ReadAll(const WalBuilder& w, Lsn start) {
  MemorySource src(w.start(), w.PaddedBytes());
  internal::XLogReader r(&src);
  Read out;
  out.error = r.Start(start, 1);
  while (out.error.ok()) {
    auto rec = r.Next(kNoWait);
    if (!rec.ok()) { out.error = rec.status(); break; }
    if (!rec->has_value()) break;
    out.records.push_back(std::move(**rec));
  }
  return out;
}

TEST(VersionTest, PageMagicOfEachSupportedVersion) {
  for (int i = 0; i < 4; i++) {
    EXPECT_EQ(internal::PgMajorFromPageMagic(kMagic[i]), kMajor[i]);
    WalBuilder w(0x3000000, 1 << 20, 1, kMagic[i]);
    Lsn first = w.Add(1, 0x50, 0, MainDataOnly(std::vector<uint8_t>(12, 0)));
    // a record across three pages: every continuation page carries the same magic
    w.Add(1, 0x50, 0, MainDataOnly(std::vector<uint8_t>(20000, 7)));
    Read r = ReadAll(w, first);
    ASSERT_TRUE(r.error.ok()) << kMajor[i] << ": " << r.error.ToString();
    ASSERT_EQ(r.records.size(), 2u);
    for (const auto& rec : r.records) EXPECT_EQ(rec.pg_major, kMajor[i]);
  }
  EXPECT_EQ(internal::PgMajorFromPageMagic(0xD10D), 0);   // PostgreSQL 14
  EXPECT_EQ(internal::PgMajorFromPageMagic(0xD119), 0);
}

TEST(VersionTest, UnknownMagicNamesMagicSegmentAndLsn) {
  // 16 MB segments: the segment size is unknown to the reader before a valid long header (file
  // sources report it from the segment files; MemorySource does not).
  WalBuilder w(0x3000000, 16 << 20, 1, 0xD10D);   // PostgreSQL 14
  w.Add(1, 0x50, 0, MainDataOnly(std::vector<uint8_t>(12, 0)));
  Read r = ReadAll(w, 0x3000000);
  ASSERT_FALSE(r.error.ok());
  const std::string& m = r.error.message();
  EXPECT_EQ(r.error.code(), Status::Code::kCorruption);
  EXPECT_NE(m.find("D10D"), std::string::npos) << m;
  EXPECT_NE(m.find("WAL segment 000000010000000000000003"), std::string::npos) << m;
  EXPECT_NE(m.find("0/3000000"), std::string::npos) << m;
  EXPECT_NE(m.find("PostgreSQL 15, 16, 17 or 18"), std::string::npos) << m;
}

TEST(VersionTest, MagicChangingMidStreamIsCorruption) {
  WalBuilder w(0x3000000, 1 << 20, 1, 0xD116);
  w.Add(1, 0x50, 0, MainDataOnly(std::vector<uint8_t>(20000, 7)));
  std::vector<uint8_t> bytes = w.PaddedBytes();
  bytes[2 * 8192] = 0x18;   // third page: D118 (PostgreSQL 18) after D116
  MemorySource src(w.start(), bytes);
  internal::XLogReader r(&src);
  ASSERT_TRUE(r.Start(0x3000000, 1).ok());
  auto rec = r.Next(kNoWait);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.status().message().find("PostgreSQL 18 in WAL page at 0/3004000 after WAL of "
                                        "PostgreSQL 17"), std::string::npos)
      << rec.status().ToString();
}

// COMMIT PREPARED main data as 17 and 18 write it: xact_time, xinfo (dbinfo, subxacts, dropped
// stats, invals, twophase, gid), each part in xl_xact_* layout order.
std::vector<uint8_t> CommitPreparedWithDroppedStats(int major, Xid twophase, int nstats) {
  std::vector<uint8_t> m;
  PutU64(&m, 777000000);
  PutU32(&m, (1u << 0) | (1u << 1) | (1u << 8) | (1u << 3) | (1u << 4) | (1u << 7));
  PutU32(&m, 5);      // dbId
  PutU32(&m, 1663);   // tsId
  PutU32(&m, 1);      // one subxact
  PutU32(&m, twophase + 1);
  PutU32(&m, static_cast<uint32_t>(nstats));
  for (int i = 0; i < nstats; i++) {
    PutU32(&m, 2);          // kind (relation)
    PutU32(&m, 5);          // dboid
    PutU32(&m, 40000 + i);  // objoid (17) / objid_lo (18)
    if (major >= 18) PutU32(&m, 0);   // objid_hi
  }
  PutU32(&m, 1);      // one invalidation message (16 bytes)
  for (int i = 0; i < 4; i++) PutU32(&m, 0xEEEEEEEE);
  PutU32(&m, twophase);
  const char gid[] = "g42";
  m.insert(m.end(), gid, gid + sizeof gid);   // NUL-terminated
  return m;
}

TEST(VersionTest, DroppedStatsItemsAre12BytesUpTo17And16In18) {
  EXPECT_EQ(internal::XactStatsItemSize(15), 12u);
  EXPECT_EQ(internal::XactStatsItemSize(17), 12u);
  EXPECT_EQ(internal::XactStatsItemSize(18), 16u);
  for (int major : {15, 16, 17, 18}) {
    auto m = CommitPreparedWithDroppedStats(major, 9001, 3);
    auto p = internal::ParseXactEnd(m.data(), m.size(), internal::kXactCommitPrepared | 0x80,
                                    true, major);
    ASSERT_TRUE(p.ok()) << major << ": " << p.status().ToString();
    EXPECT_EQ(p->ndropped_stats, 3);
    EXPECT_EQ(p->ninvals, 1);
    EXPECT_EQ(p->twophase_xid, 9001u) << major;
    EXPECT_EQ(p->gid, "g42");
    ASSERT_EQ(p->subxacts.size(), 1u);
  }
  // Read with the other version's item size, the twophase xid comes from the wrong bytes.
  auto m18 = CommitPreparedWithDroppedStats(18, 9001, 3);
  auto wrong = internal::ParseXactEnd(m18.data(), m18.size(), internal::kXactCommitPrepared | 0x80,
                                      true, 17);
  EXPECT_TRUE(!wrong.ok() || wrong->twophase_xid != 9001u);
}

struct VersionedWal {
  explicit VersionedWal(uint16_t magic) : w(0x2000000, 1 << 20, 1, magic) {}
  WalBuilder w;
  Lsn Insert(Xid xid, int id, const char* name) {
    std::string ids = std::to_string(id);
    return w.Add(10, 0x00, xid, Block0AndMain(kLoc, Tuple({ids.c_str(), name}, {true, false}),
                                              {1, 0, 0x08}));
  }
  Lsn Prepare(Xid xid) { return w.Add(1, 0x10, xid, MainDataOnly(std::vector<uint8_t>(72, 0))); }
};

std::unique_ptr<internal::FileCatalog> Catalog() {
  auto cat = std::make_unique<internal::FileCatalog>();
  RelationDesc d;
  d.relid = 500;
  d.schema = "public";
  d.name = "t";
  d.locator = kLoc;
  d.attrs = {AttributeDesc{1, "id", 23, TypeId::kInt4, 4, 'i', true},
             AttributeDesc{2, "name", 25, TypeId::kText, -1, 'i', false}};
  d.key_attnums = {1};
  cat->Add(d);
  return cat;
}

// Decodes the whole synthetic WAL (consistent start); returns the transactions or the error.
Result<std::vector<Transaction>> DecodeAll(const WalBuilder& w) {
  auto cat = Catalog();
  MemorySource src(w.start(), w.PaddedBytes());
  Decoder dec(&src, cat.get(), DecoderOptions{5});
  PGT_RETURN_IF_ERROR(dec.Start(w.start(), 1, true));
  std::vector<Transaction> out;
  for (;;) {
    PGT_ASSIGN_OR_RETURN(auto t, dec.Next(kNoWait));
    if (!t.has_value()) return out;
    out.push_back(std::move(*t));
  }
}

TEST(VersionTest, CommitPreparedWithDroppedStatsDecodesOn17And18) {
  for (int i : {2, 3}) {
    VersionedWal v(kMagic[i]);
    v.Insert(9001, 1, "prepared");
    v.Prepare(9001);
    Lsn commit = v.w.Add(1, internal::kXactCommitPrepared | 0x80, 0,
                         MainDataOnly(CommitPreparedWithDroppedStats(kMajor[i], 9001, 2)));
    auto txns = DecodeAll(v.w);
    ASSERT_TRUE(txns.ok()) << kMajor[i] << ": " << txns.status().ToString();
    ASSERT_EQ(txns->size(), 1u) << kMajor[i];
    EXPECT_EQ((*txns)[0].xid, 9001u);
    EXPECT_EQ((*txns)[0].commit_lsn, commit);
    EXPECT_EQ((*txns)[0].commit_time_us, 777000000);
    ASSERT_EQ((*txns)[0].changes.size(), 1u);
    EXPECT_EQ((*(*txns)[0].changes[0].new_row)[1].s, "prepared");
  }
}

TEST(VersionTest, CheckpointRedoIsKnownFrom17On) {
  for (int i = 0; i < 4; i++) {
    VersionedWal v(kMagic[i]);
    Lsn redo = v.w.Add(0, 0xE0, 0, MainDataOnly({0, 0, 0, 0}));   // XLOG_CHECKPOINT_REDO
    v.Insert(50, 1, "after-redo");
    v.w.Add(1, 0x80, 50, MainDataOnly({1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));   // commit
    auto txns = DecodeAll(v.w);
    if (kMajor[i] >= 17) {
      ASSERT_TRUE(txns.ok()) << kMajor[i] << ": " << txns.status().ToString();
      EXPECT_EQ(txns->size(), 1u);
    } else {   // 15 and 16 have no record type 0xE0: unknown, an error naming it
      ASSERT_FALSE(txns.ok()) << kMajor[i];
      EXPECT_NE(txns.status().message().find("info 0xE0) at " + FormatLsn(redo)),
                std::string::npos) << txns.status().ToString();
    }
  }
}

}  // namespace
}  // namespace pgt::test
