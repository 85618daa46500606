// Text I/O per type (see text_io.h).
#include "values/text_io.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "values/datetime.h"
#include "values/decimal.h"

namespace pgt::values {
namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

Status Syntax(const char* type, std::string_view text) {
  return Status::InvalidArgument(std::string("invalid input syntax for type ") + type + ": \"" +
                                 std::string(text) + "\"");
}

Result<Value> ParseInt(TypeId t, std::string_view text) {
  const char* name = t == TypeId::kInt2 ? "smallint" : t == TypeId::kInt4 ? "integer"
                     : t == TypeId::kInt8 ? "bigint" : "oid";
  std::string_view s = Trim(text);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) { neg = s[0] == '-'; s.remove_prefix(1); }
  if (s.empty()) return Syntax(name, text);
  UInt128 mag = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Syntax(name, text);
    mag = mag * 10 + static_cast<unsigned>(c - '0');
    if (mag > (static_cast<UInt128>(1) << 64)) break;  // certainly out of range
  }
  Int128 v = neg ? -static_cast<Int128>(mag) : static_cast<Int128>(mag);
  Int128 lo = INT64_MIN, hi = INT64_MAX;
  if (t == TypeId::kInt2) { lo = INT16_MIN; hi = INT16_MAX; }
  if (t == TypeId::kInt4) { lo = INT32_MIN; hi = INT32_MAX; }
  if (t == TypeId::kOid) { lo = INT32_MIN; hi = UINT32_MAX; }  // oidin accepts -2^31..2^32-1
  if (v < lo || v > hi)
    return Status::InvalidArgument("value \"" + std::string(text) + "\" is out of range for type " +
                                   name);
  if (t == TypeId::kOid && v < 0) v += (static_cast<Int128>(1) << 32);
  return Value::Int(t, static_cast<int64_t>(v));
}

Result<Value> ParseFloat(TypeId t, std::string_view text) {
  bool f4 = t == TypeId::kFloat4;
  const char* name = f4 ? "real" : "double precision";
  std::string_view s = Trim(text);
  double inf = std::numeric_limits<double>::infinity();
  if (IEquals(s, "NaN")) return Value{t, false, false, 0, std::numeric_limits<double>::quiet_NaN(), {}};
  if (IEquals(s, "Infinity") || IEquals(s, "+Infinity") || IEquals(s, "inf") || IEquals(s, "+inf"))
    return Value{t, false, false, 0, inf, {}};
  if (IEquals(s, "-Infinity") || IEquals(s, "-inf")) return Value{t, false, false, 0, -inf, {}};
  std::string_view body = s;
  if (!body.empty() && body[0] == '+') body.remove_prefix(1);
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.' ||
                        (body[0] == '-' && body.size() > 1)))
    return Syntax(name, text);
  double v = 0;
  std::from_chars_result r;
  if (f4) {
    float fv = 0;
    r = std::from_chars(body.data(), body.data() + body.size(), fv, std::chars_format::general);
    v = fv;
  } else {
    r = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  }
  if (r.ec == std::errc::invalid_argument || r.ptr != body.data() + body.size())
    return Syntax(name, text);
  if (r.ec == std::errc::result_out_of_range || std::isinf(v))
    return Status::InvalidArgument("\"" + std::string(text) + "\" is out of range for type " + name);
  return Value{t, false, false, 0, v, {}};
}

Result<Value> ParseBool(std::string_view text) {
  std::string_view s = Trim(text);
  auto prefix_of = [&](std::string_view word, size_t min_len) {
    return s.size() >= min_len && s.size() <= word.size() && IEquals(s, word.substr(0, s.size()));
  };
  if (prefix_of("true", 1) || prefix_of("yes", 1) || IEquals(s, "on") || s == "1")
    return Value::Bool(true);
  if (prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0")
    return Value::Bool(false);
  return Syntax("boolean", text);
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Value> ParseBytea(std::string_view text) {
  std::string out;
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    int hi = -1;
    for (size_t i = 2; i < text.size(); i++) {
      if (std::isspace(static_cast<unsigned char>(text[i])) && hi < 0) continue;
      int h = HexVal(text[i]);
      if (h < 0) return Syntax("bytea", text);
      if (hi < 0) hi = h;
      else { out.push_back(static_cast<char>(hi * 16 + h)); hi = -1; }
    }
    if (hi >= 0) return Syntax("bytea", text);
    return Value::Str(TypeId::kBytea, std::move(out));
  }
  for (size_t i = 0; i < text.size(); i++) {  // escape format
    if (text[i] != '\\') { out.push_back(text[i]); continue; }
    if (i + 1 < text.size() && text[i + 1] == '\\') { out.push_back('\\'); i++; continue; }
    if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '3' && text[i + 2] >= '0' &&
        text[i + 2] <= '7' && text[i + 3] >= '0' && text[i + 3] <= '7') {
      out.push_back(static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                      (text[i + 3] - '0')));
      i += 3;
      continue;
    }
    return Syntax("bytea", text);
  }
  return Value::Str(TypeId::kBytea, std::move(out));
}

