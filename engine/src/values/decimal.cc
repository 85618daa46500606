// Decimal: PostgreSQL numeric arithmetic (see decimal.h). Reimplemented from the rules of
// PostgreSQL 15 src/backend/utils/adt/numeric.c (numeric_in/out, numeric_add/sub/mul/div/mod,
// select_div_scale, cmp_numerics, numeric_int8) on boost::multiprecision::cpp_int.
#include "values/decimal.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace pgt::values {
namespace {

constexpr int kMinSigDigits = 16;      // NUMERIC_MIN_SIG_DIGITS
constexpr int kDecDigits = 4;          // DEC_DIGITS (NBASE = 10000)
constexpr int kMinDisplayScale = 0;    // NUMERIC_MIN_DISPLAY_SCALE
constexpr int kMaxDisplayScale = 1000; // NUMERIC_MAX_DISPLAY_SCALE
constexpr int kDscaleMax = 0x3FFF;     // NUMERIC_DSCALE_MAX
constexpr int kMaxExponent = 100000;   // sanity bound on parsed exponents

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Number of decimal digits of a non-negative integer (0 -> 1).
int32_t NumDigits(const BigInt& v) {
  if (v == 0) return 1;
  return static_cast<int32_t>(v.str().size());
}

// Rescale a finite unscaled value from scale `from` to scale `to`, rounding half away from zero
// when digits are dropped.
BigInt Rescale(const BigInt& u, int32_t from, int32_t to) {
  if (to >= from) return u * Pow10(to - from);
  BigInt p = Pow10(from - to);
  BigInt q = u / p;                  // truncates toward zero
  BigInt r = u % p;                  // sign follows u
  if (r < 0) r = -r;
  if (r * 2 >= p) q += (u < 0 ? -1 : 1);
  return q;
}

// Weight (base-10000 position) and value of the first nonzero NBASE digit, as PostgreSQL's
// NumericVar stores them; (0, 0) for zero.
void NbaseLead(const Decimal& d, int* weight, int* firstdigit) {
  *weight = 0;
  *firstdigit = 0;
  BigInt a = d.unscaled() < 0 ? BigInt(-d.unscaled()) : d.unscaled();
  if (a == 0) return;
  int32_t ds = d.dscale();
  int32_t d4 = (ds + kDecDigits - 1) / kDecDigits * kDecDigits;
  a *= Pow10(d4 - ds);
  int32_t nd = NumDigits(a);
  int32_t groups = (nd + kDecDigits - 1) / kDecDigits;
  BigInt top = a / Pow10((groups - 1) * kDecDigits);
  *firstdigit = static_cast<int>(top);
  *weight = (groups - 1) - d4 / kDecDigits;
}

int SelectDivScale(const Decimal& a, const Decimal& b) {
  int w1, f1, w2, f2;
  NbaseLead(a, &w1, &f1);
  NbaseLead(b, &w2, &f2);
  int qweight = w1 - w2;
  if (f1 <= f2) qweight--;
  int rscale = kMinSigDigits - qweight * kDecDigits;
  rscale = std::max(rscale, static_cast<int>(a.dscale()));
  rscale = std::max(rscale, static_cast<int>(b.dscale()));
  rscale = std::max(rscale, kMinDisplayScale);
  rscale = std::min(rscale, kMaxDisplayScale);
  return rscale;
}

Status SyntaxError(std::string_view text) {
  return Status::InvalidArgument("invalid input syntax for type numeric: \"" + std::string(text) +
                                 "\"");
}

}  // namespace

BigInt Pow10(int32_t n) {
  static const std::array<BigInt, 64> kSmall = [] {
    std::array<BigInt, 64> t;
    t[0] = 1;
    for (size_t i = 1; i < t.size(); i++) t[i] = t[i - 1] * 10;
    return t;
  }();
  if (n < 0) return 0;
  if (n < static_cast<int32_t>(kSmall.size())) return kSmall[n];
  return boost::multiprecision::pow(BigInt(10), static_cast<unsigned>(n));
}

