#include "state/state_store.h"

#include <gtest/gtest.h>

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

TEST(StateStoreTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff\xff", 2)), "");
}

}  // namespace
}  // namespace pgt::engine