Result<Value> ParseUuid(std::string_view text) {
  std::string_view s = Trim(text);
  bool braces = !s.empty() && s.front() == '{';
  if (braces) {
    if (s.back() != '}') return Syntax("uuid", text);
    s = s.substr(1, s.size() - 2);
  }
  std::string out;
  int hi = -1;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '-' && hi < 0 && !out.empty() && i + 1 < s.size()) continue;
    int h = HexVal(s[i]);
    if (h < 0) return Syntax("uuid", text);
    if (hi < 0) hi = h;
    else { out.push_back(static_cast<char>(hi * 16 + h)); hi = -1; }
  }
  if (hi >= 0 || out.size() != 16) return Syntax("uuid", text);
  return Value::Str(TypeId::kUuid, std::move(out));
}

// Splits a printf/to_chars scientific string ("-1.25e+07") into sign, digits and the decimal
// exponent of the first digit.
void SplitSci(const std::string& sci, bool* neg, std::string* digits, int* exp10) {
  size_t e = sci.find_first_of("eE");
  *exp10 = std::atoi(sci.c_str() + e + 1);
  *neg = sci[0] == '-';
  digits->clear();
  for (size_t i = *neg ? 1 : 0; i < e; i++)
    if (sci[i] != '.') digits->push_back(sci[i]);
  while (digits->size() > 1 && digits->back() == '0') digits->pop_back();
}

// Whether |digits * 10^(exp10 + 1 - len)| lies exactly halfway between |v| and a neighbouring
// float (a tie that round-half-even parsing resolves to v). PostgreSQL's Ryu (d2s.c/f2s.c) does
// not accept such interval bounds, so it prints a longer string in that case.
bool OnRoundingBoundary(double v, bool f4, const std::string& digits, int exp10) {
  int e2;
  double frac = std::frexp(std::fabs(v), &e2);  // |v| = frac * 2^e2, frac in [0.5, 1)
  int bits = f4 ? 24 : 53;
  int64_t m = static_cast<int64_t>(std::ldexp(frac, bits));
  int k = e2 - bits;  // |v| = m * 2^k
  // Cheap filter in long double before the exact check.
  long double cand = std::strtold((digits + "e" + std::to_string(exp10 + 1 - static_cast<int>(digits.size()))).c_str(), nullptr);
  long double hi = std::ldexp(static_cast<long double>(2 * m + 1), k - 1);
  long double lo = (m == (INT64_C(1) << (bits - 1)))
                       ? std::ldexp(static_cast<long double>(4 * m - 1), k - 2)
                       : std::ldexp(static_cast<long double>(2 * m - 1), k - 1);
  auto near = [](long double a, long double b) { return std::fabs(a - b) <= std::fabs(b) * 1e-15L; };
  if (!near(cand, hi) && !near(cand, lo)) return false;
  // Exact: D * 10^E == M * 2^K ?
  BigInt d(digits);
  int E = exp10 + 1 - static_cast<int>(digits.size());
  auto equal = [&](int64_t mm, int kk) {
    BigInt lhs = d, rhs = mm;
    if (E >= 0) lhs *= Pow10(E); else rhs *= Pow10(-E);
    if (kk >= 0) rhs <<= kk; else lhs <<= -kk;
    return lhs == rhs;
  };
  bool pow2 = m == (INT64_C(1) << (bits - 1));
  return equal(2 * m + 1, k - 1) || (pow2 ? equal(4 * m - 1, k - 2) : equal(2 * m - 1, k - 1));
}

std::string FormatShortest(double v, bool is_float4) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  std::to_chars_result r = is_float4
      ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), std::chars_format::scientific)
      : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  bool neg;
  std::string digits;
  int exp10;
  SplitSci(std::string(buf, r.ptr), &neg, &digits, &exp10);
  if (v != 0 && OnRoundingBoundary(v, is_float4, digits, exp10)) {
    for (int n = static_cast<int>(digits.size()) + 1; n <= (is_float4 ? 9 : 17); n++) {
      std::snprintf(buf, sizeof buf, "%.*e", n - 1, v);
      double back = is_float4 ? std::strtof(buf, nullptr) : std::strtod(buf, nullptr);
      std::string d2;
      int e2;
      SplitSci(buf, &neg, &d2, &e2);
      if (back == v && !OnRoundingBoundary(v, is_float4, d2, e2)) {
        digits = d2;
        exp10 = e2;
        break;
      }
    }
  }
  std::string out = neg ? "-" : "";
  if (exp10 < -4 || exp10 >= (is_float4 ? 6 : 15)) {  // d.ddde+XX as printf prints
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    std::snprintf(buf, sizeof buf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out.append(buf);
    return out;
  }
  if (exp10 < 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-exp10 - 1), '0');
    out.append(digits);
  } else {
    size_t int_len = static_cast<size_t>(exp10) + 1;
    if (digits.size() <= int_len) {
      out.append(digits);
      out.append(int_len - digits.size(), '0');
    } else {
      out.append(digits, 0, int_len);
      out.push_back('.');
      out.append(digits, int_len, std::string::npos);
    }
  }
  return out;
}

}  // namespace

