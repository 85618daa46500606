// State checkpoints (issue 8): a restore brings back exactly the committed state of the
// checkpoint, later writes are gone, older checkpoints are pruned, and a restore interrupted by
// a crash is finished at the next open.
#include "state/checkpoints.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace pgt::engine {
namespace {

void Put(StateStore* s, const std::string& k, const std::string& v) {
  Batch b(s);
  b.Put(Cf::kMirror, k, v);
  ASSERT_TRUE(s->Commit(&b).ok());
}

std::string Get(StateStore* s, const std::string& k) {
  auto v = s->Get(Cf::kMirror, k);
  EXPECT_TRUE(v.ok());
  return v.ok() ? v->value_or("<none>") : "<error>";
}

TEST(CheckpointsTest, RestoreBringsBackTheCheckpointedState) {
  testing::TempDir dir;
  CheckpointSet set(dir.path(), 2);
  {
    auto store = StateStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    Put(store->get(), "a", "1");
    CheckpointInfo info;
    info.applied_upto = 0x1000;
    info.restart_lsn = 0x800;
    info.tli = 1;
    info.merged[7] = Lsn{0x900};
    info.merged[8] = std::nullopt;
    ASSERT_TRUE(set.Take(store->get(), info).ok());
    Put(store->get(), "a", "2");
    Put(store->get(), "b", "x");
    info.applied_upto = 0x2000;
    ASSERT_TRUE(set.Take(store->get(), info).ok());
    Put(store->get(), "a", "3");
    info.applied_upto = 0x3000;
    ASSERT_TRUE(set.Take(store->get(), info).ok());
    Put(store->get(), "a", "4");
  }
  auto all = set.List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);   // pruned to 2, newest first
  EXPECT_EQ((*all)[0].applied_upto, Lsn{0x3000});
  EXPECT_EQ((*all)[1].applied_upto, Lsn{0x2000});
  EXPECT_EQ((*all)[1].restart_lsn, Lsn{0x800});
  EXPECT_EQ((*all)[1].merged.at(7), std::optional<Lsn>(0x900));
  EXPECT_EQ((*all)[1].merged.at(8), std::nullopt);
  ASSERT_TRUE(CheckpointSet::Restore(dir.path(), (*all)[1]).ok());
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(Get(store->get(), "a"), "2");
  EXPECT_EQ(Get(store->get(), "b"), "x");
  // The restored state is writable and the checkpoints stay intact.
  Put(store->get(), "a", "5");
  EXPECT_EQ(Get(store->get(), "a"), "5");
  store->reset();
  auto again = set.List();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 2u);
  ASSERT_TRUE(CheckpointSet::Restore(dir.path(), (*again)[0]).ok());
  auto s2 = StateStore::Open(dir.path());
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(Get(s2->get(), "a"), "3");
}

TEST(CheckpointsTest, InterruptedRestoreIsFinishedAtOpen) {
  testing::TempDir dir;
  CheckpointSet set(dir.path(), 3);
  {
    auto store = StateStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    Put(store->get(), "k", "old");
    CheckpointInfo info;
    info.applied_upto = 0x10;
    ASSERT_TRUE(set.Take(store->get(), info).ok());
    Put(store->get(), "k", "new");
  }
  auto all = set.List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  // A crash right after the marker was written and the live files were removed.
  {
    std::ofstream m(dir.path() + "/checkpoints/RESTORING");
    m << (*all)[0].dir;
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    if (e.path().filename() != "checkpoints") std::filesystem::remove_all(e.path());
  ASSERT_TRUE(CheckpointSet::FinishInterruptedRestore(dir.path()).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/checkpoints/RESTORING"));
  auto store = StateStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ(Get(store->get(), "k"), "old");
}

TEST(CheckpointsTest, IncompleteCheckpointIsIgnored) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/checkpoints/ckpt-junk");
  CheckpointSet set(dir.path(), 3);
  auto all = set.List();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/checkpoints/ckpt-junk"));
}

}  // namespace
}  // namespace pgt::engine
