// Date/time functions against results printed by PostgreSQL 15.
#include <gtest/gtest.h>

#include "values/date_funcs.h"
#include "values/datetime.h"
#include "values/text_io.h"

namespace pgt::values {
namespace {

Value D(const char* s) { return Value::Int(TypeId::kDate, *ParseDate(s)); }
Value Ts(const char* s) { return Value::Int(TypeId::kTimestamp, *ParseTimestamp(s, false)); }
std::string X(const char* f, const Value& v) {
  auto r = Extract(f, v);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? (r->is_null ? "NULL" : r->s) : "<error>";
}

TEST(DateFuncsTest, ExtractFromDateAndTimestamp) {
  EXPECT_EQ(X("year", D("2024-03-15")), "2024");
  EXPECT_EQ(X("quarter", D("2024-03-15")), "1");
  EXPECT_EQ(X("doy", D("2024-03-15")), "75");
  EXPECT_EQ(X("dow", D("2024-03-15")), "5");        // a Friday
  EXPECT_EQ(X("dow", D("2024-03-17")), "0");        // Sunday
  EXPECT_EQ(X("isodow", D("2024-03-17")), "7");
  EXPECT_EQ(X("month", D("1999-12-31")), "12");
  EXPECT_EQ(X("year", D("0001-01-01 BC")), "-1");   // no year 0
  EXPECT_EQ(X("second", Ts("2024-03-15 10:20:30.5")), "30.500000");
  EXPECT_EQ(X("hour", Ts("2024-03-15 10:20:30.5")), "10");
  EXPECT_EQ(X("minute", Ts("1969-07-20 20:17:40")), "17");
  EXPECT_EQ(X("day", Ts("1969-07-20 20:17:40")), "20");
  EXPECT_EQ(X("year", Value::Int(TypeId::kDate, kDateNoEnd)), "Infinity");
  EXPECT_EQ(X("month", Value::Int(TypeId::kDate, kDateNoEnd)), "NULL");
  EXPECT_FALSE(Extract("hour", D("2024-03-15")).ok());
}

TEST(DateFuncsTest, DateTruncAndDayArithmetic) {
  auto tr = [](const char* u, const char* ts) { return FormatText(*DateTrunc(u, Ts(ts))); };
  EXPECT_EQ(tr("week", "2024-03-15 10:20:00"), "2024-03-11 00:00:00");
  EXPECT_EQ(tr("week", "2024-03-11 00:00:00"), "2024-03-11 00:00:00");
  EXPECT_EQ(tr("quarter", "2024-08-15 10:20:00"), "2024-07-01 00:00:00");
  EXPECT_EQ(tr("hour", "1969-12-31 23:59:59.9"), "1969-12-31 23:00:00");
  EXPECT_EQ(tr("second", "2024-03-15 10:20:30.5"), "2024-03-15 10:20:30");
  EXPECT_EQ(FormatText(*DateAddDays(D("2024-02-28"), 1)), "2024-02-29");
  EXPECT_EQ(FormatText(*DateAddDays(D("2024-03-01"), -1)), "2024-02-29");
  EXPECT_FALSE(DateAddDays(D("5874897-12-31"), 1).ok());   // date out of range
}

// timestamp|date ± interval: expected values printed by PostgreSQL 15 (SELECT t + i / t - i).
TEST(DateFuncsTest, TimestampPlusConstantInterval) {
  // months, days, microseconds as the compiler passes them ("-" negates every field)
  auto add = [](const Value& t, int64_t mon, int64_t day, int64_t us) {
    auto r = TimestampAddInterval(t, mon, day, us);
    return r.ok() ? FormatText(*r) : "error: " + r.status().message();
  };
  const int64_t h = INT64_C(3600000000);
  EXPECT_EQ(add(Ts("2024-01-31 10:00"), 1, 0, 0), "2024-02-29 10:00:00");
  EXPECT_EQ(add(Ts("2023-01-31"), 1, 0, 0), "2023-02-28 00:00:00");
  EXPECT_EQ(add(Ts("2024-03-31 00:00"), -1, 0, 0), "2024-02-29 00:00:00");
  EXPECT_EQ(add(Ts("2024-02-29 12:00"), 12, 0, 0), "2025-02-28 12:00:00");
  EXPECT_EQ(add(Ts("2024-01-01"), -13, 0, 0), "2022-12-01 00:00:00");
  EXPECT_EQ(add(Ts("2024-03-10 23:30"), 0, 1, h), "2024-03-12 00:30:00");
  EXPECT_EQ(add(Ts("2024-01-01 00:00"), 1, -1, 0), "2024-01-31 00:00:00");
  EXPECT_EQ(add(Ts("2024-05-31 00:00"), -25, -3, -4500000), "2022-04-26 23:59:55.5");
  EXPECT_EQ(add(Ts("0001-01-31 00:00 BC"), 1, 0, 0), "0001-02-29 00:00:00 BC");
  EXPECT_EQ(add(Ts("0001-12-15 00:00 BC"), 1, 0, 0), "0001-01-15 00:00:00");
  EXPECT_EQ(add(Ts("2024-01-15 12:00"), 0, 0, -36 * h), "2024-01-14 00:00:00");
  EXPECT_EQ(add(Ts("2000-02-29 00:00"), 1200, 0, 0), "2100-02-28 00:00:00");
  EXPECT_EQ(add(Ts("2024-12-31 23:59:59.999999"), 0, 0, 1), "2025-01-01 00:00:00");
  EXPECT_EQ(add(Value::Int(TypeId::kTimestamp, kTimestampNoEnd), 0, 1, 0), "infinity");
  EXPECT_EQ(add(Value::Int(TypeId::kTimestamp, kTimestampNoBegin), -1, 0, 0), "-infinity");
  EXPECT_EQ(add(D("2024-01-31"), 1, 0, 2 * h), "2024-02-29 02:00:00");
  EXPECT_EQ(add(D("2024-03-01"), 0, -1, 0), "2024-02-29 00:00:00");
  EXPECT_EQ(add(Ts("294276-12-31 23:00"), 0, 0, 2 * h), "error: timestamp out of range");
  EXPECT_EQ(add(Ts("4714-11-25 00:00 BC"), 0, -2, 0), "error: timestamp out of range");
  EXPECT_EQ(add(Ts("4714-11-25 00:00 BC"), 0, -1, 0), "4714-11-24 00:00:00 BC");
}

}  // namespace
}  // namespace pgt::values
