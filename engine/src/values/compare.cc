// Value comparison (see compare.h).
#include "values/compare.h"

#include <cmath>
#include <cstring>

#include "values/datetime.h"
#include "values/decimal.h"

namespace pgt::values {
namespace {

int Cmp3(auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); }

int CompareBytes(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  int c = n ? std::memcmp(a.data(), b.data(), n) : 0;
  if (c != 0) return c < 0 ? -1 : 1;
  return Cmp3(a.size(), b.size());
}

// float8_cmp_internal: NaN == NaN, NaN > all.
int CompareDoubles(double a, double b) {
  if (std::isnan(a)) return std::isnan(b) ? 0 : 1;
  if (std::isnan(b)) return -1;
  return Cmp3(a, b);
}

Result<Decimal> AsDecimal(const Value& v) {
  if (v.type == TypeId::kNumeric) return Decimal::Parse(v.s);
  return Decimal::FromInt64(v.i);
}

Result<double> AsDouble(const Value& v) {
  switch (FamilyOf(v.type)) {
    case Family::kFloat: return v.f;
    case Family::kInteger: return static_cast<double>(v.i);
    default: break;
  }
  PGT_ASSIGN_OR_RETURN(Decimal d, Decimal::Parse(v.s));
  return d.ToDouble();
}

// A date beyond the timestamp range sorts after (before) every finite timestamp but before
// (after) +infinity (-infinity), as PostgreSQL 15's date_cmp_timestamp does; this maps such a
// date just inside the infinities.
int64_t AsTimestamp(const Value& v) {
  if (v.type != TypeId::kDate) return v.i;
  Result<int64_t> ts = DateToTimestamp(v.i);
  if (ts.ok()) return ts.value();
  return v.i > 0 ? kTimestampNoEnd - 1 : kTimestampNoBegin + 1;
}

}  // namespace

Family FamilyOf(TypeId t) {
  switch (t) {
    case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8: case TypeId::kOid:
      return Family::kInteger;
    case TypeId::kNumeric: return Family::kNumeric;
    case TypeId::kFloat4: case TypeId::kFloat8: return Family::kFloat;
    case TypeId::kText: case TypeId::kVarchar: case TypeId::kBpchar: return Family::kText;
    case TypeId::kBool: return Family::kBool;
    case TypeId::kDate: case TypeId::kTimestamp: case TypeId::kTimestamptz:
      return Family::kDateTime;
    case TypeId::kTime: return Family::kTime;
    case TypeId::kUuid: return Family::kUuid;
    case TypeId::kBytea: return Family::kBytea;
    default: return Family::kNone;
  }
}

bool Comparable(TypeId a, TypeId b) {
  Family fa = FamilyOf(a), fb = FamilyOf(b);
  if (fa == Family::kNone || fb == Family::kNone) return false;
  auto numberish = [](Family f) {
    return f == Family::kInteger || f == Family::kNumeric || f == Family::kFloat;
  };
  if (numberish(fa) && numberish(fb)) return true;
  return fa == fb;
}

std::string_view BpcharTrim(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == ' ') n--;
  return s.substr(0, n);
}

Result<int> CompareValues(const Value& a, const Value& b) {
  if (!Comparable(a.type, b.type))
    return Status::InvalidArgument(std::string("cannot compare ") + TypeName(a.type) + " with " +
                                   TypeName(b.type));
  Family fa = FamilyOf(a.type), fb = FamilyOf(b.type);
  if (fa == Family::kFloat || fb == Family::kFloat) {
    PGT_ASSIGN_OR_RETURN(double x, AsDouble(a));
    PGT_ASSIGN_OR_RETURN(double y, AsDouble(b));
    return CompareDoubles(x, y);
  }
  switch (fa) {
    case Family::kInteger:
    case Family::kNumeric: {
      if (fa == Family::kInteger && fb == Family::kInteger) return Cmp3(a.i, b.i);
      PGT_ASSIGN_OR_RETURN(Decimal x, AsDecimal(a));
      PGT_ASSIGN_OR_RETURN(Decimal y, AsDecimal(b));
      return x.Compare(y);
    }
    case Family::kText: {
      std::string_view x = a.s, y = b.s;
      if (a.type == TypeId::kBpchar) x = BpcharTrim(x);
      if (b.type == TypeId::kBpchar) y = BpcharTrim(y);
      return CompareBytes(x, y);
    }
    case Family::kBool: return Cmp3(a.i != 0, b.i != 0);
    case Family::kDateTime: {
      if (a.type == TypeId::kDate && b.type == TypeId::kDate) return Cmp3(a.i, b.i);
      return Cmp3(AsTimestamp(a), AsTimestamp(b));
    }
    case Family::kTime: return Cmp3(a.i, b.i);
    case Family::kUuid: case Family::kBytea: return CompareBytes(a.s, b.s);
    default: break;
  }
  return Status::Internal("unreachable comparison");
}

}  // namespace pgt::values
