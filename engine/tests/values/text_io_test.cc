// Text I/O and COPY TEXT: forms as PostgreSQL 15 prints them (DateStyle ISO, TimeZone UTC).
#include "values/text_io.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "values/datetime.h"

namespace pgt::values {
namespace {

Value P(TypeId t, std::string_view s) {
  Result<Value> r = ParseText(t, s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().message();
  return r.ok() ? r.value() : Value::Null(t);
}
std::string RoundTrip(TypeId t, std::string_view s) { return FormatText(P(t, s)); }
std::string Err(TypeId t, std::string_view s) {
  Result<Value> r = ParseText(t, s);
  return r.ok() ? "OK" : r.status().message();
}

TEST(TextIo, Integers) {
  EXPECT_EQ(P(TypeId::kInt4, " -42 ").i, -42);
  EXPECT_EQ(P(TypeId::kInt2, "-32768").i, -32768);
  EXPECT_EQ(Err(TypeId::kInt2, "32768"), "value \"32768\" is out of range for type smallint");
  EXPECT_EQ(Err(TypeId::kInt4, "2147483648"), "value \"2147483648\" is out of range for type integer");
  EXPECT_EQ(P(TypeId::kInt8, "-9223372036854775808").i, INT64_MIN);
  EXPECT_EQ(Err(TypeId::kInt8, "9223372036854775808"),
            "value \"9223372036854775808\" is out of range for type bigint");
  EXPECT_EQ(Err(TypeId::kInt4, "12a"), "invalid input syntax for type integer: \"12a\"");
  EXPECT_EQ(Err(TypeId::kInt4, ""), "invalid input syntax for type integer: \"\"");
  EXPECT_EQ(P(TypeId::kOid, "4294967295").i, 4294967295LL);
  EXPECT_EQ(RoundTrip(TypeId::kInt8, "+17"), "17");
}

TEST(TextIo, BoolAndNumeric) {
  EXPECT_EQ(RoundTrip(TypeId::kBool, "t"), "t");
  EXPECT_EQ(RoundTrip(TypeId::kBool, "FALSE"), "f");
  EXPECT_EQ(RoundTrip(TypeId::kBool, " yes"), "t");
  EXPECT_EQ(Err(TypeId::kBool, "maybe"), "invalid input syntax for type boolean: \"maybe\"");
  EXPECT_EQ(P(TypeId::kNumeric, "1.5e2").s, "150");
  EXPECT_EQ(P(TypeId::kNumeric, "-0.0").s, "0.0");
  EXPECT_EQ(P(TypeId::kNumeric, "inf").s, "Infinity");
}

TEST(TextIo, Floats) {
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "0.1"), "0.1");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "1e15"), "1e+15");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "1e14"), "100000000000000");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "0.00001"), "1e-05");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "0.0001"), "0.0001");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "123456789012345678"), "1.2345678901234568e+17");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "-0"), "-0");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "nan"), "NaN");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, " -Infinity "), "-Infinity");
  EXPECT_EQ(RoundTrip(TypeId::kFloat8, "1e-310"), "1e-310");
  EXPECT_EQ(Err(TypeId::kFloat8, "1e400"), "\"1e400\" is out of range for type double precision");
  EXPECT_EQ(Err(TypeId::kFloat8, "1x"), "invalid input syntax for type double precision: \"1x\"");
  EXPECT_EQ(RoundTrip(TypeId::kFloat4, "1000000"), "1e+06");
  EXPECT_EQ(RoundTrip(TypeId::kFloat4, "100000"), "100000");
  EXPECT_EQ(RoundTrip(TypeId::kFloat4, "123456789012"), "1.2345679e+11");
  EXPECT_EQ(RoundTrip(TypeId::kFloat4, "0.1"), "0.1");
  EXPECT_EQ(RoundTrip(TypeId::kFloat4, "1.5e-7"), "1.5e-07");
}

