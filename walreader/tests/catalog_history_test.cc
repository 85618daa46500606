// DescriptorHistory: which descriptor version a record on a relfilenode gets at an LSN.
#include <gtest/gtest.h>

#include "walreader/catalog_history.h"

namespace pgt {
namespace {

using Kind = DescriptorHistory::Resolution::Kind;

RelFileLocator Loc(Oid filenode) { return RelFileLocator{1663, 5, filenode}; }

RelationDesc Version(Oid relid, const std::string& name, Oid filenode, Lsn from,
                     std::vector<std::string> cols, Oid toast_filenode = 0) {
  RelationDesc d;
  d.relid = relid;
  d.schema = "public";
  d.name = name;
  d.locator = Loc(filenode);
  d.valid_from = from;
  for (size_t i = 0; i < cols.size(); i++) {
    AttributeDesc a;
    a.attnum = static_cast<int16_t>(i + 1);
    a.name = cols[i];
    a.type_oid = 23;
    a.type = TypeId::kInt4;
    a.attlen = 4;
    a.attalign = 'i';
    a.attbyval = true;
    d.attrs.push_back(a);
  }
  if (toast_filenode != 0) {
    d.toast_relid = relid + 1;
    d.toast_locator = Loc(toast_filenode);
  }
  return d;
}

// t: baseline at 0x100 (a, b) -> ADD COLUMN c at 0x1000 -> ALTER TYPE (rewrite into 600) at 0x2000.
DescriptorHistory ThreeVersions() {
  DescriptorHistory h;
  h.Add(Version(100, "t", 500, 0x100, {"a", "b"}, 501), false);
  h.Add(Version(100, "t", 500, 0x1000, {"a", "b", "c"}, 501), false);
  h.Add(Version(100, "t", 600, 0x2000, {"a", "b", "c"}, 601), true);
  return h;
}

TEST(DescriptorHistoryTest, VersionValidFromItsLsnToTheNext) {
  DescriptorHistory h = ThreeVersions();
  auto r = h.Resolve(Loc(500), 0x800);
  ASSERT_EQ(r.kind, Kind::kDecode);
  EXPECT_EQ(r.desc->attrs.size(), 2u);
  r = h.Resolve(Loc(500), 0x1000);   // the DDL transaction's own changes after the DDL
  ASSERT_EQ(r.kind, Kind::kDecode);
  EXPECT_EQ(r.desc->attrs.size(), 3u);
  EXPECT_EQ(r.desc->valid_from, 0x1000u);
  r = h.Resolve(Loc(600), 0x2500);
  ASSERT_EQ(r.kind, Kind::kDecode);
  EXPECT_EQ(r.desc->locator.rel_number, 600u);
  EXPECT_EQ(h.At(100, 0x1FFF)->valid_from, 0x1000u);
  EXPECT_EQ(h.At(100, 0x2000)->valid_from, 0x2000u);
  EXPECT_EQ(h.Latest(100)->valid_from, 0x2000u);
  // Before the first version (CREATE TABLE AS inserts): the first one.
  EXPECT_EQ(h.At(100, 0x10)->valid_from, 0x100u);
  EXPECT_EQ(h.At(999, 0x10), nullptr);
}

TEST(DescriptorHistoryTest, RewriteInsertsIntoTheNewRelfilenodeAreSkipped) {
  DescriptorHistory h = ThreeVersions();
  EXPECT_EQ(h.Resolve(Loc(600), 0x1F00).kind, Kind::kSkipRewrite);
  EXPECT_EQ(h.ResolveToast(Loc(601), 0x1F00).kind, Kind::kSkipRewrite);
  auto r = h.ResolveToast(Loc(601), 0x2000);
  ASSERT_EQ(r.kind, Kind::kDecode);
  EXPECT_EQ(r.desc->relid, 100u);
  EXPECT_EQ(h.ResolveToast(Loc(501), 0x1500).desc->relid, 100u);
  // A heap relfilenode is not a TOAST one and vice versa.
  EXPECT_EQ(h.ResolveToast(Loc(500), 0x1500).kind, Kind::kUnknown);
  EXPECT_EQ(h.Resolve(Loc(501), 0x1500).kind, Kind::kUnknown);
}

TEST(DescriptorHistoryTest, RelfilenodeRecordedLaterWithoutRewriteUsesTheVersionAtTheLsn) {
  // VACUUM FULL at 0x3000 (no history row) moved t to 700; the next DDL (0x5000) records 700.
  // Records on 700 between the two are t's rows with the descriptor valid then.
  DescriptorHistory h = ThreeVersions();
  h.Add(Version(100, "t2", 700, 0x5000, {"a", "b", "c", "d"}), false);
  auto r = h.Resolve(Loc(700), 0x3500);
  ASSERT_EQ(r.kind, Kind::kDecode);
  EXPECT_EQ(r.desc->valid_from, 0x2000u);
  EXPECT_EQ(r.desc->name, "t");
  EXPECT_EQ(h.Resolve(Loc(700), 0x5000).desc->name, "t2");
}

TEST(DescriptorHistoryTest, AliasesResolveToTheVersionAtTheLsn) {
  DescriptorHistory h = ThreeVersions();
  EXPECT_EQ(h.Resolve(Loc(900), 0x1500).kind, Kind::kUnknown);
  h.AddAlias(Loc(900), 100);
  h.AddAlias(Loc(901), 100, true);
  auto r = h.Resolve(Loc(900), 0x1500);
  ASSERT_EQ(r.kind, Kind::kDecode);
  EXPECT_EQ(r.desc->attrs.size(), 3u);
  EXPECT_EQ(h.Resolve(Loc(900), 0x200).desc->attrs.size(), 2u);
  EXPECT_EQ(h.ResolveToast(Loc(901), 0x1500).kind, Kind::kDecode);
  EXPECT_EQ(h.Resolve(Loc(901), 0x1500).kind, Kind::kUnknown);
}

TEST(DescriptorHistoryTest, RenamesAndSeveralRelations) {
  DescriptorHistory h = ThreeVersions();
  h.Add(Version(200, "u", 800, 0x1800, {"x"}), false);
  h.Add(Version(200, "u_renamed", 800, 0x1900, {"x"}), false);
  EXPECT_EQ(h.At(200, 0x18FF)->name, "u");
  EXPECT_EQ(h.Resolve(Loc(800), 0x1900).desc->name, "u_renamed");
  EXPECT_EQ(h.Resolve(Loc(800), 0x1000).desc->name, "u");   // CREATE TABLE AS before its row
  EXPECT_EQ(h.Relids(), (std::vector<Oid>{100, 200}));
  EXPECT_TRUE(h.Knows(200));
  EXPECT_FALSE(h.Knows(300));
}

}  // namespace
}  // namespace pgt
