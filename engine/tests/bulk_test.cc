// Bulk loading of bootstraps (issue 10): binary COPY decoding and SST runs.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "bulk/copy_binary.h"
#include "bulk/sst_runs.h"
#include "test_util.h"
#include "values/text_io.h"

namespace pgt::engine {
namespace {

void Be(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Numeric send format: ndigits, weight, sign, dscale, base-10000 digits.
std::string NumericSend(int weight, uint16_t sign, int dscale, std::vector<int> digits) {
  std::string s;
  Be(&s, digits.size(), 2);
  Be(&s, static_cast<uint16_t>(weight), 2);
  Be(&s, sign, 2);
  Be(&s, static_cast<uint16_t>(dscale), 2);
  for (int d : digits) Be(&s, static_cast<uint16_t>(d), 2);
  return s;
}

TEST(BulkTest, NumericSendPrintsLikeNumericOutAndTheTextParser) {
  struct Case { std::string send, text; };
  std::vector<Case> cases = {
      {NumericSend(0, 0, 2, {12, 5000}), "12.50"},
      {NumericSend(-1, 0, 4, {1}), "0.0001"},
      {NumericSend(1, 0x4000, 2, {123, 4567, 8900}), "-1234567.89"},
      {NumericSend(0, 0, 3, {}), "0.000"},
      {NumericSend(1, 0, 0, {1}), "10000"},
      {NumericSend(-2, 0, 9, {1234, 5000}), "0.000012345"},
      {NumericSend(2, 0, 0, {7, 0, 1}), "700000001"},
      {NumericSend(0, 0xC000, 0, {}), "NaN"},
      {NumericSend(0, 0xD000, 0, {}), "Infinity"},
      {NumericSend(0, 0xF000, 0, {}), "-Infinity"},
  };
  for (const auto& c : cases) {
    std::string out;
    ASSERT_TRUE(NumericSendToText(c.send, &out).ok()) << c.text;
    EXPECT_EQ(out, c.text);
    auto parsed = values::ParseText(TypeId::kNumeric, c.text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(out, parsed->s) << "binary and text bootstraps must store the same canonical text";
  }
  std::string out;
  EXPECT_FALSE(NumericSendToText(NumericSend(0, 0, 0, {10000}), &out).ok()) << "digit out of range";
  EXPECT_FALSE(NumericSendToText(NumericSend(0, 0x1234, 0, {1}), &out).ok()) << "bad sign";
}

// A binary COPY stream of rows (bigint, text, numeric, bool, float8, date) with a NULL.
std::string Stream() {
  std::string s("PGCOPY\n\377\r\n\0", 11);
  Be(&s, 0, 4);
  Be(&s, 0, 4);
  auto field = [&](const std::string& bytes) { Be(&s, bytes.size(), 4); s += bytes; };
  auto null = [&] { Be(&s, 0xffffffffu, 4); };
  for (int r = 0; r < 2; ++r) {
    Be(&s, 6, 2);
    std::string i8; Be(&i8, static_cast<uint64_t>(r == 0 ? -5 : 10), 8); field(i8);
    if (r == 0) field("h\xc3\xa9llo\n"); else null();
    field(NumericSend(0, 0, 1, {3, 1000}));
    field(std::string(1, r == 0 ? 1 : 0));
    double d = 2.5; uint64_t bits; std::memcpy(&bits, &d, 8); std::string f8; Be(&f8, bits, 8); field(f8);
    std::string dt; Be(&dt, static_cast<uint32_t>(-1), 4); field(dt);
  }
  Be(&s, 0xffff, 2);
  return s;
}

TEST(BulkTest, BinaryCopyRowsDecodeWhereverTheStreamIsSplit) {
  const std::string s = Stream();
  std::vector<TypeId> types = {TypeId::kInt8, TypeId::kText, TypeId::kNumeric, TypeId::kBool, TypeId::kFloat8, TypeId::kDate};
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    BinaryCopyReader reader(types);
    std::vector<Row> rows;
    auto on_row = [&](Row& r) { rows.push_back(r); return Status::Ok(); };
    ASSERT_TRUE(reader.Feed(std::string_view(s).substr(0, cut), on_row).ok());
    ASSERT_TRUE(reader.Feed(std::string_view(s).substr(cut), on_row).ok());
    ASSERT_TRUE(reader.Finish().ok()) << cut;
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0][0], Value::Int(TypeId::kInt8, -5));
    EXPECT_EQ(rows[0][1], Value::Str(TypeId::kText, "h\xc3\xa9llo\n"));
    EXPECT_EQ(rows[1][1], Value::Null(TypeId::kText)) << "a NULL after a value keeps no payload";
    EXPECT_EQ(rows[0][2], Value::Str(TypeId::kNumeric, "3.1"));
    EXPECT_EQ(rows[0][3], Value::Bool(true));
    EXPECT_EQ(rows[1][3], Value::Bool(false));
    EXPECT_EQ(rows[1][4].f, 2.5);
    EXPECT_EQ(rows[1][5], Value::Int(TypeId::kDate, -1));
  }
}

TEST(BulkTest, BinaryCopyRejectsBadInput) {
  std::vector<TypeId> types = {TypeId::kInt8, TypeId::kText, TypeId::kNumeric, TypeId::kBool, TypeId::kFloat8, TypeId::kDate};
  auto ok = [](Row&) { return Status::Ok(); };
  std::string s = Stream();
  BinaryCopyReader truncated(types);
  ASSERT_TRUE(truncated.Feed(std::string_view(s).substr(0, s.size() - 2), ok).ok());
  EXPECT_FALSE(truncated.Finish().ok()) << "no end marker";
  BinaryCopyReader wrong_width({TypeId::kInt8});
  EXPECT_FALSE(wrong_width.Feed(s, ok).ok()) << "6 columns, 1 expected";
  std::string bad = s;
  bad[0] = 'X';
  BinaryCopyReader bad_sig(types);
  EXPECT_FALSE(bad_sig.Feed(bad, ok).ok());
  BinaryCopyReader ints({TypeId::kInt4, TypeId::kText, TypeId::kNumeric, TypeId::kBool, TypeId::kFloat8, TypeId::kDate});
  EXPECT_FALSE(ints.Feed(s, ok).ok()) << "an 8-byte int4";
  EXPECT_FALSE(BinaryCopySupports(TypeId::kJsonb));
}

// Both modes: each run ingested as it fills, or (merge_at_end, pending output) runs spilled to
// scratch files and merged into non-overlapping files at Flush.
class SstRunsModes : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(BulkTest, SstRunsModes, ::testing::Bool());

int64_t ScratchFiles(const std::string& dir) {
  std::error_code ec;
  int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator(); ++it) ++n;
  return n;
}

