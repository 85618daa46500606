// Reorder buffer spill to disk: every test runs with a tiny memory limit so the spill path runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "reorder_buffer.h"

namespace pgt::test {
namespace {

using internal::ReorderBuffer;
namespace fs = std::filesystem;

constexpr size_t kTiny = 1024;

std::string TestDir(const std::string& name) {
  return "/tmp/walreader-spill-test-" + std::to_string(::getpid()) + "-" + name;
}

size_t FilesIn(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return 0;
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) { (void)e; n++; }
  return n;
}

Change Ins(Lsn lsn, int64_t id) {
  Change c;
  c.kind = ChangeKind::kInsert;
  c.relid = 1;
  c.lsn = lsn;
  c.new_row = Row{Value::Int(TypeId::kInt4, id), Value::Str(TypeId::kText, std::string(40, 'x'))};
  return c;
}
std::vector<int64_t> Ids(const Transaction& t) {
  std::vector<int64_t> out;
  for (auto& c : t.changes) out.push_back((*c.new_row)[0].i);
  return out;
}

TEST(SpillTest, LargeTransactionSpillsAndComesBackInOrder) {
  std::string dir = TestDir("large");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 10);
  std::vector<int64_t> want;
  for (int i = 0; i < 1000; i++) {
    rb.AddChange(100, Ins(10 + i, i));
    want.push_back(i);
    ASSERT_LE(rb.memory_used(), kTiny + 1024);   // bounded while buffering
  }
  EXPECT_GT(rb.spill_count(), 0u);
  EXPECT_EQ(rb.spill_files(), 1u);
  EXPECT_EQ(FilesIn(dir), 1u);
  Transaction t = rb.Commit(100, {}, 5000, 5010, 1);
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_EQ(Ids(t), want);
  EXPECT_EQ(t.first_lsn, 10u);
  EXPECT_EQ(FilesIn(dir), 0u);   // removed once emitted
  EXPECT_EQ(rb.memory_used(), 0u);
}

// A one-million-row transaction is buffered in bounded memory (aborted at the end: the emitted
// Transaction of a commit would hold every change in memory, see README "Reorder buffer memory").
TEST(SpillTest, MillionRowTransactionBuffersInBoundedMemory) {
  std::string dir = TestDir("million");
  const size_t limit = 256 << 10;
  ReorderBuffer rb(limit, dir);
  rb.ProcessXid(100, 0, 10);
  size_t peak = 0;
  for (int i = 0; i < 1000000; i++) {
    Change c;
    c.kind = ChangeKind::kInsert;
    c.relid = 1;
    c.lsn = 10 + static_cast<Lsn>(i);
    c.new_row = Row{Value::Int(TypeId::kInt4, i)};
    rb.AddChange(100, std::move(c));
    peak = std::max(peak, rb.memory_used());
  }
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_LE(peak, limit);
  EXPECT_GT(fs::file_size(rb.SpillPathOf(100)), size_t{10} << 20);
  EXPECT_EQ(rb.OldestFirstLsn(), 10u);
  rb.Abort(100, {});
  EXPECT_EQ(FilesIn(dir), 0u);
  EXPECT_EQ(rb.memory_used(), 0u);
}

TEST(SpillTest, InterleavedTransactionsKeepTheirOwnChangesAndOrder) {
  std::string dir = TestDir("interleaved");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 10);
  rb.ProcessXid(200, 0, 11);
  rb.ProcessXid(300, 0, 12);
  std::vector<int64_t> w100, w200, w300;
  Lsn lsn = 20;
  for (int i = 0; i < 300; i++) {
    Xid x = i % 3 == 0 ? 100 : i % 3 == 1 ? 200 : 300;
    if (i % 7 == 0) x = 200;   // uneven sizes: a different transaction is the largest at times
    rb.AddChange(x, Ins(lsn++, i));
    (x == 100 ? w100 : x == 200 ? w200 : w300).push_back(i);
  }
  EXPECT_GE(rb.spill_files(), 2u);
  // Commit in an order different from the start order.
  Transaction t2 = rb.Commit(200, {}, 1000, 1001, 1);
  Transaction t1 = rb.Commit(100, {}, 1002, 1003, 1);
  Transaction t3 = rb.Commit(300, {}, 1004, 1005, 1);
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_EQ(Ids(t1), w100);
  EXPECT_EQ(Ids(t2), w200);
  EXPECT_EQ(Ids(t3), w300);
  EXPECT_EQ(t1.first_lsn, 10u);
  EXPECT_EQ(t2.first_lsn, 11u);
  EXPECT_EQ(t3.first_lsn, 12u);
  EXPECT_EQ(FilesIn(dir), 0u);
}

