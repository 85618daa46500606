// Arithmetic and casts on non-NULL values with PostgreSQL semantics (int2/int4/int8 checked per
// result type, numeric exact via Decimal, float8/float4 with overflow/underflow checks).
#include <cmath>
#include <limits>

#include "values/compare.h"
#include "values/datetime.h"
#include "values/decimal.h"
#include "values/expr.h"
#include "values/text_io.h"

namespace pgt::values {
namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

bool IsInt(TypeId t) { return FamilyOf(t) == Family::kInteger; }
bool IsFloat(TypeId t) { return t == TypeId::kFloat4 || t == TypeId::kFloat8; }
bool IsTextual(TypeId t) { return FamilyOf(t) == Family::kText; }

const char* IntName(TypeId t) {
  return t == TypeId::kInt2 ? "smallint" : t == TypeId::kInt4 ? "integer" : "bigint";
}

Status OutOfRange(TypeId t) { return Status::InvalidArgument(std::string(IntName(t)) + " out of range"); }
Status DivZero() { return Status::InvalidArgument("division by zero"); }

Result<Value> CheckedInt(Int128 v, TypeId t) {
  Int128 lo = INT64_MIN, hi = INT64_MAX;
  if (t == TypeId::kInt2) { lo = INT16_MIN; hi = INT16_MAX; }
  if (t == TypeId::kInt4) { lo = INT32_MIN; hi = INT32_MAX; }
  if (v < lo || v > hi) return OutOfRange(t);
  return Value::Int(t, static_cast<int64_t>(v));
}

Result<Decimal> ToDecimal(const Value& v) {
  if (v.type == TypeId::kNumeric) return Decimal::Parse(v.s);
  if (IsInt(v.type)) return Decimal::FromInt64(v.i);
  return Status::InvalidArgument(std::string("cannot use ") + TypeName(v.type) +
                                 " in numeric arithmetic");
}

Result<double> ToDouble(const Value& v) {
  if (IsFloat(v.type)) return v.f;
  if (IsInt(v.type)) return static_cast<double>(v.i);
  PGT_ASSIGN_OR_RETURN(Decimal d, ToDecimal(v));
  return d.ToDouble();
}

Value FloatValue(TypeId t, double f) {
  Value v;
  v.type = t;
  v.is_null = false;
  v.f = t == TypeId::kFloat4 ? static_cast<double>(static_cast<float>(f)) : f;
  return v;
}

Result<Value> FloatArith(OpFn op, double a, double b, TypeId t) {
  bool f4 = t == TypeId::kFloat4;
  auto narrow = [&](double x) { return f4 ? static_cast<double>(static_cast<float>(x)) : x; };
  double r = 0;
  switch (op) {
    case OpFn::kAdd: r = narrow(a + b); break;
    case OpFn::kSub: r = narrow(a - b); break;
    case OpFn::kMul: r = narrow(a * b); break;
    case OpFn::kDiv:
      if (b == 0.0 && !std::isnan(a)) return DivZero();
      r = narrow(a / b);
      break;
    default: return Status::InvalidArgument("operator not defined for floating point");
  }
  if (std::isinf(r) && !std::isinf(a) && !std::isinf(b))
    return Status::InvalidArgument("value out of range: overflow");
  if (r == 0.0 && ((op == OpFn::kMul && a != 0.0 && b != 0.0) ||
                   (op == OpFn::kDiv && a != 0.0 && !std::isinf(b))))
    return Status::InvalidArgument("value out of range: underflow");
  return FloatValue(t, r);
}

Result<Value> FloatToInt(double f, TypeId t) {
  double r = std::nearbyint(f);  // rint(): the default rounding mode, half to even
  double lo = t == TypeId::kInt2 ? INT16_MIN : t == TypeId::kInt4 ? INT32_MIN : -9223372036854775808.0;
  double hi_excl = t == TypeId::kInt2 ? 32768.0 : t == TypeId::kInt4 ? 2147483648.0 : 9223372036854775808.0;
  if (std::isnan(r) || r < lo || r >= hi_excl) return OutOfRange(t);
  return Value::Int(t, static_cast<int64_t>(r));
}

}  // namespace

