// Comparison of two non-NULL values of one comparable family, with PostgreSQL's semantics:
//   integers (int2/int4/int8/oid) and numeric, mixed, compared exactly by value;
//   float4/float8 (and integers/numeric against floats, as float8): NaN equals NaN and sorts
//     above everything, -0 == 0;
//   text/varchar/bpchar: byte order (collation "C"); bpchar ignores trailing spaces;
//   bool: false < true;   date/timestamp/timestamptz: date promoted to midnight (timestamptz
//   values are UTC, a timestamp is taken as UTC);   time;   uuid and bytea: byte order.
// Incomparable families -> InvalidArgument naming both types. NULLs: the caller's business.
#pragma once

#include <string_view>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

enum class Family { kNone, kInteger, kNumeric, kFloat, kText, kBool, kDateTime, kTime, kUuid,
                    kBytea };
Family FamilyOf(TypeId t);
// Whether CompareValues accepts values of these two types.
bool Comparable(TypeId a, TypeId b);

Result<int> CompareValues(const Value& a, const Value& b);

// bpchar's significant content (trailing spaces removed).
std::string_view BpcharTrim(std::string_view s);

}  // namespace pgt::values
