#include "state/state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace pgt::engine {
namespace {

TEST(StateStoreTest, BatchReadsItsOwnWritesAndCommitsAtomically) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().message();
  Batch b(store->get());
  b.Put(Cf::kMirror, "k1", "v1");
  auto in_batch = b.Get(Cf::kMirror, "k1");
  ASSERT_TRUE(in_batch.ok());
  EXPECT_EQ(in_batch->value_or(""), "v1");
  auto before = (*store)->Get(Cf::kMirror, "k1");
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->has_value()) << "uncommitted write leaked to the store";
  ASSERT_TRUE((*store)->Commit(&b).ok());
  auto after = (*store)->Get(Cf::kMirror, "k1");
  EXPECT_EQ(after->value_or(""), "v1");
  EXPECT_TRUE(b.empty());
}

TEST(StateStoreTest, ScansMergeBatchOverDbInBothDirections) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Batch b(store->get());
  b.Put(Cf::kMinMax, "p\x01", "a");
  b.Put(Cf::kMinMax, "p\x03", "c");
  b.Put(Cf::kMinMax, "q\x00", "other prefix");
  ASSERT_TRUE((*store)->Commit(&b).ok());
  b.Put(Cf::kMinMax, "p\x02", "b");
  b.Delete(Cf::kMinMax, "p\x03");
  std::string fwd, rev;
  ASSERT_TRUE(b.Scan(Cf::kMinMax, "p", [&](auto, auto v) { fwd += v; return true; }).ok());
  ASSERT_TRUE(b.ScanReverse(Cf::kMinMax, "p", [&](auto, auto v) { rev += v; return true; }).ok());
  EXPECT_EQ(fwd, "ab");
  EXPECT_EQ(rev, "ba");
}

// Oracle: random writes, some committed, some still in the batch (overwritten, deleted,
// re-put), against a std::map; every prefix scanned both ways (also stopping early) and read
// key by key must show the batch merged over the committed state.
TEST(StateStoreTest, BatchReadsMatchAModelUnderRandomWrites) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  std::map<std::string, std::string> model;
  std::mt19937 rng(7);
  const std::string prefixes[] = {std::string("a"), std::string("a\xff"), std::string("b\x00", 2), std::string("\xff\xff")};
  auto random_key = [&] {
    std::string k = prefixes[rng() % 4];
    for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) k.push_back(static_cast<char>("\x00\x01\x7f\xff"[rng() % 4]));
    return k;
  };
  Batch b(store->get());
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 200; ++i) {
      std::string k = random_key();
      if (rng() % 3 == 0) {
        b.Delete(Cf::kAgg, k);
        model.erase(k);
      } else {
        std::string v = "v" + std::to_string(round) + "." + std::to_string(i);
        b.Put(Cf::kAgg, k, v);
        model[k] = v;
      }
    }
    if (round % 2 == 0) {
      ASSERT_TRUE((*store)->Commit(&b).ok());
      continue;
    }
    for (const std::string& p : {std::string(), prefixes[0], prefixes[1], prefixes[2], prefixes[3]}) {
      std::vector<std::pair<std::string, std::string>> want, fwd, rev, first;
      for (auto& [k, v] : model) if (k.compare(0, p.size(), p) == 0) want.emplace_back(k, v);
      auto add = [](auto* out) {
        return [out](std::string_view k, std::string_view v) { out->emplace_back(std::string(k), std::string(v)); return true; };
      };
      ASSERT_TRUE(b.Scan(Cf::kAgg, p, add(&fwd)).ok());
      ASSERT_TRUE(b.ScanReverse(Cf::kAgg, p, add(&rev)).ok());
      ASSERT_TRUE(b.ScanReverse(Cf::kAgg, p, [&](std::string_view k, std::string_view v) {
        first.emplace_back(std::string(k), std::string(v));
        return false;
      }).ok());
      EXPECT_EQ(fwd, want) << "prefix size " << p.size();
      std::reverse(rev.begin(), rev.end());
      EXPECT_EQ(rev, want) << "prefix size " << p.size();
      EXPECT_EQ(first.size(), want.empty() ? 0u : 1u);
      if (!want.empty() && !first.empty()) { EXPECT_EQ(first[0], want.back()); }
    }
    for (int i = 0; i < 100; ++i) {
      std::string k = random_key();
      auto got = b.Get(Cf::kAgg, k);
      ASSERT_TRUE(got.ok());
      auto it = model.find(k);
      EXPECT_EQ(got->has_value(), it != model.end());
      if (got->has_value() && it != model.end()) { EXPECT_EQ(**got, it->second); }
    }
  }
}

