// Date/time functions; semantics in date_funcs.h.
#include "values/date_funcs.h"

#include <algorithm>
#include <cstdio>

#include "values/datetime.h"

namespace pgt::values {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool IsTimeField(const std::string& f) { return f == "hour" || f == "minute" || f == "second"; }

bool Infinite(const Value& v) {
  return v.type == TypeId::kDate ? (v.i == kDateNoBegin || v.i == kDateNoEnd)
                                 : (v.i == kTimestampNoBegin || v.i == kTimestampNoEnd);
}

Value Num(int64_t x) { return Value::Str(TypeId::kNumeric, std::to_string(x)); }

}  // namespace

bool ExtractSupported(const std::string& f, TypeId type) {
  bool date_field = f == "year" || f == "month" || f == "day" || f == "quarter" || f == "dow" ||
                    f == "isodow" || f == "doy";
  if (type == TypeId::kDate) return date_field;
  return (type == TypeId::kTimestamp || type == TypeId::kTimestamptz) && (date_field || IsTimeField(f));
}

bool DateTruncSupported(const std::string& u) {
  return u == "year" || u == "quarter" || u == "month" || u == "week" || u == "day" || u == "hour" ||
         u == "minute" || u == "second";
}

Result<Value> Extract(const std::string& f, const Value& v) {
  if (!ExtractSupported(f, v.type)) return Status::Unsupported("EXTRACT " + f + " from " + TypeName(v.type));
  if (Infinite(v)) {
    bool neg = v.type == TypeId::kDate ? v.i == kDateNoBegin : v.i == kTimestampNoBegin;
    if (f == "year") return Value::Str(TypeId::kNumeric, neg ? "-Infinity" : "Infinity");
    return Value::Null(TypeId::kNumeric);
  }
  int64_t days = v.type == TypeId::kDate ? v.i : FloorDiv(v.i, kUsecsPerDay);
  int64_t tod = v.type == TypeId::kDate ? 0 : v.i - days * kUsecsPerDay;
  int64_t y;
  int m, d;
  CivilFromDays(days + 10957, &y, &m, &d);
  if (f == "year") return Num(y > 0 ? y : y - 1);   // no year 0: 1 BC is -1
  if (f == "month") return Num(m);
  if (f == "day") return Num(d);
  if (f == "quarter") return Num((m - 1) / 3 + 1);
  int64_t dow = ((days + 6) % 7 + 7) % 7;           // 2000-01-01 was a Saturday; Sunday = 0
  if (f == "dow") return Num(dow);
  if (f == "isodow") return Num(dow == 0 ? 7 : dow);
  if (f == "doy") return Num(days - PgDaysFromCivil(y, 1, 1) + 1);
  if (f == "hour") return Num(tod / INT64_C(3600000000));
  if (f == "minute") return Num(tod / 60000000 % 60);
  int64_t us = tod % 60000000;                      // second: numeric with 6 decimals
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(us / 1000000), static_cast<long long>(us % 1000000));
  return Value::Str(TypeId::kNumeric, buf);
}

Result<Value> DateTrunc(const std::string& u, const Value& ts) {
  if (!DateTruncSupported(u)) return Status::Unsupported("date_trunc unit " + u);
  if (Infinite(ts)) return ts;
  int64_t days = FloorDiv(ts.i, kUsecsPerDay);
  int64_t tod = ts.i - days * kUsecsPerDay;
  int64_t y;
  int m, d;
  CivilFromDays(days + 10957, &y, &m, &d);
  int64_t out_days = days, out_tod = 0;
  if (u == "year") out_days = PgDaysFromCivil(y, 1, 1);
  else if (u == "quarter") out_days = PgDaysFromCivil(y, (m - 1) / 3 * 3 + 1, 1);
  else if (u == "month") out_days = PgDaysFromCivil(y, m, 1);
  else if (u == "week") out_days = days - (((days + 5) % 7 + 7) % 7);   // back to Monday
  else if (u == "hour") out_tod = tod / INT64_C(3600000000) * INT64_C(3600000000);
  else if (u == "minute") out_tod = tod / 60000000 * 60000000;
  else if (u == "second") out_tod = tod / 1000000 * 1000000;
  return Value::Int(ts.type, out_days * kUsecsPerDay + out_tod);
}

Result<Value> DateAddDays(const Value& date, int64_t n) {
  if (date.i == kDateNoBegin || date.i == kDateNoEnd) return date;
  int64_t r = date.i + n;
  if (r < kMinDate || r >= kEndDate) return Status::InvalidArgument("date out of range");
  return Value::Int(TypeId::kDate, r);
}

Result<Value> TimestampAddInterval(const Value& in, int64_t months, int64_t days, int64_t usecs) {
  int64_t t = in.i;
  if (in.type == TypeId::kDate) {
    PGT_ASSIGN_OR_RETURN(t, DateToTimestamp(in.i));
  }
  const TypeId type = in.type == TypeId::kTimestamptz ? TypeId::kTimestamptz : TypeId::kTimestamp;
  if (t == kTimestampNoBegin || t == kTimestampNoEnd) return Value::Int(type, t);
  const Status out_of_range = Status::InvalidArgument("timestamp out of range");
  auto split = [](int64_t ts, int64_t* day, int64_t* tod) {
    *day = FloorDiv(ts, kUsecsPerDay);
    *tod = ts - *day * kUsecsPerDay;
  };
  auto join = [&](int64_t day, int64_t tod, int64_t* ts) {
    if (__builtin_mul_overflow(day, kUsecsPerDay, ts) || __builtin_add_overflow(*ts, tod, ts)) return false;
    return *ts >= kMinTimestamp && *ts < kEndTimestamp;
  };
  int64_t day, tod;
  if (months != 0) {
    split(t, &day, &tod);
    int64_t y;
    int m, d;
    CivilFromDays(day + 10957, &y, &m, &d);
    int64_t mon = m + months;   // as timestamp_pl_interval normalizes tm_mon
    if (mon > 12) {
      y += (mon - 1) / 12;
      mon = (mon - 1) % 12 + 1;
    } else if (mon < 1) {
      y += mon / 12 - 1;
      mon = mon % 12 + 12;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int last = kDays[mon - 1] + (mon == 2 && leap ? 1 : 0);
    if (!join(PgDaysFromCivil(y, static_cast<int>(mon), std::min(d, last)), tod, &t)) return out_of_range;
  }
  if (days != 0) {
    split(t, &day, &tod);
    if (!join(day + days, tod, &t)) return out_of_range;
  }
  if (__builtin_add_overflow(t, usecs, &t) || t < kMinTimestamp || t >= kEndTimestamp) return out_of_range;
  return Value::Int(type, t);
}

}  // namespace pgt::values
