// Date/time functions with PostgreSQL 15's semantics for date and timestamp (without time
// zone): EXTRACT(field FROM date|timestamp) → numeric for year, month, day, quarter, dow,
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

}  // namespace pgt::values
