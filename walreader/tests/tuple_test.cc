// Tuple and value decoding: numeric forms, varlena headers, pglz, nulls, missing/dropped columns,
// TOAST pointers.
#include <gtest/gtest.h>
#include <lz4.h>

#include <random>

#include "numeric.h"
#include "pglz.h"
#include "test_util.h"
#include "toast_lz4.h"
#include "tuple.h"
#include "walreader/text_format.h"

namespace pgt::test {
namespace {

using namespace internal;

std::string Num(const std::vector<uint8_t>& payload) {
  auto r = NumericToText(payload.data(), payload.size());
  return r.ok() ? r.value() : "ERR " + r.status().message();
}
std::vector<uint8_t> Short(int sign, int dscale, int weight, std::vector<uint16_t> digits) {
  uint16_t h = 0x8000 | (sign ? 0x2000 : 0) | (dscale << 7) | (weight & 0x7F);
  std::vector<uint8_t> v;
  PutU16(&v, h);
  for (auto d : digits) PutU16(&v, d);
  return v;
}
std::vector<uint8_t> Long(bool neg, int dscale, int16_t weight, std::vector<uint16_t> digits) {
  std::vector<uint8_t> v;
  PutU16(&v, (neg ? 0x4000 : 0) | dscale);
  PutU16(&v, static_cast<uint16_t>(weight));
  for (auto d : digits) PutU16(&v, d);
  return v;
}

TEST(NumericTest, ShortAndLongFormsAndSpecials) {
  EXPECT_EQ(Num({0x00, 0x80, 0x63, 0x00}), "99");   // seen in real WAL
  EXPECT_EQ(Num(Short(1, 2, 0, {12, 5000})), "-12.50");
  EXPECT_EQ(Num(Short(0, 4, -1, {1})), "0.0001");
  EXPECT_EQ(Num(Short(0, 0, 0, {})), "0");
  EXPECT_EQ(Num(Short(0, 1, 0, {})), "0.0");
  EXPECT_EQ(Num(Short(0, 0, 1, {1})), "10000");
  EXPECT_EQ(Num(Short(1, 9, -2, {123})), "-0.000001230");
  EXPECT_EQ(Num(Long(true, 2, 0, {12, 5000})), "-12.50");
  EXPECT_EQ(Num(Long(false, 9, 7, {12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 9000})),
            "123456789012345678901234567890.123456789");
  EXPECT_EQ(Num({0x00, 0xC0}), "NaN");
  EXPECT_EQ(Num({0x00, 0xD0}), "Infinity");
  EXPECT_EQ(Num({0x00, 0xF0}), "-Infinity");
  EXPECT_EQ(Num(Long(false, 100, -25, {1})),
            "0." + std::string(99, '0') + "1");
}

TEST(PglzTest, LiteralsAndOverlappingBackReferences) {
  // "abcabcabcabcX": 3 literals, tag len 9 off 3, literal 'X'
  std::vector<uint8_t> s = {0x08, 'a', 'b', 'c', 0x06, 0x03, 'X'};
  auto r = PglzDecompress(s.data(), s.size(), 13);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "abcabcabcabcX");
  auto bad = PglzDecompress(s.data(), s.size(), 20);
  EXPECT_FALSE(bad.ok());
  std::vector<uint8_t> badref = {0x01, 0x00, 0x05};
  EXPECT_FALSE(PglzDecompress(badref.data(), badref.size(), 3).ok());
}

TEST(PglzTest, ImplausibleRawSizeIsAnErrorWithoutHugeAllocation) {
  // Seen with fuzz/tuple_fuzz (slow executions): a corrupt va_tcinfo claiming ~1 GB made
  // PglzDecompress reserve it up front, for an 8-byte datum. The reserve is now capped by what
  // the input can produce; the result is the same error.
  std::vector<uint8_t> s = {0x00, 'a', 'b'};
  auto r = PglzDecompress(s.data(), s.size(), 0x3FFFFFFFu);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expected 1073741823"), std::string::npos)
      << r.status().ToString();
}

RelationDesc Desc() {
  RelationDesc d;
  d.relid = 100;
  d.schema = "public";
  d.name = "t";
  auto add = [&](const char* name, Oid type, int16_t len, char align, bool dropped = false) {
    AttributeDesc a;
    a.attnum = static_cast<int16_t>(d.attrs.size() + 1);
    a.name = name;
    a.type_oid = type;
    a.type = TypeIdFromOid(type);
    a.attlen = len;
    a.attalign = align;
    a.dropped = dropped;
    d.attrs.push_back(a);
  };
  add("id", 23, 4, 'i');
  add("x", 0, 4, 'i', true);   // dropped int
  add("name", 25, -1, 'i');
  add("big", 20, 8, 'd');
  return d;
}

TEST(TupleTest, NullsAlignmentDroppedAndMissingColumns) {
  RelationDesc d = Desc();
  // natts 3 (big added later, no default -> NULL), with a NULL name.
  std::vector<uint8_t> t = Tuple({"7", "99", nullptr}, {true, true, false});
  auto tv = ParseHeapTuple(t.data(), t.size());
  ASSERT_TRUE(tv.ok());
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, nullptr};
  auto row = DecodeTuple(*tv, ctx);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  ASSERT_EQ(row->size(), 4u);
  EXPECT_EQ((*row)[0], Value::Int(TypeId::kInt4, 7));
  EXPECT_TRUE((*row)[1].is_null);   // dropped
  EXPECT_TRUE((*row)[2].is_null);
  EXPECT_TRUE((*row)[3].is_null);
  // Missing value for the added column.
  d.attrs[3].has_missing = true;
  d.attrs[3].missing = Value::Int(TypeId::kInt8, 42);
  row = DecodeTuple(*tv, ctx);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ((*row)[3], Value::Int(TypeId::kInt8, 42));
}