TEST(SpillTest, SubxactAbortAfterSpillDropsTheRightChanges) {
  std::string dir = TestDir("subxact");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 10);
  std::vector<int64_t> want;
  Lsn lsn = 10;
  int id = 0;
  auto add = [&](Xid x, bool keep, int n) {
    for (int i = 0; i < n; i++) {
      rb.AddChange(x, Ins(lsn++, id));
      if (keep) want.push_back(id);
      id++;
    }
  };
  add(100, true, 50);
  rb.ProcessXid(101, 100, lsn);   // SAVEPOINT a
  add(101, false, 50);
  rb.ProcessXid(102, 100, lsn);   // SAVEPOINT b inside a
  add(102, false, 50);
  ASSERT_GT(rb.spill_count(), 0u);
  rb.Abort(101, {102});           // ROLLBACK TO a, after both were spilled
  rb.ProcessXid(103, 100, lsn);   // SAVEPOINT c
  add(103, true, 50);
  rb.ProcessXid(104, 100, lsn);   // SAVEPOINT d, rolled back while still in memory
  add(104, false, 2);
  rb.Abort(104, {});
  add(100, true, 5);
  Transaction t = rb.Commit(100, {103}, lsn, lsn + 10, 1);
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_EQ(Ids(t), want);
  EXPECT_EQ(FilesIn(dir), 0u);
}

TEST(SpillTest, SubxactSeenBeforeAssignmentIsMergedAfterSpill) {
  std::string dir = TestDir("merge");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 10);
  rb.ProcessXid(101, 0, 11);   // no toplevel known yet: its own entry
  std::vector<int64_t> want;
  for (int i = 0; i < 100; i++) {
    rb.AddChange(i % 2 ? 101 : 100, Ins(20 + i, i));
    want.push_back(i);
  }
  ASSERT_EQ(rb.spill_files(), 2u);
  rb.Assign(100, {101}, 200);
  for (int i = 100; i < 150; i++) {
    rb.AddChange(101, Ins(20 + i, i));
    want.push_back(i);
  }
  Transaction t = rb.Commit(100, {101}, 500, 510, 1);
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  EXPECT_EQ(Ids(t), want);
  EXPECT_EQ(FilesIn(dir), 0u);
}

TEST(SpillTest, AbortOfSpilledTransactionRemovesItsFiles) {
  std::string dir = TestDir("abort");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 10);
  rb.ProcessXid(200, 0, 11);
  for (int i = 0; i < 100; i++) rb.AddChange(100, Ins(20 + i, i));
  for (int i = 0; i < 100; i++) rb.AddChange(200, Ins(200 + i, i));
  ASSERT_EQ(FilesIn(dir), 2u);
  std::string p100 = rb.SpillPathOf(100);
  ASSERT_FALSE(p100.empty());
  rb.Abort(100, {});
  EXPECT_FALSE(fs::exists(p100));
  EXPECT_EQ(FilesIn(dir), 1u);
  rb.AbortOlderThan(300);   // crashed server: 200 is dropped too
  EXPECT_EQ(FilesIn(dir), 0u);
  EXPECT_EQ(rb.size(), 0u);
  EXPECT_EQ(rb.memory_used(), 0u);
}