TEST_P(SstRunsModes, IngestSortedWithTheLastPutWinning) {
  const bool merge = GetParam();
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path() + "/db");
  ASSERT_TRUE(store.ok());
  {
    Batch b(store->get());
    b.Put(Cf::kPending, "k0", "committed before");
    b.Put(Cf::kPending, "k5", "old");
    ASSERT_TRUE((*store)->Commit(&b).ok());
  }
  SstRuns runs(store->get(), Cf::kPending, dir.path() + "/tmp", 64, merge);   // tiny runs: many
  std::vector<std::pair<int64_t, int64_t>> progress;
  runs.set_merge_progress([&](int64_t done, int64_t total) { progress.emplace_back(done, total); },
                          std::chrono::milliseconds(0));
  Batch b(store->get());
  b.RouteToBulk(Cf::kPending, &runs);
  for (int i = 9; i >= 1; --i) b.Put(Cf::kPending, "k" + std::to_string(i), "v" + std::to_string(i));
  b.Put(Cf::kPending, "k3", "D");                      // same run: later put wins
  for (int i = 0; i < 20; ++i) b.Put(Cf::kPending, "x" + std::to_string(i), "filler");
  b.Put(Cf::kPending, "k3", "U again");                // a later run wins over an earlier one
  b.Delete(Cf::kPending, "k0");
  EXPECT_FALSE(b.Get(Cf::kPending, "k1").ok()) << "a routed family is not readable";
  EXPECT_TRUE(b.empty()) << "routed writes bypass the batch";
  ASSERT_TRUE(runs.Flush().ok()) << runs.status().message();
  if (merge) {
    EXPECT_FALSE(progress.empty()) << "the merge reports its final figure";
    if (!progress.empty()) {
      EXPECT_GT(progress.back().second, 9);   // every spilled record (dropped older writes too)
      EXPECT_EQ(progress.back().first, progress.back().second);
    }
    EXPECT_GE(runs.files(), 1);   // one per partition
    EXPECT_LE(runs.files(), 4);
    EXPECT_EQ(ScratchFiles(dir.path() + "/tmp"), 0) << "scratch runs are removed once merged";
  } else {
    EXPECT_GT(runs.files(), 2);
  }
  std::map<std::string, std::string> got;
  ASSERT_TRUE((*store)->Scan(Cf::kPending, "k", [&](auto k, auto v) { got[std::string(k)] = v; return true; }).ok());
  EXPECT_EQ(got.size(), 9u);
  EXPECT_EQ(got.count("k0"), 0u);
  EXPECT_EQ(got["k3"], "U again");
  EXPECT_EQ(got["k5"], "v5");
  EXPECT_EQ(got["k9"], "v9");
}