Result<Decimal> Decimal::Parse(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (IEquals(s, "NaN")) return NaN();
  if (IEquals(s, "Infinity") || IEquals(s, "+Infinity") || IEquals(s, "inf") ||
      IEquals(s, "+inf"))
    return PosInf();
  if (IEquals(s, "-Infinity") || IEquals(s, "-inf")) return NegInf();

  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  std::string digits;
  int32_t frac = 0;
  bool seen_point = false, any_digit = false;
  for (; i < s.size(); i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (!(digits.empty() && c == '0')) digits.push_back(c);
      if (seen_point) frac++;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return SyntaxError(text);
  int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return SyntaxError(text);
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); i++) {
      exponent = exponent * 10 + (s[i] - '0');
      if (exponent > kMaxExponent) return SyntaxError(text);
    }
    if (eneg) exponent = -exponent;
  }
  if (i != s.size()) return SyntaxError(text);
  BigInt u = digits.empty() ? BigInt(0) : BigInt(digits);
  if (neg) u = -u;
  int64_t dscale = static_cast<int64_t>(frac) - exponent;
  if (dscale < 0) {
    u *= Pow10(static_cast<int32_t>(-dscale));
    dscale = 0;
  }
  if (dscale > kDscaleMax) {
    // PostgreSQL rounds such inputs to NUMERIC_DSCALE_MAX digits.
    u = Rescale(u, static_cast<int32_t>(dscale), kDscaleMax);
    dscale = kDscaleMax;
  }
  return Decimal(std::move(u), static_cast<int32_t>(dscale));
}

Result<Decimal> Decimal::FromDouble(double v, bool is_float4) {
  if (std::isnan(v)) return NaN();
  if (std::isinf(v)) return v > 0 ? PosInf() : NegInf();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", is_float4 ? 6 : 15, v);
  return Parse(buf);
}

std::string Decimal::ToString() const {
  switch (kind_) {
    case Kind::kNaN: return "NaN";
    case Kind::kPosInf: return "Infinity";
    case Kind::kNegInf: return "-Infinity";
    case Kind::kFinite: break;
  }
  bool neg = unscaled_ < 0;
  std::string digits = (neg ? BigInt(-unscaled_) : unscaled_).str();
  if (static_cast<int32_t>(digits.size()) <= dscale_)
    digits.insert(0, static_cast<size_t>(dscale_) + 1 - digits.size(), '0');
  std::string out;
  if (neg) out.push_back('-');
  size_t int_len = digits.size() - static_cast<size_t>(dscale_);
  out.append(digits, 0, int_len);
  if (dscale_ > 0) {
    out.push_back('.');
    out.append(digits, int_len, std::string::npos);
  }
  return out;
}

int Decimal::Sign() const {
  switch (kind_) {
    case Kind::kNaN: return 0;
    case Kind::kPosInf: return 1;
    case Kind::kNegInf: return -1;
    case Kind::kFinite: break;
  }
  return unscaled_ < 0 ? -1 : (unscaled_ == 0 ? 0 : 1);
}

Decimal Decimal::Add(const Decimal& o) const {
  if (!is_finite() || !o.is_finite()) {
    if (is_nan() || o.is_nan()) return NaN();
    if (kind_ == Kind::kPosInf) return o.kind_ == Kind::kNegInf ? NaN() : PosInf();
    if (kind_ == Kind::kNegInf) return o.kind_ == Kind::kPosInf ? NaN() : NegInf();
    return o;  // finite + [-]Inf
  }
  int32_t s = std::max(dscale_, o.dscale_);
  return Decimal(unscaled_ * Pow10(s - dscale_) + o.unscaled_ * Pow10(s - o.dscale_), s);
}

Decimal Decimal::Sub(const Decimal& o) const { return Add(o.Neg()); }

Decimal Decimal::Neg() const {
  switch (kind_) {
    case Kind::kNaN: return NaN();
    case Kind::kPosInf: return NegInf();
    case Kind::kNegInf: return PosInf();
    case Kind::kFinite: break;
  }
  return Decimal(-unscaled_, dscale_);
}

Decimal Decimal::Mul(const Decimal& o) const {
  if (!is_finite() || !o.is_finite()) {
    if (is_nan() || o.is_nan()) return NaN();
    int s = Sign() * o.Sign();
    if (s == 0) return NaN();  // Inf * 0
    return s > 0 ? PosInf() : NegInf();
  }
  int32_t s = dscale_ + o.dscale_;
  BigInt p = unscaled_ * o.unscaled_;
  if (s > kDscaleMax) {
    p = Rescale(p, s, kDscaleMax);
    s = kDscaleMax;
  }
  return Decimal(std::move(p), s);
}