TEST(SpillTest, ClearAndDestructionRemoveFiles) {
  std::string dir = TestDir("clear");
  {
    ReorderBuffer rb(kTiny, dir);
    rb.ProcessXid(100, 0, 10);
    for (int i = 0; i < 100; i++) rb.AddChange(100, Ins(20 + i, i));
    ASSERT_EQ(FilesIn(dir), 1u);
    rb.Clear();
    EXPECT_EQ(FilesIn(dir), 0u);
    rb.ProcessXid(200, 0, 10);
    for (int i = 0; i < 100; i++) rb.AddChange(200, Ins(20 + i, i));
    ASSERT_EQ(FilesIn(dir), 1u);
  }
  EXPECT_EQ(FilesIn(dir), 0u);
  EXPECT_FALSE(fs::exists(dir));   // created on demand, removed when empty
}

TEST(SpillTest, DefaultDirIsPerProcessUnderTmp) {
  ReorderBuffer rb(kTiny);
  EXPECT_EQ(rb.spill_dir(), "/tmp/walreader-spill-" + std::to_string(::getpid()));
  rb.ProcessXid(100, 0, 10);
  for (int i = 0; i < 100; i++) rb.AddChange(100, Ins(20 + i, i));
  EXPECT_EQ(rb.SpillPathOf(100).rfind(rb.spill_dir() + "/", 0), 0u);
  Transaction t = rb.Commit(100, {}, 500, 510, 1);
  EXPECT_EQ(t.changes.size(), 100u);
}

TEST(SpillTest, RestartLsnUnaffectedBySpilling) {
  std::string dir = TestDir("restart");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 1000);
  rb.ProcessXid(200, 0, 500);   // older first record, few changes: never the largest
  rb.AddChange(200, Ins(500, 0));
  for (int i = 0; i < 200; i++) rb.AddChange(100, Ins(1000 + i, i));
  ASSERT_FALSE(rb.SpillPathOf(100).empty());
  EXPECT_EQ(rb.OldestFirstLsn(), 500u);
  rb.Commit(200, {}, 2000, 2001, 1);
  EXPECT_EQ(rb.OldestFirstLsn(), 1000u);   // the spilled transaction is still open
  rb.Commit(100, {}, 2002, 2003, 1);
  EXPECT_EQ(rb.OldestFirstLsn(), kInvalidLsn);
}

TEST(SpillTest, SpeculativeConfirmAfterSpill) {
  std::string dir = TestDir("spec");
  ReorderBuffer rb(kTiny, dir);
  rb.ProcessXid(100, 0, 10);
  for (int i = 0; i < 50; i++) rb.AddChange(100, Ins(10 + i, i));
  rb.SetSpeculative(100, Ins(100, 50));
  rb.ConfirmSpeculative(100);
  rb.SetSpeculative(100, Ins(101, 51));
  rb.DropSpeculative(100);
  rb.AddChange(100, Ins(102, 52));
  Transaction t = rb.Commit(100, {}, 200, 210, 1);
  std::vector<int64_t> want;
  for (int i = 0; i <= 50; i++) want.push_back(i);
  want.push_back(52);
  EXPECT_EQ(Ids(t), want);
}

