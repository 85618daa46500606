// Decimal: PostgreSQL `numeric` semantics (PG 15 numeric.c), reimplemented on an arbitrary
// precision integer.
//
// A finite value is unscaled * 10^-dscale where dscale is PostgreSQL's display scale (the number
// of digits numeric_out prints after the point; 1.5 and 1.50 are equal but print differently).
// Special values: NaN, +Infinity, -Infinity with PostgreSQL's rules (NaN op x = NaN,
// Inf - Inf = NaN, Inf * 0 = NaN, x / Inf = 0; NaN sorts above everything and equals NaN).
// Results follow PostgreSQL's result scales: add/sub -> max(dscale), mul -> sum of dscales,
// div -> select_div_scale() rounded half away from zero, mod -> max(dscale).
// Values are immutable after construction; safe to share between threads for reading.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/multiprecision/cpp_int.hpp>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

using BigInt = boost::multiprecision::cpp_int;

class Decimal {
 public:
  enum class Kind : uint8_t { kFinite, kNaN, kPosInf, kNegInf };

  Decimal() = default;  // 0 (dscale 0)
  Decimal(BigInt unscaled, int32_t dscale) : unscaled_(std::move(unscaled)), dscale_(dscale) {}
  static Decimal NaN() { return Special(Kind::kNaN); }
  static Decimal PosInf() { return Special(Kind::kPosInf); }
  static Decimal NegInf() { return Special(Kind::kNegInf); }
  static Decimal FromInt64(int64_t v) { return Decimal(BigInt(v), 0); }

  // numeric_in: optional surrounding whitespace, sign, digits with one optional '.', optional
  // exponent (e/E, signed); "NaN", "[+-]Infinity", "[+-]inf" case-insensitively.
  static Result<Decimal> Parse(std::string_view text);
  // float8_numeric / float4_numeric: the value printed with 15 (float8) or 6 (float4)
  // significant digits, then parsed; NaN/Infinity map to the numeric specials.
  static Result<Decimal> FromDouble(double v, bool is_float4 = false);

  // numeric_out: exactly dscale digits after the point; never "-0".
  std::string ToString() const;

  Decimal Add(const Decimal& o) const;
  Decimal Sub(const Decimal& o) const;
  Decimal Mul(const Decimal& o) const;
  Result<Decimal> Div(const Decimal& o) const;   // "division by zero"
  Result<Decimal> Mod(const Decimal& o) const;   // "division by zero"
  Decimal Neg() const;

  // cmp_numerics: -1/0/1; NaN == NaN and NaN > everything; scale does not matter.
  int Compare(const Decimal& o) const;

  // numeric_int2/int4/int8: rounds half away from zero; `target` is kInt2, kInt4 or kInt8
  // (anything else is treated as kInt8). Errors: "cannot convert NaN to integer",
  // "cannot convert infinity to bigint", "smallint out of range", ...
  Result<int64_t> ToInt64(TypeId target = TypeId::kInt8) const;
  // numeric_float8 / numeric_float4: the correctly rounded double (float) of the text form;
  // error when out of range, as float8in/float4in report it.
  Result<double> ToDouble(bool is_float4 = false) const;

  Kind kind() const { return kind_; }
  bool is_finite() const { return kind_ == Kind::kFinite; }
  bool is_nan() const { return kind_ == Kind::kNaN; }
  // -1, 0, 1 (NaN -> 0, infinities -> -1/1).
  int Sign() const;
  const BigInt& unscaled() const { return unscaled_; }
  int32_t dscale() const { return dscale_; }

  // The value with trailing fractional zeros removed from the unscaled integer: returns the
  // significant digits of |value| (no leading/trailing zeros; empty for zero) and the exponent
  // E such that |value| = 0.<digits> * 10^E. Used for scale-independent key encodings.
  void Normalized(std::string* digits, int32_t* exponent) const;

 private:
  static Decimal Special(Kind k) { Decimal d; d.kind_ = k; return d; }
  Kind kind_ = Kind::kFinite;
  BigInt unscaled_ = 0;
  int32_t dscale_ = 0;
};

// 10^n as a BigInt (cached for small n).
BigInt Pow10(int32_t n);

}  // namespace pgt::values