TEST(TupleTest, VarlenaHeadersAndInt8Alignment) {
  RelationDesc d = Desc();
  std::vector<uint8_t> t;
  PutU16(&t, 4); PutU16(&t, 2); t.push_back(24);
  t.push_back(0);                 // padding to t_hoff
  PutU32(&t, 5);                  // id @0
  PutU32(&t, 1);                  // dropped x @4
  // name: 4-byte header, aligned at 8
  std::string s(200, 'q');
  PutU32(&t, static_cast<uint32_t>((s.size() + 4) << 2));
  t.insert(t.end(), s.begin(), s.end());
  while ((t.size() - 6) % 8) t.push_back(0);
  PutU64(&t, static_cast<uint64_t>(-5));
  auto tv = ParseHeapTuple(t.data(), t.size());
  ASSERT_TRUE(tv.ok());
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, nullptr};
  auto row = DecodeTuple(*tv, ctx);
  ASSERT_TRUE(row.ok()) << row.status().ToString();
  EXPECT_EQ((*row)[2].s, s);
  EXPECT_EQ((*row)[3].i, -5);
}

TEST(TupleTest, CompressedInlineAndExternalValues) {
  RelationDesc d = Desc();
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, nullptr};
  // Inline pglz: 4-byte header with 0x02 flag, tcinfo (rawsize 13, method pglz).
  std::vector<uint8_t> v;
  std::vector<uint8_t> stream = {0x08, 'a', 'b', 'c', 0x06, 0x03, 'X'};
  PutU32(&v, static_cast<uint32_t>(((8 + stream.size()) << 2) | 0x02));
  PutU32(&v, 13);
  v.insert(v.end(), stream.begin(), stream.end());
  size_t used = 0;
  auto val = DecodeVarlena(v.data(), v.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_TRUE(val.ok()) << val.status().ToString();
  EXPECT_EQ(val->s, "abcabcabcabcX");
  EXPECT_EQ(used, v.size());
  // The same pglz bytes labelled lz4 are not a valid lz4 block: Corruption naming the column.
  v[4 + 3] |= 0x40;
  val = DecodeVarlena(v.data(), v.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_FALSE(val.ok());
  EXPECT_EQ(val.status().code(), Status::Code::kCorruption);
  EXPECT_NE(val.status().message().find("t.name"), std::string::npos);
  EXPECT_NE(val.status().message().find("lz4"), std::string::npos);
  // External TOAST pointer: error for inserts, unchanged_toast for update new tuples.
  std::vector<uint8_t> ext = {0x01, 18};
  PutU32(&ext, 5004); PutU32(&ext, 5000); PutU32(&ext, 16500); PutU32(&ext, 16390);
  val = DecodeVarlena(ext.data(), ext.size(), TypeId::kText, ctx, "t.name", &used);
  EXPECT_FALSE(val.ok());
  ctx.policy = ExternalPolicy::kUnchangedToast;
  val = DecodeVarlena(ext.data(), ext.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_TRUE(val.ok());
  EXPECT_TRUE(val->unchanged_toast);
  EXPECT_FALSE(val->is_null);
  EXPECT_EQ(used, 18u);
  // ... and reassembled chunks when known.
  struct OneValue : ToastLookup {
    std::string data = std::string(5000, 'z');
    const std::string* Find(const ToastPointer& p) override { return p.valueid == 16500 ? &data : nullptr; }
  } lookup;
  ctx.toast = &lookup;
  ctx.policy = ExternalPolicy::kError;
  val = DecodeVarlena(ext.data(), ext.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_TRUE(val.ok()) << val.status().ToString();
  EXPECT_EQ(val->s, std::string(5000, 'z'));
}

// lz4 blocks made by liblz4's own compressor (what PostgreSQL's lz4_compress_datum calls).
std::string Lz4Compress(const std::string& raw) {
  std::string out(static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw.size()))), '\0');
  int n = LZ4_compress_default(raw.data(), out.data(), static_cast<int>(raw.size()),
                               static_cast<int>(out.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}
std::string Lz4Sample() {
  std::string raw;
  for (int i = 0; i < 400; i++) raw += "row " + std::to_string(i % 37) + " lz4 payload; ";
  return raw;
}

TEST(Lz4Test, InlineCompressedValue) {
  RelationDesc d = Desc();
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, nullptr};
  const std::string raw = Lz4Sample();
  const std::string block = Lz4Compress(raw);
  ASSERT_GT(block.size(), 0u);
  ASSERT_LT(block.size(), raw.size() / 4);
  // 4-byte header with the compressed flag, va_tcinfo = raw size | method 1 (lz4) << 30.
  std::vector<uint8_t> v;
  PutU32(&v, static_cast<uint32_t>(((8 + block.size()) << 2) | 0x02));
  PutU32(&v, static_cast<uint32_t>(raw.size()) | (1u << 30));
  v.insert(v.end(), block.begin(), block.end());
  size_t used = 0;
  auto val = DecodeVarlena(v.data(), v.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_TRUE(val.ok()) << val.status().ToString();
  EXPECT_EQ(val->s, raw);
  EXPECT_EQ(used, v.size());
  // Methods 2 and 3 do not exist.
  v[7] = static_cast<uint8_t>((v[7] & 0x3F) | 0x80);
  val = DecodeVarlena(v.data(), v.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_FALSE(val.ok());
  EXPECT_NE(val.status().message().find("unknown compression method 2"), std::string::npos);
}

TEST(Lz4Test, ExternalCompressedValue) {
  RelationDesc d = Desc();
  const std::string raw = Lz4Sample();
  const std::string block = Lz4Compress(raw);
  // Stored external bytes: va_tcinfo then the block; va_extinfo = stored size | lz4 << 30.
  struct Chunks : ToastLookup {
    std::string data;
    const std::string* Find(const ToastPointer& p) override { return p.valueid == 16501 ? &data : nullptr; }
  } lookup;
  std::vector<uint8_t> tc;
  PutU32(&tc, static_cast<uint32_t>(raw.size()) | (1u << 30));
  lookup.data.assign(tc.begin(), tc.end());
  lookup.data += block;
  std::vector<uint8_t> ext = {0x01, 18};
  PutU32(&ext, static_cast<uint32_t>(raw.size() + 4));
  PutU32(&ext, static_cast<uint32_t>(lookup.data.size()) | (1u << 30));
  PutU32(&ext, 16501);
  PutU32(&ext, 16390);
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, &lookup};
  size_t used = 0;
  auto val = DecodeVarlena(ext.data(), ext.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_TRUE(val.ok()) << val.status().ToString();
  EXPECT_EQ(val->s, raw);
  EXPECT_EQ(used, 18u);
  // A corrupt stored value: Corruption naming the column, no crash.
  lookup.data.resize(lookup.data.size() / 2);
  std::vector<uint8_t> extinfo;
  PutU32(&extinfo, static_cast<uint32_t>(lookup.data.size()) | (1u << 30));
  std::copy(extinfo.begin(), extinfo.end(), ext.begin() + 6);
  val = DecodeVarlena(ext.data(), ext.size(), TypeId::kText, ctx, "t.name", &used);
  ASSERT_FALSE(val.ok());
  EXPECT_EQ(val.status().code(), Status::Code::kCorruption);
  EXPECT_NE(val.status().message().find("t.name"), std::string::npos);
}

TEST(Lz4Test, CorruptBlocksAreErrorsNeverCrashes) {
  const std::string raw = Lz4Sample();
  const std::string block = Lz4Compress(raw);
  const auto* b = reinterpret_cast<const uint8_t*>(block.data());
  auto ok = Lz4Decompress(b, block.size(), raw.size());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok.value(), raw);
  // Truncated block, raw size too small or too large, impossible raw size, empty input.
  for (size_t cut : {size_t{1}, size_t{5}, block.size() / 2, block.size() - 1}) {
    auto r = Lz4Decompress(b, cut, raw.size());
    EXPECT_FALSE(r.ok()) << "cut " << cut;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
    }
  }
  EXPECT_FALSE(Lz4Decompress(b, block.size(), raw.size() - 1).ok());
  EXPECT_FALSE(Lz4Decompress(b, block.size(), raw.size() + 1).ok());
  auto huge = Lz4Decompress(b, 8, 0x3FFFFFFFu);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("impossible"), std::string::npos);
  EXPECT_FALSE(Lz4Decompress(b, 0, 0).ok());
  // Flipped bytes and random garbage: either an error or exactly raw-size bytes (ASan builds
  // catch any out-of-bounds access; the fuzz target covers this further).
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; i++) {
    std::string m = block;
    if (i % 2 == 0) {
      m[rng() % m.size()] = static_cast<char>(rng());
    } else {
      m.resize(1 + rng() % 64);
      for (char& c : m) c = static_cast<char>(rng());
    }
    size_t want = i % 3 == 0 ? raw.size() : 1 + rng() % 4096;
    auto r = Lz4Decompress(reinterpret_cast<const uint8_t*>(m.data()), m.size(), want);
    if (r.ok()) {
      EXPECT_EQ(r->size(), want);
    }
  }
}