TEST(StateStoreTest, DeletePrefixRemovesOnlyThatPrefixAndSurvivesReopen) {
  testing::TempDir dir;
  {
    auto store = StateStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    Batch b(store->get());
    b.Put(Cf::kPending, TablePrefix(1) + "x", "1");
    b.Put(Cf::kPending, TablePrefix(2) + "x", "2");
    ASSERT_TRUE((*store)->Commit(&b).ok());
    ASSERT_TRUE((*store)->DeletePrefix(Cf::kPending, TablePrefix(1)).ok());
  }
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE((*store)->Get(Cf::kPending, TablePrefix(1) + "x")->has_value());
  EXPECT_EQ((*store)->Get(Cf::kPending, TablePrefix(2) + "x")->value_or(""), "2");
}

// Memtable inserts use position hints (state_store.cc, InsertHintPrefix) that must never be
// shared with the memtable's range deletions: sorted batches of long keys around range
// deletions of short prefixes and a key-by-key deletion of a long prefix; every scan and read
// matches a model, also after a reopen (the memtable's contents replayed from the WAL).
TEST(StateStoreTest, HintedInsertsAroundPrefixDeletionsMatchAModel) {
  testing::TempDir dir;
  std::map<std::string, std::string> model;
  std::mt19937 rng(7);
  auto key = [&](int table, int tag, int i) { return TablePrefix(table) + static_cast<char>(tag) + "k" + std::to_string(i); };
  auto check = [&](StateStore* store) {
    std::map<std::string, std::string> seen;
    for (int t = 1; t <= 3; ++t)
      ASSERT_TRUE(store->Scan(Cf::kAgg, TablePrefix(t), [&](std::string_view k, std::string_view v) {
        seen.emplace(std::string(k), std::string(v));
        return true;
      }).ok());
    EXPECT_EQ(seen, model);
  };
  {
    auto store = StateStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    for (int round = 0; round < 6; ++round) {
      Batch b(store->get());
      for (int n = 0; n < 500; ++n) {
        std::string k = key(1 + static_cast<int>(rng() % 3), 1 + static_cast<int>(rng() % 2), static_cast<int>(rng() % 2000));
        std::string v = std::to_string(round * 1000 + n);
        b.Put(Cf::kAgg, k, v);
        model[k] = v;
      }
      ASSERT_TRUE((*store)->Commit(&b).ok());
      if (round == 2) {   // a range deletion (short prefix)
        ASSERT_TRUE((*store)->DeletePrefix(Cf::kAgg, TablePrefix(2)).ok());
        std::erase_if(model, [&](const auto& kv) { return kv.first.starts_with(TablePrefix(2)); });
      }
      if (round == 4) {   // a longer prefix: deleted key by key
        const std::string p = TablePrefix(3) + static_cast<char>(1) + "k1";
        ASSERT_TRUE((*store)->DeletePrefix(Cf::kAgg, p).ok());
        std::erase_if(model, [&](const auto& kv) { return kv.first.starts_with(p); });
      }
      check(store->get());
    }
  }
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  check(store->get());
}

