// Rows the catalog cannot describe (CatalogResolver::TakeUnresolved, a tuple wider than its
// descriptor) fail their transaction at COMMIT and are forgotten at ABORT / ROLLBACK TO: a
// rolled-back DDL leaves no catalog history row, so its rows must not stop the decoding.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "file_catalog.h"
#include "test_util.h"
#include "walreader/decoder.h"

namespace pgt::test {
namespace {

constexpr auto kNoWait = std::chrono::milliseconds(0);
const RelFileLocator kLoc{1663, 5, 16384};

struct Wal {
  WalBuilder w{0x3000000};
  Lsn Insert(Xid xid, int id, const char* name, Xid top = 0) {
    std::string ids = std::to_string(id);
    return w.Add(10, 0x00, xid,
                 Block0AndMain(kLoc, Tuple({ids.c_str(), name}, {true, false}), {1, 0, 0x08}, top));
  }
  Lsn End(uint8_t op, Xid xid, std::vector<Xid> subs = {}) {
    std::vector<uint8_t> m;
    PutU64(&m, 1000);
    PutU32(&m, subs.empty() ? 0 : 2);
    if (!subs.empty()) {
      PutU32(&m, static_cast<uint32_t>(subs.size()));
      for (Xid s : subs) PutU32(&m, s);
    }
    return w.Add(1, op | 0x80, xid, MainDataOnly(m));
  }
};

RelationDesc Table(bool with_name) {
  RelationDesc d;
  d.relid = 500;
  d.schema = "public";
  d.name = "t";
  d.locator = kLoc;
  d.attrs.push_back(AttributeDesc{1, "id", 23, TypeId::kInt4, 4, 'i', true});
  if (with_name) d.attrs.push_back(AttributeDesc{2, "name", 25, TypeId::kText, -1, 'i', false});
  return d;
}

// A resolver that cannot attribute the records at the given LSNs (as HistoryCatalogResolver
// does for a relfilenode in no catalog).
class Unresolving : public CatalogResolver {
 public:
  Unresolving(std::set<Lsn> bad, bool with_name) : bad_(std::move(bad)) { cat_.Add(Table(with_name)); }
  const RelationDesc* Lookup(const RelFileLocator& loc, Lsn lsn) override {
    if (bad_.count(lsn)) {
      pending_ = Status::Unsupported("relfilenode of unknown table at " + FormatLsn(lsn));
      return nullptr;
    }
    return cat_.Lookup(loc, lsn);
  }
  const RelationDesc* LookupByOid(Oid relid) override { return cat_.LookupByOid(relid); }
  Status TakeUnresolved() override {
    Status s = pending_;
    pending_ = Status::Ok();
    return s;
  }