TEST(TupleTest, MissingValueOfUnsupportedTypeIsAnErrorOnlyWhenNeeded) {
  RelationDesc d = Desc();
  std::vector<uint8_t> t = Tuple({"7", "99", "n"}, {true, true, false});   // natts 3 of 4
  auto tv = ParseHeapTuple(t.data(), t.size());
  ASSERT_TRUE(tv.ok());
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, nullptr};
  d.attrs[2].has_missing = true;   // present in the tuple: its missing value is not needed
  d.attrs[2].missing_error = "column name: default of type 1184";
  EXPECT_TRUE(DecodeTuple(*tv, ctx).ok());
  d.attrs[3].has_missing = true;   // added after the tuple was formed
  d.attrs[3].missing_error = "column big: default of type 1184";
  auto row = DecodeTuple(*tv, ctx);
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(row.status().message().find("column big: default of type 1184"), std::string::npos);
  EXPECT_NE(row.status().message().find("0/10"), std::string::npos);
}

TEST(TupleTest, TooManyAttributesIsAnError) {
  RelationDesc d = Desc();
  d.attrs.resize(1);
  std::vector<uint8_t> t = Tuple({"1", "2"}, {true, true});
  auto tv = ParseHeapTuple(t.data(), t.size());
  TupleContext ctx{&d, 0x10, ExternalPolicy::kError, nullptr};
  EXPECT_FALSE(DecodeTuple(*tv, ctx).ok());
}

