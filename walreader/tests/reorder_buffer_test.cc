// Reorder buffer: subtransactions, aborts, first-LSN tracking.
#include <gtest/gtest.h>

#include "reorder_buffer.h"

namespace pgt::test {
namespace {

using internal::ReorderBuffer;

Change Ins(Lsn lsn, int64_t id) {
  Change c;
  c.kind = ChangeKind::kInsert;
  c.relid = 1;
  c.lsn = lsn;
  c.new_row = Row{Value::Int(TypeId::kInt4, id)};
  return c;
}
std::vector<int64_t> Ids(const Transaction& t) {
  std::vector<int64_t> out;
  for (auto& c : t.changes) out.push_back((*c.new_row)[0].i);
  return out;
}

TEST(ReorderBufferTest, RollbackToSavepointDropsSubxactAndChildren) {
  ReorderBuffer rb;
  rb.ProcessXid(100, 0, 10);
  rb.AddChange(100, Ins(10, 1));
  rb.ProcessXid(101, 100, 20);   // savepoint a
  rb.AddChange(101, Ins(20, 2));
  rb.ProcessXid(102, 100, 30);   // savepoint b inside a
  rb.AddChange(102, Ins(30, 3));
  rb.Abort(101, {102});          // ROLLBACK TO a: abort record of 101 lists 102
  rb.ProcessXid(103, 100, 40);
  rb.AddChange(103, Ins(40, 4));
  Transaction t = rb.Commit(100, {103}, 50, 80, 12345);
  EXPECT_EQ(Ids(t), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(t.xid, 100u);
  EXPECT_EQ(t.first_lsn, 10u);
  EXPECT_EQ(t.commit_lsn, 50u);
  EXPECT_EQ(t.end_lsn, 80u);
  EXPECT_EQ(t.commit_time_us, 12345);
  EXPECT_EQ(rb.size(), 0u);
}

TEST(ReorderBufferTest, SubxactSeenBeforeAssignmentIsMergedInWalOrder) {
  ReorderBuffer rb;
  rb.ProcessXid(200, 0, 100);
  rb.AddChange(200, Ins(100, 1));
  rb.ProcessXid(201, 0, 90);     // no top-level info yet (treated as its own)
  rb.AddChange(201, Ins(90, 0));
  rb.ProcessXid(200, 0, 110);
  rb.AddChange(200, Ins(110, 2));
  EXPECT_EQ(rb.size(), 2u);
  rb.Assign(200, {201}, 120);    // XLOG_XACT_ASSIGNMENT
  EXPECT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb.OldestFirstLsn(), 90u);
  Transaction t = rb.Commit(200, {201}, 130, 140, 0);
  EXPECT_EQ(Ids(t), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(t.first_lsn, 90u);
}

TEST(ReorderBufferTest, FirstLsnOfEveryTransactionAndAbortOld) {
  ReorderBuffer rb;
  rb.ProcessXid(300, 0, 1000);
  rb.ProcessXid(301, 0, 1100);
  rb.ProcessXid(302, 0, 1200);
  EXPECT_EQ(rb.OldestFirstLsn(), 1000u);
  rb.Abort(300, {});
  EXPECT_EQ(rb.OldestFirstLsn(), 1100u);
  rb.AbortOlderThan(302);        // 301 crashed
  EXPECT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb.OldestFirstLsn(), 1200u);
  rb.Commit(302, {}, 1300, 1400, 0);
  EXPECT_EQ(rb.OldestFirstLsn(), kInvalidLsn);
}

TEST(ReorderBufferTest, SpeculativeInsertConfirmedOrDropped) {
  ReorderBuffer rb;
  rb.ProcessXid(400, 0, 1);
  rb.SetSpeculative(400, Ins(1, 1));
  rb.ConfirmSpeculative(400);
  rb.SetSpeculative(400, Ins(2, 2));
  rb.DropSpeculative(400);       // super-delete
  Transaction t = rb.Commit(400, {}, 3, 4, 0);
  EXPECT_EQ(Ids(t), (std::vector<int64_t>{1}));
}

TEST(ReorderBufferTest, ToastChunksInOrderOnly) {
  ReorderBuffer rb;
  rb.ProcessXid(500, 0, 1);
  EXPECT_TRUE(rb.AddToastChunk(500, 77, 9, 0, "ab").ok());
  EXPECT_TRUE(rb.AddToastChunk(500, 77, 9, 1, "cd").ok());
  EXPECT_FALSE(rb.AddToastChunk(500, 77, 9, 3, "xx").ok());
  internal::ToastPointer p;
  p.valueid = 9;
  p.toastrelid = 77;
  ASSERT_NE(rb.ToastFor(500), nullptr);
  EXPECT_EQ(*rb.ToastFor(500)->Find(p), "abcd");
  rb.ResetToast(500);
  EXPECT_EQ(rb.ToastFor(500), nullptr);
}

}  // namespace
}  // namespace pgt::test
