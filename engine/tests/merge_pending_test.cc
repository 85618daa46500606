// A merge's pending rows in bounded memory (merge_pending.h): chunked reads from a snapshot and
// the exact removal of the rows merged, checked against what was written.
#include "merge_pending.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "test_util.h"
#include "values/codec.h"

namespace pgt::engine {
namespace {

constexpr size_t kChunk = 7;

// The chunk size is read once per process: set before the first use in this binary.
struct ChunkEnv {
  ChunkEnv() { setenv("PGT_TEST_MERGE_CHUNK_ROWS", "7", 1); }
} chunk_env;

std::string RowId(int table, int i) {
  std::string k = TablePrefix(table);
  std::string id(16, '\0');
  id[14] = static_cast<char>(i >> 8);
  id[15] = static_cast<char>(i & 0xff);
  return k + id;
}

std::string Upsert(int64_t v) {
  std::string out = "U";
  values::EncodeRow(Row{Value::Int(TypeId::kInt8, v), Value::Str(TypeId::kText, "r" + std::to_string(v))}, &out);
  return out;
}

// Table 1: rows 0..n-1 (every fifth a deletion); table 2: a few rows that must never be touched.
void Fill(StateStore* store, int n) {
  Batch b(store);
  for (int i = 0; i < n; ++i) b.Put(Cf::kPending, RowId(1, i), i % 5 == 4 ? std::string("D") : Upsert(i));
  for (int i = 0; i < 3; ++i) b.Put(Cf::kPending, RowId(2, i), Upsert(1000 + i));
  ASSERT_TRUE(store->Commit(&b).ok());
}

std::map<std::string, std::string> Pending(StateStore* store) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(store->Scan(Cf::kPending, "", [&](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  }).ok());
  return out;
}

class MergePendingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = StateStore::Open(dir_.path());
    ASSERT_TRUE(st.ok()) << st.status().message();
    store_ = std::move(st).value();
  }
  testing::TempDir dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(MergePendingTest, ScansTheSnapshotInChunks) {
  ASSERT_EQ(MergeChunkRows(), kChunk);
  StateStore* s = store_.get();
  Fill(s, 50);
  auto snap = s->Snapshot();
  {   // written after the snapshot: not part of the merge
    Batch b(s);
    b.Put(Cf::kPending, RowId(1, 3), Upsert(333));
    b.Put(Cf::kPending, RowId(1, 60), Upsert(60));
    ASSERT_TRUE(s->Commit(&b).ok());
  }
  std::vector<size_t> sizes;
  int next = 0;
  Status st = ScanPendingChunks(s, *snap, TablePrefix(1), [&](const std::vector<PendingRow>& chunk) {
    sizes.push_back(chunk.size());
    for (const auto& r : chunk) {
      EXPECT_EQ(r.row_id, RowId(1, next).substr(8));
      if (next % 5 == 4) {
        EXPECT_FALSE(r.row.has_value()) << next;
      } else {
        EXPECT_TRUE(r.row.has_value()) << next;
        if (r.row) {
          EXPECT_EQ((*r.row)[0].i, next);   // the snapshot's value (3, not 333)
        }
      }
      ++next;
    }
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(next, 50);
  ASSERT_EQ(sizes.size(), 8u);   // 7 chunks of 7, then 1
  for (size_t i = 0; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], kChunk);
  EXPECT_EQ(sizes.back(), 1u);
  auto any = AnyPending(s, *snap, TablePrefix(3));
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(*any);
  any = AnyPending(s, *snap, TablePrefix(1));
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(*any);
}

TEST_F(MergePendingTest, AnErrorStopsTheScan) {
  StateStore* s = store_.get();
  Fill(s, 30);
  auto snap = s->Snapshot();
  int calls = 0;
  Status st = ScanPendingChunks(s, *snap, TablePrefix(1), [&](const std::vector<PendingRow>&) {
    return ++calls == 2 ? Status::Unavailable("COPY failed") : Status::Ok();
  });
  EXPECT_EQ(st.code(), Status::Code::kUnavailable);
  EXPECT_EQ(calls, 2);
}

TEST_F(MergePendingTest, RemovesExactlyTheRowsUnchangedSinceTheSnapshot) {
  StateStore* s = store_.get();
  Fill(s, 40);
  auto snap = s->Snapshot();
  auto before = Pending(s);
  {   // while the merge was in flight: rows changed (in several chunks), a deletion became an
      // upsert and back, a new row appeared
    Batch b(s);
    for (int i : {0, 6, 7, 13, 20, 39}) b.Put(Cf::kPending, RowId(1, i), Upsert(i + 100));
    b.Put(Cf::kPending, RowId(1, 4), Upsert(4));
    b.Put(Cf::kPending, RowId(1, 9), std::string("D"));   // was "D": unchanged value, removed
    b.Put(Cf::kPending, RowId(1, 45), Upsert(45));
    ASSERT_TRUE(s->Commit(&b).ok());
  }
  Batch first(s);
  first.Put(Cf::kMeta, "frontier", "P");
  int written = 0;
  ASSERT_TRUE(RemoveMergedPending(s, *snap, TablePrefix(1), &first, [&] {
    // The frontier is durable, the rest of the removals are not written yet.
    auto meta = s->Get(Cf::kMeta, "frontier");
    EXPECT_EQ(meta.ok() ? meta->value_or("") : "", "P");
    EXPECT_EQ(Pending(s).size(), 44u - 7u);   // 43 + row 45, minus the first 7 removals
    ++written;
  }).ok());
  EXPECT_EQ(written, 1);
  auto meta = s->Get(Cf::kMeta, "frontier");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->value_or(""), "P");
  auto after = Pending(s);
  std::map<std::string, std::string> expected;
  for (int i : {0, 6, 7, 13, 20, 39}) expected[RowId(1, i)] = Upsert(i + 100);
  expected[RowId(1, 4)] = Upsert(4);
  expected[RowId(1, 45)] = Upsert(45);
  for (int i = 0; i < 3; ++i) expected[RowId(2, i)] = Upsert(1000 + i);
  EXPECT_EQ(after, expected);
  EXPECT_EQ(before.size(), 43u);
}

TEST_F(MergePendingTest, NothingToRemoveStillWritesTheFrontier) {
  StateStore* s = store_.get();
  auto snap = s->Snapshot();
  Batch first(s);
  first.Put(Cf::kMeta, "frontier", "P");
  int written = 0;
  ASSERT_TRUE(RemoveMergedPending(s, *snap, TablePrefix(1), &first, [&] { ++written; }).ok());
  EXPECT_EQ(written, 1);
  auto meta = s->Get(Cf::kMeta, "frontier");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->value_or(""), "P");
}

}  // namespace
}  // namespace pgt::engine