// Unsorted runs are sorted on 16-byte key heads: keys shorter than 16 bytes, keys sharing their
// first 16 bytes, zero bytes (which tie with the padding) and repeated keys must still come out
// in byte order with the last put winning, across runs written by the writer thread.
TEST_P(SstRunsModes, SortOnKeyHeadsLikeBytewiseOrder) {
  const bool merge = GetParam();
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path() + "/db");
  ASSERT_TRUE(store.ok());
  std::mt19937 rng(7);
  std::vector<std::string> keys = {"", "a", std::string("a\0", 2), std::string("a\0\0", 3), "ab", "abc"};
  const std::string head16 = "0123456789abcdef";
  for (int i = 0; i < 40; ++i) {
    std::string k = "p" + head16;
    k.push_back(static_cast<char>(rng() % 3));
    k += std::to_string(rng() % 50);
    keys.push_back(k);
    std::string k2(16, '\0');
    k2[15] = static_cast<char>(rng() % 4);
    k2 += std::string(rng() % 3, '\0');
    keys.push_back(k2);
    keys.push_back(std::string(1 + rng() % 20, static_cast<char>('x' + rng() % 2)));
  }
  keys.erase(keys.begin());   // RocksDB keys are not empty
  std::map<std::string, std::string> want;
  {
    SstRuns runs(store->get(), Cf::kPending, dir.path() + "/tmp", 512, merge);   // dozens of puts a run
    Batch b(store->get());
    b.RouteToBulk(Cf::kPending, &runs);
    for (int i = 0; i < 2000; ++i) {
      const std::string& k = keys[rng() % keys.size()];
      std::string v = "v" + std::to_string(i);
      b.Put(Cf::kPending, k, v);
      want[k] = v;
    }
    ASSERT_TRUE(runs.Flush().ok()) << runs.status().message();
    if (merge) EXPECT_LE(runs.files(), 4);
    else EXPECT_GT(runs.files(), 10);
  }
  std::map<std::string, std::string> got;
  std::string prev;
  bool first = true, ordered = true;
  ASSERT_TRUE((*store)->Scan(Cf::kPending, "", [&](auto k, auto v) {
    if (!first && !(prev < k)) ordered = false;
    prev = std::string(k);
    first = false;
    got[std::string(k)] = v;
    return true;
  }).ok());
  EXPECT_TRUE(ordered);
  EXPECT_EQ(got, want);
}

// Merge mode with everything in one run: written and ingested directly, no scratch file.
TEST(BulkTest, SstRunsMergeModeWritesASingleRunDirectly) {
  testing::TempDir dir;
  auto store = StateStore::Open(dir.path() + "/db");
  ASSERT_TRUE(store.ok());
  SstRuns runs(store->get(), Cf::kPending, dir.path() + "/tmp", 1 << 20, /*merge_at_end=*/true);
  for (int i = 0; i < 100; ++i) runs.Put("k" + std::to_string(i % 37), "v" + std::to_string(i));
  ASSERT_TRUE(runs.Flush().ok()) << runs.status().message();
  EXPECT_EQ(runs.files(), 1);
  std::map<std::string, std::string> got;
  ASSERT_TRUE((*store)->Scan(Cf::kPending, "k", [&](auto k, auto v) { got[std::string(k)] = v; return true; }).ok());
  EXPECT_EQ(got.size(), 37u);
  EXPECT_EQ(got["k0"], "v74");
  EXPECT_EQ(got["k36"], "v73");
}

}  // namespace
}  // namespace pgt::engine