std::vector<Change> AllKindsOfChanges() {
  std::vector<Change> out;
  Row all;
  all.push_back(Value::Bool(true));
  all.push_back(Value::Bool(false));
  all.push_back(Value::Int(TypeId::kInt2, -32768));
  all.push_back(Value::Int(TypeId::kInt4, std::numeric_limits<int32_t>::min()));
  all.push_back(Value::Int(TypeId::kInt8, std::numeric_limits<int64_t>::max()));
  all.push_back(Value::Int(TypeId::kOid, 4294967295LL));
  Value f4; f4.type = TypeId::kFloat4; f4.is_null = false; f4.f = 1.5f;
  all.push_back(f4);
  Value f8; f8.type = TypeId::kFloat8; f8.is_null = false; f8.f = -0.0;
  all.push_back(f8);
  Value inf = f8; inf.f = std::numeric_limits<double>::infinity();
  all.push_back(inf);
  Value tiny = f8; tiny.f = std::numeric_limits<double>::denorm_min();
  all.push_back(tiny);
  all.push_back(Value::Str(TypeId::kNumeric, "-12.50"));
  all.push_back(Value::Str(TypeId::kNumeric, "NaN"));
  all.push_back(Value::Str(TypeId::kText, ""));
  all.push_back(Value::Str(TypeId::kText, std::string(5000, 'z')));
  all.push_back(Value::Str(TypeId::kVarchar, "caf\xc3\xa9"));
  all.push_back(Value::Str(TypeId::kBpchar, "ab   "));
  all.push_back(Value::Int(TypeId::kDate, std::numeric_limits<int32_t>::max()));
  all.push_back(Value::Int(TypeId::kTime, 86399999999LL));
  all.push_back(Value::Int(TypeId::kTimestamp, std::numeric_limits<int64_t>::min()));
  all.push_back(Value::Int(TypeId::kTimestamptz, 123456789012345LL));
  all.push_back(Value::Str(TypeId::kBytea, std::string("\0\x01\xff\0", 4)));
  all.push_back(Value::Str(TypeId::kUuid, std::string(16, '\xab')));
  all.push_back(Value::Str(TypeId::kJson, "{\"a\": [1, 2]}"));
  all.push_back(Value::Str(TypeId::kJsonb, std::string("\x01\0\0\x20", 4)));
  all.push_back(Value::Str(TypeId::kUnknown, "raw"));
  for (uint8_t t = 0; t <= static_cast<uint8_t>(TypeId::kJsonb); t++)
    all.push_back(Value::Null(static_cast<TypeId>(t)));
  Value toast = Value::Null(TypeId::kText);
  toast.unchanged_toast = true;
  all.push_back(toast);
  Value odd = Value::Int(TypeId::kInt8, 7);   // every field set, whatever the type says
  odd.f = 3.25;
  odd.s = "both";
  all.push_back(odd);

  Change ins;
  ins.kind = ChangeKind::kInsert;
  ins.relid = 16384;
  ins.lsn = 0x1234567890ULL;
  ins.new_row = all;
  out.push_back(ins);

  Change upd;
  upd.kind = ChangeKind::kUpdate;
  upd.relid = 16385;
  upd.lsn = 0x1234567891ULL;
  upd.old_row = Row{Value::Int(TypeId::kInt4, 1), Value::Null(TypeId::kText)};
  upd.old_is_key_only = true;
  upd.new_row = all;
  out.push_back(upd);

  Change upd_full = upd;
  upd_full.old_is_key_only = false;
  upd_full.old_row = Row{};   // present but empty
  upd_full.lsn++;
  out.push_back(upd_full);

  Change del;
  del.kind = ChangeKind::kDelete;
  del.relid = 16386;
  del.lsn = 0x1234567893ULL;
  del.old_row = all;
  out.push_back(del);

  Change tr;
  tr.kind = ChangeKind::kTruncate;
  tr.relid = 16384;
  tr.lsn = 0x1234567894ULL;
  tr.truncated = {16384, 16385, 4294967295u};
  tr.truncate_cascade = true;
  tr.truncate_restart_seqs = true;
  out.push_back(tr);
  Change tr2 = tr;
  tr2.truncate_cascade = false;
  tr2.lsn++;
  out.push_back(tr2);
  return out;
}

void ExpectSameValue(const Value& a, const Value& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.is_null, b.is_null);
  EXPECT_EQ(a.unchanged_toast, b.unchanged_toast);
  EXPECT_EQ(a.i, b.i);
  EXPECT_EQ(std::signbit(a.f), std::signbit(b.f));
  EXPECT_TRUE(a.f == b.f || (std::isnan(a.f) && std::isnan(b.f)));
  EXPECT_EQ(a.s, b.s);
}

