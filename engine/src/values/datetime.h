// Date/time text forms and calendar math with PostgreSQL semantics (DateStyle ISO, proleptic
// Gregorian calendar, year 0 = 1 BC). Representations follow walreader/value.h:
//   date        days since 2000-01-01 (INT32_MIN / INT32_MAX = -infinity / infinity)
//   timestamp   microseconds since 2000-01-01 00:00:00 (INT64_MIN / INT64_MAX = infinities)
//   timestamptz the same, in UTC; printed with "+00" (TimeZone = UTC)
//   time        microseconds since midnight (0 .. 24:00:00 inclusive)
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "walreader/status.h"

namespace pgt::values {

constexpr int64_t kUsecsPerDay = INT64_C(86400000000);
constexpr int32_t kDateNoBegin = INT32_MIN;
constexpr int32_t kDateNoEnd = INT32_MAX;
constexpr int64_t kTimestampNoBegin = INT64_MIN;
constexpr int64_t kTimestampNoEnd = INT64_MAX;
// Valid ranges (PostgreSQL datatype/timestamp.h): dates from 4714-11-24 BC to 5874897-12-31,
// timestamps from 4714-11-24 00:00 BC to before 294277-01-01 00:00.
constexpr int64_t kMinDate = -2451545;                       // Julian day 0
constexpr int64_t kEndDate = INT64_C(2147483494) - 2451545;  // exclusive
constexpr int64_t kMinTimestamp = INT64_C(-211813488000000000);
constexpr int64_t kEndTimestamp = INT64_C(9223371331200000000);  // exclusive

// Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbering).
int64_t DaysFromCivil(int64_t y, int m, int d);
void CivilFromDays(int64_t z, int64_t* y, int* m, int* d);
// Days since 2000-01-01 (PostgreSQL's epoch).
inline int64_t PgDaysFromCivil(int64_t y, int m, int d) { return DaysFromCivil(y, m, d) - 10957; }

std::string FormatDate(int64_t days);
std::string FormatTimestamp(int64_t usecs, bool with_tz);
std::string FormatTime(int64_t usecs);

Result<int64_t> ParseDate(std::string_view text);
Result<int64_t> ParseTimestamp(std::string_view text, bool with_tz);
Result<int64_t> ParseTime(std::string_view text);

// date -> timestamp at midnight (infinities kept); "date out of range for timestamp".
Result<int64_t> DateToTimestamp(int64_t days);
// timestamp -> date (floor; infinities kept).
int64_t TimestampToDate(int64_t usecs);

}  // namespace pgt::values
