// Date/time functions with PostgreSQL 15's semantics for date and timestamp (without time
// zone) — and timestamptz under TimeZone UTC (the compiler rejects other TimeZones): EXTRACT(field FROM date|timestamp) → numeric for year, month, day, quarter, dow,
// isodow, doy, hour, minute, second (the time fields for timestamp only: the compiler rejects
// them on date, as PostgreSQL does), date_trunc(unit, timestamp) for year, quarter, month,
// week, day, hour, minute, second, and date ± integer days. Infinite inputs: EXTRACT(year)
// is ±Infinity, other fields NULL; date_trunc and date ± n keep them.
#pragma once

#include <string>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

// Whether EXTRACT supports `field` for `type` (date or timestamp).
bool ExtractSupported(const std::string& field, TypeId type);
bool DateTruncSupported(const std::string& unit);

Result<Value> Extract(const std::string& field, const Value& v);
Result<Value> DateTrunc(const std::string& unit, const Value& ts);
Result<Value> DateAddDays(const Value& date, int64_t days);
// timestamp_pl_interval (PostgreSQL 15) with the interval's fields: months first (the day of
// month clamped to the month's length), then days (calendar days), then microseconds; infinite
// timestamps are kept; a date argument is promoted to timestamp first (date_pl_interval).
// "timestamp out of range" as PostgreSQL. timestamptz (result timestamptz) is computed in UTC,
// which is the server's result under a TimeZone of fixed offset 0 (the compiler requires it).
Result<Value> TimestampAddInterval(const Value& ts, int64_t months, int64_t days, int64_t usecs);

}  // namespace pgt::values