Result<Decimal> Decimal::Div(const Decimal& o) const {
  if (!is_finite() || !o.is_finite()) {
    if (is_nan() || o.is_nan()) return NaN();
    if (!is_finite()) {  // [-]Inf / x
      if (!o.is_finite()) return NaN();
      int s = o.Sign();
      if (s == 0) return Status::InvalidArgument("division by zero");
      return (s * Sign()) > 0 ? PosInf() : NegInf();
    }
    return Decimal();  // finite / [-]Inf = 0
  }
  if (o.unscaled_ == 0) return Status::InvalidArgument("division by zero");
  int32_t rscale = SelectDivScale(*this, o);
  // |q| = round(|u1| * 10^(d2 + rscale) / (|u2| * 10^d1)), half away from zero.
  BigInt n = unscaled_ < 0 ? BigInt(-unscaled_) : unscaled_;
  BigInt d = o.unscaled_ < 0 ? BigInt(-o.unscaled_) : o.unscaled_;
  int32_t nexp = o.dscale_ + rscale - dscale_;
  if (nexp >= 0) n *= Pow10(nexp);
  else d *= Pow10(-nexp);
  BigInt q = n / d;
  BigInt r = n % d;
  if (r * 2 >= d) q += 1;
  if ((unscaled_ < 0) != (o.unscaled_ < 0)) q = -q;
  return Decimal(std::move(q), rscale);
}

Result<Decimal> Decimal::Mod(const Decimal& o) const {
  if (!is_finite() || !o.is_finite()) {
    if (is_nan() || o.is_nan()) return NaN();
    if (!is_finite()) {
      if (o.Sign() == 0) return Status::InvalidArgument("division by zero");
      return NaN();  // Inf % nonzero
    }
    return *this;  // finite % [-]Inf
  }
  if (o.unscaled_ == 0) return Status::InvalidArgument("division by zero");
  int32_t s = std::max(dscale_, o.dscale_);
  BigInt a = unscaled_ * Pow10(s - dscale_);
  BigInt b = o.unscaled_ * Pow10(s - o.dscale_);
  return Decimal(a % b, s);  // truncated division: remainder has the dividend's sign
}

int Decimal::Compare(const Decimal& o) const {
  auto rank = [](const Decimal& d) {
    switch (d.kind_) {
      case Kind::kNegInf: return 0;
      case Kind::kFinite: return 1;
      case Kind::kPosInf: return 2;
      case Kind::kNaN: return 3;
    }
    return 1;
  };
  int ra = rank(*this), rb = rank(o);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra != 1) return 0;
  int32_t s = std::max(dscale_, o.dscale_);
  BigInt a = unscaled_ * Pow10(s - dscale_);
  BigInt b = o.unscaled_ * Pow10(s - o.dscale_);
  return a < b ? -1 : (a == b ? 0 : 1);
}

Result<int64_t> Decimal::ToInt64(TypeId target) const {
  const char* tname = target == TypeId::kInt2 ? "smallint"
                      : target == TypeId::kInt4 ? "integer" : "bigint";
  if (is_nan()) return Status::InvalidArgument(std::string("cannot convert NaN to ") + tname);
  if (!is_finite())
    return Status::InvalidArgument(std::string("cannot convert infinity to ") + tname);
  BigInt r = Rescale(unscaled_, dscale_, 0);
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  if (target == TypeId::kInt2) { lo = INT16_MIN; hi = INT16_MAX; }
  if (target == TypeId::kInt4) { lo = INT32_MIN; hi = INT32_MAX; }
  if (r < lo || r > hi) return Status::InvalidArgument(std::string(tname) + " out of range");
  return static_cast<int64_t>(r);
}

Result<double> Decimal::ToDouble(bool is_float4) const {
  switch (kind_) {
    case Kind::kNaN: return std::numeric_limits<double>::quiet_NaN();
    case Kind::kPosInf: return std::numeric_limits<double>::infinity();
    case Kind::kNegInf: return -std::numeric_limits<double>::infinity();
    case Kind::kFinite: break;
  }
  std::string t = ToString();
  std::errc ec;
  double v = 0;
  if (is_float4) {
    float f = 0;
    ec = std::from_chars(t.data(), t.data() + t.size(), f).ec;
    v = f;
  } else {
    ec = std::from_chars(t.data(), t.data() + t.size(), v).ec;
  }
  if (ec != std::errc())
    return Status::InvalidArgument("\"" + t + "\" is out of range for type " +
                                   (is_float4 ? "real" : "double precision"));
  return v;
}

void Decimal::Normalized(std::string* digits, int32_t* exponent) const {
  digits->clear();
  *exponent = 0;
  if (!is_finite() || unscaled_ == 0) return;
  std::string d = (unscaled_ < 0 ? BigInt(-unscaled_) : unscaled_).str();
  // value = d * 10^-dscale = 0.d * 10^(len(d) - dscale)
  *exponent = static_cast<int32_t>(d.size()) - dscale_;
  size_t end = d.find_last_not_of('0');
  d.resize(end + 1);
  *digits = std::move(d);
}

}  // namespace pgt::values