TEST(TextIo, Dates) {
  EXPECT_EQ(P(TypeId::kDate, "2000-01-01").i, 0);
  EXPECT_EQ(P(TypeId::kDate, "1970-01-01").i, -10957);
  EXPECT_EQ(RoundTrip(TypeId::kDate, "2024-02-29"), "2024-02-29");
  EXPECT_EQ(RoundTrip(TypeId::kDate, "0001-01-01 BC"), "0001-01-01 BC");
  EXPECT_EQ(P(TypeId::kDate, "0001-12-31 BC").i + 1, P(TypeId::kDate, "0001-01-01").i);
  EXPECT_EQ(RoundTrip(TypeId::kDate, "4714-11-24 BC"), "4714-11-24 BC");
  EXPECT_EQ(RoundTrip(TypeId::kDate, "0099-02-03"), "0099-02-03");
  EXPECT_EQ(RoundTrip(TypeId::kDate, "10000-01-01"), "10000-01-01");
  EXPECT_EQ(RoundTrip(TypeId::kDate, "5874897-12-31"), "5874897-12-31");
  EXPECT_EQ(RoundTrip(TypeId::kDate, "infinity"), "infinity");
  EXPECT_EQ(RoundTrip(TypeId::kDate, "-infinity"), "-infinity");
  EXPECT_EQ(P(TypeId::kDate, "infinity").i, INT32_MAX);
  EXPECT_EQ(Err(TypeId::kDate, "2024-02-30"), "date/time field value out of range: \"2024-02-30\"");
  EXPECT_EQ(Err(TypeId::kDate, "0000-01-01"), "date/time field value out of range: \"0000-01-01\"");
  EXPECT_EQ(Err(TypeId::kDate, "4714-11-23 BC"), "date out of range: \"4714-11-23 BC\"");
  EXPECT_EQ(Err(TypeId::kDate, "2024/01/01"), "invalid input syntax for type date: \"2024/01/01\"");
}

TEST(TextIo, Timestamps) {
  EXPECT_EQ(P(TypeId::kTimestamp, "2000-01-01 00:00:01").i, 1000000);
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "2024-05-06 07:08:09.5"), "2024-05-06 07:08:09.5");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "2024-05-06 07:08:09.000123"), "2024-05-06 07:08:09.000123");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "1999-12-31 23:59:59.9999995"), "2000-01-01 00:00:00");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "2020-01-01 12:00:00 BC"), "2020-01-01 12:00:00 BC");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "2024-01-01"), "2024-01-01 00:00:00");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "2024-01-01 10:00:00+05"), "2024-01-01 10:00:00");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "294276-12-31 23:59:59.999999"), "294276-12-31 23:59:59.999999");
  EXPECT_EQ(Err(TypeId::kTimestamp, "294277-01-01 00:00:00"),
            "timestamp out of range: \"294277-01-01 00:00:00\"");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "4714-11-24 00:00:00 BC"), "4714-11-24 00:00:00 BC");
  EXPECT_EQ(Err(TypeId::kTimestamp, "4714-11-23 23:59:59 BC"),
            "timestamp out of range: \"4714-11-23 23:59:59 BC\"");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamp, "infinity"), "infinity");
  EXPECT_EQ(P(TypeId::kTimestamp, "-infinity").i, INT64_MIN);
  EXPECT_EQ(RoundTrip(TypeId::kTimestamptz, "2024-01-01 10:00:00.123+05:30"), "2024-01-01 04:30:00.123+00");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamptz, "2024-01-01 10:00:00-0330"), "2024-01-01 13:30:00+00");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamptz, "2024-01-01T10:00:00Z"), "2024-01-01 10:00:00+00");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamptz, "0001-01-01 00:00:00+00 BC"), "0001-01-01 00:00:00+00 BC");
  EXPECT_EQ(RoundTrip(TypeId::kTimestamptz, "1970-01-01 00:00:00+00"), "1970-01-01 00:00:00+00");
  EXPECT_EQ(P(TypeId::kTimestamptz, "1970-01-01 00:00:00+00").i, -10957LL * 86400 * 1000000);
}

TEST(TextIo, Times) {
  EXPECT_EQ(RoundTrip(TypeId::kTime, "12:34:56.789"), "12:34:56.789");
  EXPECT_EQ(RoundTrip(TypeId::kTime, "00:00"), "00:00:00");
  EXPECT_EQ(RoundTrip(TypeId::kTime, "24:00:00"), "24:00:00");
  EXPECT_EQ(Err(TypeId::kTime, "24:00:00.000001"), "date/time field value out of range: \"24:00:00.000001\"");
  EXPECT_EQ(Err(TypeId::kTime, "noon"), "invalid input syntax for type time without time zone: \"noon\"");
}