// Counted entries (minmax family): count deltas as merge operands, read back through the batch
// (Get and scans), committed, stacked, reaching 0 (read as count 0, payload replaced when the
// value comes back) and dropped by a compaction.
TEST(StateStoreTest, CountDeltasMergeReadThroughTheBatchAndVanishAtZero) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  Batch b(store->get());
  auto get = [&](const std::string& k) -> std::pair<int64_t, std::string> {
    auto v = b.Get(Cf::kMinMax, k);
    EXPECT_TRUE(v.ok());
    if (!v.ok() || !*v) return {-999, ""};
    return {CountOf(**v), (*v)->substr(8)};
  };
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x01", 2, "first").ok());
  EXPECT_EQ(get("p\x01"), std::make_pair(int64_t{2}, std::string("first")));
  ASSERT_TRUE((*store)->Commit(&b).ok());
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x01", 1, "second").ok());   // payload kept: count was 2
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x02", 1, "two").ok());
  std::string scanned;
  ASSERT_TRUE(b.Scan(Cf::kMinMax, "p", [&](std::string_view, std::string_view v) {
    scanned += std::to_string(CountOf(v)) + ":" + std::string(v.substr(8)) + ",";
    return true;
  }).ok());
  EXPECT_EQ(scanned, "3:first,1:two,");
  ASSERT_TRUE((*store)->Commit(&b).ok());
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x01", -3, "x").ok());
  ASSERT_TRUE((*store)->Commit(&b).ok());
  EXPECT_EQ(get("p\x01").first, 0);   // gone, until a compaction drops the entry
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x01", 1, "again").ok());
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x01", 1, "ignored").ok());   // a second delta in one batch
  EXPECT_EQ(get("p\x01"), std::make_pair(int64_t{2}, std::string("again")));
  ASSERT_TRUE((*store)->Commit(&b).ok());
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x01", -2, "x").ok());
  ASSERT_TRUE(b.MergeCount(Cf::kMinMax, "p\x02", -1, "x").ok());
  ASSERT_TRUE((*store)->Commit(&b).ok());
  // The first compaction may only merge the deltas (a merge's result is not filtered); the
  // next one drops the entries at count 0.
  ASSERT_TRUE((*store)->CompactAll(Cf::kMinMax).ok());
  ASSERT_TRUE((*store)->CompactAll(Cf::kMinMax).ok());
  EXPECT_FALSE((*store)->Get(Cf::kMinMax, "p\x01")->has_value());
  EXPECT_FALSE((*store)->Get(Cf::kMinMax, "p\x02")->has_value());
}

// After a large removal (the first merge after a bootstrap deletes every pending row of a table)
// the deletions must not stay for good: every later scan of the prefix would step over them.
TEST(StateStoreTest, CompactSoonDropsTheDeletionsOfAPrefix) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  StateStore* s = store->get();
  const std::string prefix = "t\x01";
  auto key = [&](int i) { return prefix + std::to_string(1000000 + i); };
  Batch put(s);
  for (int i = 0; i < 30000; ++i) put.Put(Cf::kPending, key(i), "U-row");
  put.Put(Cf::kPending, "t\x02-other", "U-row");
  ASSERT_TRUE(s->Commit(&put).ok());
  ASSERT_TRUE(s->CompactAll(Cf::kPending).ok());   // the rows in SST files, as after a bulk load
  Batch del(s);
  for (int i = 0; i < 30000; ++i) del.Delete(Cf::kPending, key(i));
  ASSERT_TRUE(s->Commit(&del).ok());
  ASSERT_GE(s->DeletionEntries(Cf::kPending), 30000u);
  s->CompactSoon(Cf::kPending, prefix);
  // Background flush and compactions: wait for them (generously; this is not a timing check).
  for (int i = 0; i < 600 && s->DeletionEntries(Cf::kPending) > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(s->DeletionEntries(Cf::kPending), 0u);
  int seen = 0;
  ASSERT_TRUE(s->Scan(Cf::kPending, prefix, [&](std::string_view, std::string_view) { ++seen; return true; }).ok());
  EXPECT_EQ(seen, 0);
  EXPECT_TRUE(s->Get(Cf::kPending, "t\x02-other")->has_value());
}

TEST(StateStoreTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff\xff", 2)), "");
}

}  // namespace
}  // namespace pgt::engine