Result<Value> Arith(OpFn op, const Value& a, const Value& b, TypeId result) {
  if (result == TypeId::kInt2 || result == TypeId::kInt4 || result == TypeId::kInt8) {
    if (!IsInt(a.type) || !IsInt(b.type))
      return Status::InvalidArgument(std::string("integer arithmetic on ") + TypeName(a.type) +
                                     " and " + TypeName(b.type));
    Int128 x = a.i, y = b.i;
    switch (op) {
      case OpFn::kAdd: return CheckedInt(x + y, result);
      case OpFn::kSub: return CheckedInt(x - y, result);
      case OpFn::kMul: return CheckedInt(x * y, result);
      case OpFn::kDiv:
        if (y == 0) return DivZero();
        return CheckedInt(x / y, result);   // truncates toward zero
      case OpFn::kMod:
        if (y == 0) return DivZero();
        return CheckedInt(x % y, result);   // sign of the dividend; INT_MIN % -1 = 0
      default: break;
    }
    return Status::InvalidArgument("not an arithmetic operator");
  }
  if (result == TypeId::kNumeric) {
    PGT_ASSIGN_OR_RETURN(Decimal x, ToDecimal(a));
    PGT_ASSIGN_OR_RETURN(Decimal y, ToDecimal(b));
    Decimal r;
    switch (op) {
      case OpFn::kAdd: r = x.Add(y); break;
      case OpFn::kSub: r = x.Sub(y); break;
      case OpFn::kMul: r = x.Mul(y); break;
      case OpFn::kDiv: { PGT_ASSIGN_OR_RETURN(r, x.Div(y)); break; }
      case OpFn::kMod: { PGT_ASSIGN_OR_RETURN(r, x.Mod(y)); break; }
      default: return Status::InvalidArgument("not an arithmetic operator");
    }
    return Value::Str(TypeId::kNumeric, r.ToString());
  }
  if (IsFloat(result)) {
    PGT_ASSIGN_OR_RETURN(double x, ToDouble(a));
    PGT_ASSIGN_OR_RETURN(double y, ToDouble(b));
    return FloatArith(op, x, y, result);
  }
  return Status::InvalidArgument(std::string("arithmetic with result type ") + TypeName(result));
}

Result<Value> Negate(const Value& a, TypeId result) {
  if (IsInt(result) && IsInt(a.type)) return CheckedInt(-static_cast<Int128>(a.i), result);
  if (result == TypeId::kNumeric) {
    PGT_ASSIGN_OR_RETURN(Decimal x, ToDecimal(a));
    return Value::Str(TypeId::kNumeric, x.Neg().ToString());
  }
  if (IsFloat(result)) {
    PGT_ASSIGN_OR_RETURN(double x, ToDouble(a));
    return FloatValue(result, -x);
  }
  return Status::InvalidArgument(std::string("cannot negate ") + TypeName(a.type));
}

bool CastSupported(TypeId from, TypeId to) {
  if (from == to) return from != TypeId::kUnknown;
  Family ff = FamilyOf(from), ft = FamilyOf(to);
  auto numberish = [](Family f) {
    return f == Family::kInteger || f == Family::kNumeric || f == Family::kFloat;
  };
  if ((from == TypeId::kOid || to == TypeId::kOid) && !(IsInt(from) && IsInt(to)) &&
      !IsTextual(from) && !IsTextual(to))
    return false;
  if (numberish(ff) && numberish(ft)) return true;
  if (IsTextual(to)) return from != TypeId::kUnknown && from != TypeId::kJsonb;
  if (IsTextual(from)) return to != TypeId::kUnknown && to != TypeId::kJsonb;
  if (from == TypeId::kDate && to == TypeId::kTimestamp) return true;
  if (from == TypeId::kTimestamp && (to == TypeId::kDate || to == TypeId::kTime)) return true;
  if ((from == TypeId::kBool && to == TypeId::kInt4) || (from == TypeId::kInt4 && to == TypeId::kBool))
    return true;
  return false;  // e.g. timestamp <-> timestamptz depends on the session TimeZone
}

