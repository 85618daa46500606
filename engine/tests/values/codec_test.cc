// Row codec, ordered keys and row ids.
#include "values/codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "values/compare.h"
#include "values/row_id.h"
#include "values/text_io.h"

namespace pgt::values {
namespace {

std::string Key(const Value& v) {
  std::string out;
  EncodeOrderedKey(v, &out);
  return out;
}

TEST(Codec, RowRoundTripEveryType) {
  Row row;
  for (uint8_t t = 0; t <= static_cast<uint8_t>(TypeId::kJsonb); t++) {
    TypeId type = static_cast<TypeId>(t);
    row.push_back(Value::Null(type));
    Value v;
    v.type = type;
    v.is_null = false;
    switch (type) {
      case TypeId::kFloat4: case TypeId::kFloat8: v.f = -1.25e-300; break;
      case TypeId::kBool: case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8:
      case TypeId::kOid: case TypeId::kDate: case TypeId::kTime: case TypeId::kTimestamp:
      case TypeId::kTimestamptz:
        v.i = t % 2 ? INT64_MIN : INT64_MAX - t;
        break;
      default: v.s = std::string("pay\0load", 8) + std::to_string(t);
    }
    row.push_back(v);
    Value toast = v;
    toast.unchanged_toast = true;
    toast.s.clear();
    row.push_back(toast);
  }
  std::string enc;
  EncodeRow(row, &enc);
  auto back = DecodeRow(enc);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), row);
  EXPECT_FALSE(DecodeRow(enc.substr(0, enc.size() - 1)).ok());
  EXPECT_FALSE(DecodeRow(enc + "x").ok());
  std::string empty;
  EncodeRow({}, &empty);
  EXPECT_EQ(DecodeRow(empty).value().size(), 0u);
}

TEST(Codec, NumericKeysIgnoreScale) {
  auto num = [](const char* s) { return Value::Str(TypeId::kNumeric, s); };
  EXPECT_EQ(Key(num("1.5")), Key(num("1.50")));
  EXPECT_EQ(Key(num("0")), Key(num("0.000")));
  EXPECT_EQ(Key(num("-100")), Key(num("-100.0")));
  std::vector<const char*> sorted = {"-Infinity", "-1e20", "-10", "-2", "-1.5", "-1.49", "-0.001",
                                     "0", "0.001", "0.0011", "1", "1.5", "2", "10", "10.01",
                                     "99", "100", "1e20", "Infinity", "NaN"};
  for (size_t i = 0; i + 1 < sorted.size(); i++)
    EXPECT_LT(Key(num(sorted[i])), Key(num(sorted[i + 1]))) << sorted[i] << " vs " << sorted[i + 1];
}

TEST(Codec, TextKeysAndNulls) {
  auto txt = [](std::string s) { return Value::Str(TypeId::kText, std::move(s)); };
  EXPECT_LT(Key(Value::Null(TypeId::kText)), Key(txt("")));
  EXPECT_LT(Key(txt("")), Key(txt(std::string(1, '\0'))));
  EXPECT_LT(Key(txt(std::string("a\0", 2))), Key(txt("a\x01")));
  EXPECT_LT(Key(txt("ab")), Key(txt("abc")));
  EXPECT_EQ(Key(Value::Str(TypeId::kBpchar, "ab  ")), Key(Value::Str(TypeId::kBpchar, "ab")));
  // Injective tuples: ("a", "b") vs ("ab", "").
  std::string k1, k2;
  EncodeKeyTuple({txt("a"), txt("b")}, &k1);
  EncodeKeyTuple({txt("ab"), txt("")}, &k2);
  EXPECT_NE(k1, k2);
}

// Random values of one type: sorting by encoding agrees with CompareValues.
void CheckOrder(std::vector<Value> vals) {
  for (size_t i = 0; i < vals.size(); i++) {
    for (size_t j = 0; j < vals.size(); j += 7) {
      auto c = CompareValues(vals[i], vals[j]);
      ASSERT_TRUE(c.ok()) << c.status().message();
      std::string ki = Key(vals[i]), kj = Key(vals[j]);
      int k = ki < kj ? -1 : (ki == kj ? 0 : 1);
      ASSERT_EQ(k, c.value()) << FormatText(vals[i]) << " vs " << FormatText(vals[j]);
    }
  }
}