std::string FormatFloat8(double v) { return FormatShortest(v, false); }
std::string FormatFloat4(float v) { return FormatShortest(v, true); }

Result<Value> ParseText(TypeId type, std::string_view text) {
  switch (type) {
    case TypeId::kBool: return ParseBool(text);
    case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8: case TypeId::kOid:
      return ParseInt(type, text);
    case TypeId::kFloat4: case TypeId::kFloat8: return ParseFloat(type, text);
    case TypeId::kNumeric: {
      PGT_ASSIGN_OR_RETURN(Decimal d, Decimal::Parse(text));
      return Value::Str(type, d.ToString());
    }
    case TypeId::kText: case TypeId::kVarchar: case TypeId::kBpchar: case TypeId::kJson:
      return Value::Str(type, std::string(text));
    case TypeId::kDate: {
      PGT_ASSIGN_OR_RETURN(int64_t d, ParseDate(text));
      return Value::Int(type, d);
    }
    case TypeId::kTime: {
      PGT_ASSIGN_OR_RETURN(int64_t t, ParseTime(text));
      return Value::Int(type, t);
    }
    case TypeId::kTimestamp: case TypeId::kTimestamptz: {
      PGT_ASSIGN_OR_RETURN(int64_t t, ParseTimestamp(text, type == TypeId::kTimestamptz));
      return Value::Int(type, t);
    }
    case TypeId::kBytea: return ParseBytea(text);
    case TypeId::kUuid: return ParseUuid(text);
    case TypeId::kJsonb: case TypeId::kUnknown: break;
  }
  return Status::Unsupported(std::string("no text input for type ") + TypeName(type));
}

std::string FormatText(const Value& v) {
  if (v.is_null) return "";
  static const char kHex[] = "0123456789abcdef";
  switch (v.type) {
    case TypeId::kBool: return v.i ? "t" : "f";
    case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8: case TypeId::kOid:
      return std::to_string(v.i);
    case TypeId::kFloat4: return FormatFloat4(static_cast<float>(v.f));
    case TypeId::kFloat8: return FormatFloat8(v.f);
    case TypeId::kDate: return FormatDate(v.i);
    case TypeId::kTime: return FormatTime(v.i);
    case TypeId::kTimestamp: return FormatTimestamp(v.i, false);
    case TypeId::kTimestamptz: return FormatTimestamp(v.i, true);
    case TypeId::kBytea: {
      std::string out = "\\x";
      for (unsigned char c : v.s) { out.push_back(kHex[c >> 4]); out.push_back(kHex[c & 15]); }
      return out;
    }
    case TypeId::kUuid: {
      std::string out;
      for (size_t i = 0; i < v.s.size(); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        unsigned char c = static_cast<unsigned char>(v.s[i]);
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      return out;
    }
    default: return v.s;  // numeric (canonical text), text types, json, jsonb/unknown payload
  }
}

void AppendCopyEscaped(std::string* out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\v': out->append("\\v"); break;
      default: out->push_back(c);
    }
  }
}

void AppendCopyText(std::string* out, const Value& v) {
  if (v.is_null) { out->append("\\N"); return; }
  AppendCopyEscaped(out, FormatText(v));
}

Result<std::vector<std::optional<std::string>>> SplitCopyTextLine(std::string_view line) {
  std::vector<std::optional<std::string>> fields;
  size_t start = 0;
  while (true) {
    size_t end = line.find('\t', start);
    std::string_view raw = line.substr(start, end == std::string_view::npos ? end : end - start);
    if (raw == "\\N") {
      fields.emplace_back(std::nullopt);
    } else {
      std::string f;
      for (size_t i = 0; i < raw.size(); i++) {
        if (raw[i] != '\\') { f.push_back(raw[i]); continue; }
        if (++i >= raw.size())
          return Status::InvalidArgument("COPY line ends with a lone backslash");
        char c = raw[i];
        switch (c) {
          case 'b': f.push_back('\b'); break;
          case 'f': f.push_back('\f'); break;
          case 'n': f.push_back('\n'); break;
          case 'r': f.push_back('\r'); break;
          case 't': f.push_back('\t'); break;
          case 'v': f.push_back('\v'); break;
          case 'x': {
            int v = 0, n = 0;
            while (n < 2 && i + 1 < raw.size() && HexVal(raw[i + 1]) >= 0) v = v * 16 + HexVal(raw[++i]), n++;
            if (n == 0) f.push_back('x');
            else f.push_back(static_cast<char>(v));
            break;
          }
          default:
            if (c >= '0' && c <= '7') {
              int v = c - '0', n = 1;
              while (n < 3 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7')
                v = v * 8 + (raw[++i] - '0'), n++;
              f.push_back(static_cast<char>(v & 0xFF));
            } else {
              f.push_back(c);
            }
        }
      }
      fields.emplace_back(std::move(f));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return fields;
}

}  // namespace pgt::values