TEST(TextFormatTest, OutputFunctions) {
  EXPECT_EQ(ValueToText(Value::Int(TypeId::kDate, 0)), "2000-01-01");
  EXPECT_EQ(ValueToText(Value::Int(TypeId::kDate, 8825)), "2024-02-29");
  EXPECT_EQ(ValueToText(Value::Int(TypeId::kDate, -730120)), "0001-12-31 BC");
  EXPECT_EQ(ValueToText(Value::Int(TypeId::kTime, 47655123456)), "13:14:15.123456");
  EXPECT_EQ(ValueToText(Value::Int(TypeId::kTimestamptz, 0)), "2000-01-01 00:00:00+00");
  Value f = Value::Int(TypeId::kFloat8, 0);
  f.f = 1e100;
  EXPECT_EQ(ValueToText(f), "1e+100");
  f.f = 0.1;
  EXPECT_EQ(ValueToText(f), "0.1");
  f.f = 123456.789;
  EXPECT_EQ(ValueToText(f), "123456.789");
  f.f = 1.5e-5;
  EXPECT_EQ(ValueToText(f), "1.5e-05");
  Value f4 = Value::Int(TypeId::kFloat4, 0);
  f4.f = 1234567.0f;
  EXPECT_EQ(ValueToText(f4), "1.234567e+06");
  EXPECT_EQ(ValueToText(Value::Str(TypeId::kBytea, "\xde\xad")), "\\xdead");
}

}  // namespace
}  // namespace pgt::test