void ExpectSameChange(const Change& a, const Change& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.relid, b.relid);
  EXPECT_EQ(a.lsn, b.lsn);
  EXPECT_EQ(a.old_is_key_only, b.old_is_key_only);
  EXPECT_EQ(a.truncated, b.truncated);
  EXPECT_EQ(a.truncate_cascade, b.truncate_cascade);
  EXPECT_EQ(a.truncate_restart_seqs, b.truncate_restart_seqs);
  ASSERT_EQ(a.old_row.has_value(), b.old_row.has_value());
  ASSERT_EQ(a.new_row.has_value(), b.new_row.has_value());
  if (a.old_row) {
    ASSERT_EQ(a.old_row->size(), b.old_row->size());
    for (size_t i = 0; i < a.old_row->size(); i++) ExpectSameValue((*a.old_row)[i], (*b.old_row)[i]);
  }
  if (a.new_row) {
    ASSERT_EQ(a.new_row->size(), b.new_row->size());
    for (size_t i = 0; i < a.new_row->size(); i++) ExpectSameValue((*a.new_row)[i], (*b.new_row)[i]);
  }
}

TEST(SpillTest, ValuesRoundTripExactly) {
  std::string dir = TestDir("values");
  ReorderBuffer rb(kTiny, dir);
  auto changes = AllKindsOfChanges();
  Value nan = Value::Null(TypeId::kFloat8);
  nan.is_null = false;
  nan.f = std::numeric_limits<double>::quiet_NaN();
  changes[0].new_row->push_back(nan);
  rb.ProcessXid(100, 0, 10);
  for (int round = 0; round < 3; round++)
    for (const Change& c : changes) rb.AddChange(100, c);
  ASSERT_FALSE(rb.SpillPathOf(100).empty());
  Transaction t = rb.Commit(100, {}, 0x2000000000ULL, 0x2000000010ULL, 1);
  ASSERT_TRUE(rb.status().ok()) << rb.status().ToString();
  ASSERT_EQ(t.changes.size(), 3 * changes.size());
  for (size_t i = 0; i < t.changes.size(); i++) ExpectSameChange(t.changes[i], changes[i % changes.size()]);
}

TEST(SpillTest, RecordFormatRejectsTruncatedRecords) {
  for (const Change& c : AllKindsOfChanges()) {
    std::string buf;
    ReorderBuffer::SerializeChange(4242, c, &buf);
    uint32_t len;
    std::memcpy(&len, buf.data(), 4);
    ASSERT_EQ(len + 4u, buf.size());
    Xid tag = 0;
    Change back;
    ASSERT_TRUE(ReorderBuffer::ParseChange(buf.data() + 4, len, &tag, &back));
    EXPECT_EQ(tag, 4242u);
    ExpectSameChange(back, c);
    for (size_t cut = 0; cut < len; cut += 1 + len / 50) {
      Change junk;
      EXPECT_FALSE(ReorderBuffer::ParseChange(buf.data() + 4, cut, &tag, &junk)) << cut;
    }
  }
}

TEST(SpillTest, UnwritableSpillDirIsAStickyError) {
  ReorderBuffer rb(kTiny, "/proc/walreader-cannot-create-this");
  rb.ProcessXid(100, 0, 10);
  for (int i = 0; i < 100; i++) rb.AddChange(100, Ins(20 + i, i));
  EXPECT_FALSE(rb.status().ok());
  EXPECT_NE(rb.status().ToString().find("spill"), std::string::npos) << rb.status().ToString();
  rb.Clear();
  EXPECT_TRUE(rb.status().ok());
}

TEST(SpillTest, NoSpillBelowTheLimit) {
  std::string dir = TestDir("below");
  ReorderBuffer rb(size_t{1} << 20, dir);
  rb.ProcessXid(100, 0, 10);
  for (int i = 0; i < 100; i++) rb.AddChange(100, Ins(20 + i, i));
  EXPECT_EQ(rb.spill_count(), 0u);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_GT(rb.memory_used(), 0u);
  rb.Commit(100, {}, 500, 510, 1);
  EXPECT_EQ(rb.memory_used(), 0u);
}

}  // namespace
}  // namespace pgt::test