TEST(TextIo, RandomDateAndTimestampRoundTrips) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> days(kMinDate, kEndDate - 1);
  std::uniform_int_distribution<int64_t> us(kMinTimestamp, kEndTimestamp - 1);
  for (int i = 0; i < 20000; i++) {
    Value d = Value::Int(TypeId::kDate, days(rng));
    Result<Value> back = ParseText(TypeId::kDate, FormatText(d));
    ASSERT_TRUE(back.ok()) << FormatText(d);
    ASSERT_EQ(back->i, d.i) << FormatText(d);
    for (TypeId t : {TypeId::kTimestamp, TypeId::kTimestamptz}) {
      Value ts = Value::Int(t, us(rng));
      Result<Value> b2 = ParseText(t, FormatText(ts));
      ASSERT_TRUE(b2.ok()) << FormatText(ts);
      ASSERT_EQ(b2->i, ts.i) << FormatText(ts);
    }
  }
}

TEST(TextIo, CivilDays) {
  for (int64_t z = -3000000; z < 3000000; z += 997) {
    int64_t y;
    int m, d;
    CivilFromDays(z, &y, &m, &d);
    ASSERT_EQ(DaysFromCivil(y, m, d), z);
  }
  EXPECT_EQ(DaysFromCivil(2000, 1, 1), 10957);
}

TEST(TextIo, ByteaUuid) {
  Value b = P(TypeId::kBytea, "\\x00ff10");
  EXPECT_EQ(b.s, std::string("\x00\xff\x10", 3));
  EXPECT_EQ(FormatText(b), "\\x00ff10");
  EXPECT_EQ(P(TypeId::kBytea, "a\\\\b\\001").s, std::string("a\\b\x01"));
  EXPECT_EQ(RoundTrip(TypeId::kUuid, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ(RoundTrip(TypeId::kUuid, "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_FALSE(ParseText(TypeId::kUuid, "a0eebc99").ok());
  EXPECT_FALSE(ParseText(TypeId::kJsonb, "{}").ok());
}

TEST(CopyText, EscapeAndSplitRoundTrip) {
  std::vector<Value> vals = {
      Value::Str(TypeId::kText, "a\tb\nc\\d\re"), Value::Null(TypeId::kInt4),
      Value::Str(TypeId::kText, "\\N"), Value::Str(TypeId::kText, ""),
      Value::Int(TypeId::kInt4, -5), Value::Str(TypeId::kText, std::string("\b\f\v x", 5))};
  std::string line;
  for (size_t i = 0; i < vals.size(); i++) {
    if (i) line.push_back('\t');
    AppendCopyText(&line, vals[i]);
  }
  EXPECT_EQ(line, "a\\tb\\nc\\\\d\\re\t\\N\t\\\\N\t\t-5\t\\b\\f\\v x");
  auto fields = SplitCopyTextLine(line);
  ASSERT_TRUE(fields.ok());
  ASSERT_EQ(fields->size(), vals.size());
  EXPECT_EQ((*fields)[0], "a\tb\nc\\d\re");
  EXPECT_FALSE((*fields)[1].has_value());
  EXPECT_EQ((*fields)[2], "\\N");
  EXPECT_EQ((*fields)[3], "");
  EXPECT_EQ((*fields)[4], "-5");
  EXPECT_EQ((*fields)[5], std::string("\b\f\v x", 5));
  auto odd = SplitCopyTextLine("\\101\\x41\\q");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ((*odd)[0], "AAq");
  EXPECT_FALSE(SplitCopyTextLine("abc\\").ok());
}

TEST(CopyText, RandomBytesRoundTrip) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; i++) {
    std::string s(rng() % 20, ' ');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    if (s.empty()) continue;
    std::string line;
    AppendCopyText(&line, Value::Str(TypeId::kText, s));
    auto f = SplitCopyTextLine(line);
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(f->size(), 1u);
    ASSERT_EQ((*f)[0], s);
  }
}

}  // namespace
}  // namespace pgt::values