TEST(Codec, OrderedKeysMatchCompareOnRandomValues) {
  std::mt19937_64 rng(1234);
  std::vector<Value> ints, nums, floats, texts, dates, tss, bools;
  for (int i = 0; i < 400; i++) {
    int64_t x = static_cast<int64_t>(rng());
    ints.push_back(Value::Int(i % 3 ? TypeId::kInt8 : TypeId::kInt4, i % 2 ? x : x % 1000));
    // numeric: random digits and scale, sometimes special
    std::string s = (rng() % 2 ? "-" : "");
    int nd = 1 + rng() % 25;
    for (int d = 0; d < nd; d++) s.push_back(static_cast<char>('0' + rng() % (d == 0 ? 3 : 10)));
    int scale = rng() % 8;
    if (scale < nd) s.insert(s.size() - scale, ".");
    static const char* const kSpecial[] = {"NaN", "Infinity", "-Infinity", "0.00"};
    if (rng() % 25 == 0) s = kSpecial[rng() % 4];
    auto parsed = ParseText(TypeId::kNumeric, s);
    ASSERT_TRUE(parsed.ok()) << s;
    nums.push_back(parsed.value());
    double f = std::ldexp(static_cast<double>(static_cast<int64_t>(rng())), static_cast<int>(rng() % 200) - 100);
    static const double kSpecialF[] = {0.0, -0.0, std::nan(""), INFINITY, -INFINITY};
    if (rng() % 30 == 0) f = kSpecialF[rng() % 5];
    floats.push_back(Value{TypeId::kFloat8, false, false, 0, f, {}});
    std::string t(rng() % 6, 'a');
    for (char& c : t) c = static_cast<char>(rng() % 4);  // includes 0x00 bytes
    texts.push_back(Value::Str(i % 2 ? TypeId::kText : TypeId::kVarchar, t));
    dates.push_back(Value::Int(TypeId::kDate, static_cast<int32_t>(rng())));
    tss.push_back(Value::Int(TypeId::kTimestamp, static_cast<int64_t>(rng())));
    bools.push_back(Value::Bool(rng() % 2));
  }
  CheckOrder(ints);
  CheckOrder(nums);
  CheckOrder(floats);
  CheckOrder(texts);
  CheckOrder(dates);
  CheckOrder(tss);
  CheckOrder(bools);
}

TEST(RowId, StableAndScaleIndependent) {
  Row a = {Value::Str(TypeId::kText, "eu"), Value::Str(TypeId::kNumeric, "1.5")};
  Row b = {Value::Str(TypeId::kText, "eu"), Value::Str(TypeId::kNumeric, "1.50")};
  Row c = {Value::Str(TypeId::kText, "eu"), Value::Str(TypeId::kNumeric, "1.51")};
  EXPECT_EQ(ComputeRowId(a), ComputeRowId(b));
  EXPECT_NE(ComputeRowId(a), ComputeRowId(c));
  EXPECT_NE(ComputeRowId({Value::Null(TypeId::kInt4)}), ComputeRowId({Value::Int(TypeId::kInt4, 0)}));
  // Pinned value: changing the encoding or seed changes every stored row id.
  EXPECT_EQ(FormatUuid(ComputeRowId({Value::Int(TypeId::kInt4, 1)})),
            "f178c590-fddb-94fa-e3bb-b32d93bc02dc");
  std::string u = FormatUuid(ComputeRowId(a));
  EXPECT_EQ(u.size(), 36u);
  EXPECT_EQ(u[8], '-');
  EXPECT_EQ(u[23], '-');
  EXPECT_EQ(FormatText(RowIdValue(ComputeRowId(a))), u);
}

}  // namespace
}  // namespace pgt::values