 private:
  internal::FileCatalog cat_;
  std::set<Lsn> bad_;
  Status pending_;
};

struct Drained {
  std::vector<Transaction> txns;
  Status error;
};

Drained Drain(const Wal& wal, CatalogResolver* cat) {
  MemorySource src(wal.w.start(), wal.w.PaddedBytes());
  Decoder dec(&src, cat, DecoderOptions{5});
  Drained out;
  out.error = dec.Start(wal.w.start(), 1, true);
  while (out.error.ok()) {
    auto t = dec.Next(kNoWait);
    if (!t.ok()) out.error = t.status();
    if (!t.ok() || !t->has_value()) break;
    out.txns.push_back(std::move(**t));
  }
  return out;
}

TEST(CatalogPoisonTest, UnresolvedRowsFailTheirCommitOnly) {
  Wal wal;
  Lsn aborted = wal.Insert(10, 1, "ddl rolled back");
  wal.End(0x20, 10);                            // ABORT
  wal.Insert(11, 2, "fine");
  wal.End(0x00, 11);
  wal.Insert(12, 3, "kept");
  Lsn in_sub = wal.Insert(13, 4, "rolled back to savepoint", 12);
  wal.End(0x20, 13);                            // ROLLBACK TO: abort of subxact 13
  wal.Insert(12, 5, "kept too");
  wal.End(0x00, 12);
  Lsn committed = wal.Insert(14, 6, "cannot be described");
  Lsn bad_commit = wal.End(0x00, 14);
  wal.Insert(15, 7, "after");
  wal.End(0x00, 15);

  Unresolving ok_cat({aborted, in_sub}, true);
  Drained d = Drain(wal, &ok_cat);
  ASSERT_TRUE(d.error.ok()) << d.error.ToString();
  ASSERT_EQ(d.txns.size(), 4u);
  EXPECT_EQ(d.txns[0].xid, 11u);
  ASSERT_EQ(d.txns[1].changes.size(), 2u);
  EXPECT_EQ((*d.txns[1].changes[1].new_row)[1].s, "kept too");

  Unresolving bad_cat({aborted, in_sub, committed}, true);
  d = Drain(wal, &bad_cat);
  EXPECT_EQ(d.error.code(), Status::Code::kUnsupported);
  EXPECT_NE(d.error.ToString().find("unknown table at " + FormatLsn(committed)), std::string::npos)
      << d.error.ToString();
  EXPECT_NE(d.error.ToString().find("transaction 14 committed at " + FormatLsn(bad_commit)),
            std::string::npos) << d.error.ToString();
  ASSERT_EQ(d.txns.size(), 2u);   // nothing at or after the failing commit
  EXPECT_EQ(d.txns[1].xid, 12u);
}

TEST(CatalogPoisonTest, TupleWiderThanDescriptorFailsOnlyIfCommitted) {
  // The descriptor lacks column 2 (as when an ADD COLUMN was rolled back: no history row).
  Wal wal;
  wal.Insert(20, 1, "x");
  wal.End(0x20, 20);
  Unresolving narrow({}, false);
  Drained d = Drain(wal, &narrow);
  EXPECT_TRUE(d.error.ok()) << d.error.ToString();
  EXPECT_TRUE(d.txns.empty());

  wal.Insert(21, 2, "y");
  Lsn c = wal.End(0x00, 21);
  Unresolving narrow2({}, false);
  d = Drain(wal, &narrow2);
  EXPECT_EQ(d.error.code(), Status::Code::kConflict) << d.error.ToString();
  EXPECT_NE(d.error.ToString().find("has 2 attributes, descriptor has 1"), std::string::npos);
  EXPECT_NE(d.error.ToString().find("committed at " + FormatLsn(c)), std::string::npos);
}

}  // namespace
}  // namespace pgt::test

namespace pgt::test {
namespace {

// Real PG15 WAL (tests/fixtures): the TRUNCATE transaction's commit record invalidates t_trunc.
TEST(CatalogInvalidationTest, CommitRelcacheInvalidationsOfTrackedTables) {
  std::map<std::string, std::string> info;
  {
    std::ifstream in(FixturePath("basic.wal.info"));
    std::string line;
    while (std::getline(in, line)) info[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
  }
  Oid db = static_cast<Oid>(std::stoul(info["db_oid"]));
  auto cat = internal::FileCatalog::Load(FixturePath("basic.catalog"), db);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  MemorySource src(std::stoull(info["page_start"], nullptr, 16), ReadFile(FixturePath("basic.wal")));
  DecoderOptions opts{db};
  opts.collect_invalidations = true;
  Decoder dec(&src, cat->get(), opts);
  ASSERT_TRUE(dec.Start(std::stoull(info["start"], nullptr, 16), 1, true).ok());
  const Oid t_trunc = (*cat)->LookupByOid(16412) ? 16412 : 0;
  ASSERT_NE(t_trunc, 0u);
  Lsn truncate_commit = 0;
  std::vector<RelationInvalidation> invals;
  for (;;) {
    auto t = dec.Next(kNoWait);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    for (auto& i : dec.TakeInvalidations()) invals.push_back(i);
    if (!t->has_value()) break;
    for (auto& c : (*t)->changes)
      if (c.kind == ChangeKind::kTruncate) truncate_commit = (*t)->commit_lsn;
  }
  ASSERT_NE(truncate_commit, 0u);
  int found = 0;
  for (auto& i : invals) {
    EXPECT_NE((*cat)->LookupByOid(i.relid), nullptr) << i.relid;
    EXPECT_GT(i.end_lsn, i.commit_lsn);
    if (i.relid == t_trunc && i.commit_lsn == truncate_commit) found++;
  }
  EXPECT_EQ(found, 1);   // once, although the record repeats the message
  EXPECT_TRUE(dec.TakeInvalidations().empty());
}

}  // namespace
}  // namespace pgt::test