Result<Value> CastValue(const Value& v, TypeId to) {
  TypeId from = v.type;
  if (!CastSupported(from, to))
    return Status::InvalidArgument(std::string("unsupported cast from ") + TypeName(from) +
                                   " to " + TypeName(to));
  if (from == to) return v;
  if (IsTextual(to)) {
    if (from == TypeId::kBool) return Value::Str(to, v.i ? "true" : "false");
    if (from == TypeId::kBpchar) return Value::Str(to, std::string(BpcharTrim(v.s)));
    if (IsTextual(from)) return Value::Str(to, v.s);
    return Value::Str(to, FormatText(v));
  }
  if (IsTextual(from))
    return ParseText(to, from == TypeId::kBpchar ? BpcharTrim(v.s) : std::string_view(v.s));
  if (from == TypeId::kBool) return Value::Int(to, v.i ? 1 : 0);
  if (to == TypeId::kBool) return Value::Bool(v.i != 0);
  if (from == TypeId::kDate) {
    PGT_ASSIGN_OR_RETURN(int64_t ts, DateToTimestamp(v.i));
    return Value::Int(to, ts);
  }
  if (from == TypeId::kTimestamp) {
    if (to == TypeId::kDate) return Value::Int(to, TimestampToDate(v.i));
    if (v.i == kTimestampNoBegin || v.i == kTimestampNoEnd)
      return Status::InvalidArgument("cannot convert infinite timestamp to time");  // PG: error
    int64_t tod = v.i % kUsecsPerDay;
    return Value::Int(to, tod < 0 ? tod + kUsecsPerDay : tod);
  }
  // Numeric families.
  if (IsInt(from)) {
    if (to == TypeId::kOid) {
      if (from == TypeId::kInt8 && (v.i < 0 || v.i > UINT32_MAX))
        return Status::InvalidArgument("OID out of range");
      return Value::Int(to, v.i < 0 ? v.i + (INT64_C(1) << 32) : v.i);
    }
    if (from == TypeId::kOid && to != TypeId::kInt8)  // oid -> int4 reinterprets the bits
      return CheckedInt(static_cast<int32_t>(static_cast<uint32_t>(v.i)), to);
    if (IsInt(to)) return CheckedInt(v.i, to);
    if (to == TypeId::kNumeric) return Value::Str(to, Decimal::FromInt64(v.i).ToString());
    return FloatValue(to, static_cast<double>(v.i));
  }
  if (from == TypeId::kNumeric) {
    PGT_ASSIGN_OR_RETURN(Decimal d, Decimal::Parse(v.s));
    if (IsInt(to)) {
      if (to == TypeId::kOid) return Status::InvalidArgument("unsupported cast from numeric to oid");
      PGT_ASSIGN_OR_RETURN(int64_t x, d.ToInt64(to));
      return Value::Int(to, x);
    }
    PGT_ASSIGN_OR_RETURN(double f, d.ToDouble(to == TypeId::kFloat4));
    return FloatValue(to, f);
  }
  // from float4/float8
  if (IsInt(to)) {
    if (to == TypeId::kOid) return Status::InvalidArgument("unsupported cast from float to oid");
    return FloatToInt(v.f, to);
  }
  if (to == TypeId::kNumeric) {
    PGT_ASSIGN_OR_RETURN(Decimal d, Decimal::FromDouble(v.f, from == TypeId::kFloat4));
    return Value::Str(to, d.ToString());
  }
  if (to == TypeId::kFloat4) {
    float r = static_cast<float>(v.f);
    if (std::isinf(r) && !std::isinf(v.f)) return Status::InvalidArgument("value out of range: overflow");
    if (r == 0.0f && v.f != 0.0) return Status::InvalidArgument("value out of range: underflow");
    return FloatValue(to, r);
  }
  return FloatValue(to, v.f);  // float4 -> float8
}

}  // namespace pgt::values
