// Value output functions and test_decoding's line format: see walreader/text_format.h.
#include "walreader/text_format.h"

#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "bytes.h"
#include "jsonb.h"
#include "numeric.h"
#include "text_direct.h"

namespace pgt {

namespace {
constexpr int64_t kUsecPerDay = 86400000000LL;
constexpr int64_t kDaysFrom1970To2000 = 10957;

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {   // days since 1970-01-01
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

std::string DateText(int64_t days_since_2000, bool* bc) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days_since_2000 + kDaysFrom1970To2000, &y, &m, &d);
  *bc = y <= 0;
  if (*bc) y = 1 - y;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02u", y, m, d);
  return buf;
}

std::string TimeText(int64_t usec) {
  int64_t h = usec / 3600000000LL;
  usec -= h * 3600000000LL;
  int64_t mi = usec / 60000000LL;
  usec -= mi * 60000000LL;
  int64_t s = usec / 1000000;
  int64_t frac = usec % 1000000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, h, mi, s);
  std::string out = buf;
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%06" PRId64, frac);
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out;
}

std::string TimestampText(int64_t ts, bool tz) {
  if (ts == INT64_MIN) return "-infinity";
  if (ts == INT64_MAX) return "infinity";
  int64_t days = ts / kUsecPerDay;
  int64_t rem = ts % kUsecPerDay;
  if (rem < 0) { rem += kUsecPerDay; days--; }
  bool bc;
  std::string out = DateText(days, &bc) + " " + TimeText(rem);
  if (tz) out += "+00";
  if (bc) out += " BC";
  return out;
}

// timestamptz in a named zone: the C library's tz database (TZ environment variable, set under a
// lock when the zone changes; localtime_r is thread-safe once TZ is stable).
std::mutex g_tz_mu;
std::string g_tz_current;

std::string TimestamptzText(int64_t ts, const std::string& zone) {
  if (ts == INT64_MIN) return "-infinity";
  if (ts == INT64_MAX) return "infinity";
  int64_t secs = ts / 1000000;
  if (ts % 1000000 < 0) secs--;
  long gmtoff = 0;
  {
    std::lock_guard<std::mutex> lock(g_tz_mu);
    if (zone != g_tz_current) {
      ::setenv("TZ", zone.c_str(), 1);
      ::tzset();
      g_tz_current = zone;
    }
    time_t t = static_cast<time_t>(secs + kDaysFrom1970To2000 * 86400);
    struct tm tm;
    if (::localtime_r(&t, &tm) != nullptr) gmtoff = tm.tm_gmtoff;
  }
  int64_t local = ts + static_cast<int64_t>(gmtoff) * 1000000;
  std::string out = TimestampText(local, false);
  bool bc = out.size() > 3 && out.compare(out.size() - 3, 3, " BC") == 0;
  if (bc) out.resize(out.size() - 3);
  long a = gmtoff < 0 ? -gmtoff : gmtoff;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c%02ld", gmtoff < 0 ? '-' : '+', a / 3600);
  out += buf;
  if (a % 3600 != 0) {
    std::snprintf(buf, sizeof buf, ":%02ld", (a % 3600) / 60);
    out += buf;
    if (a % 60 != 0) {
      std::snprintf(buf, sizeof buf, ":%02ld", a % 60);
      out += buf;
    }
  }
  if (bc) out += " BC";
  return out;
}

// (sign, significant digits without trailing zeros, decimal exponent) of "-d.ddde+x".
void Normalize(const std::string& t, bool* neg, std::string* digits, int* exp) {
  size_t e = t.find_first_of("eE");
  *neg = !t.empty() && t[0] == '-';
  digits->clear();
  int point = -1, n = 0;
  for (size_t i = *neg ? 1 : 0; i < e; i++) {
    if (t[i] == '.') { point = n; continue; }
    *digits += t[i];
    n++;
  }
  if (point < 0) point = n;
  *exp = (e == std::string::npos ? 0 : std::atoi(t.c_str() + e + 1)) + point;
  size_t lead = 0;
  while (lead < digits->size() && (*digits)[lead] == '0') lead++;
  *exp -= static_cast<int>(lead);
  digits->erase(0, lead);
  while (!digits->empty() && digits->back() == '0') digits->pop_back();
}

// Is the decimal `txt` exactly `m`? (glibc prints the exact expansion of a binary value.)
bool SameDecimal(const std::string& txt, long double m) {
  static thread_local char buf[1400];
  std::snprintf(buf, sizeof buf, "%.1250Le", m);
  bool n1, n2;
  std::string d1, d2;
  int e1, e2;
  Normalize(txt, &n1, &d1, &e1);
  Normalize(buf, &n2, &d2, &e2);
  return n1 == n2 && d1 == d2 && e1 == e2;
}

// Shortest round-trip output as float4out/float8out (Ryu) print it.
std::string FloatText(double v, bool is_float4) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char buf[64];
  auto res = is_float4 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v),
                                       std::chars_format::scientific)
                       : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // PostgreSQL's Ryu is built without STRICTLY_SHORTEST (acceptBounds = false): a shortest
  // candidate lying exactly halfway to a neighbouring float is rejected, and one more digit is
  // printed. to_chars accepts such bounds (for even mantissas): detect them and add digits.
  auto on_bound = [&](const std::string& txt) {
    // Midpoints are exact in long double (64-bit mantissa). strtold(txt) == midpoint is necessary
    // for txt to be the midpoint; confirm with the midpoint's exact decimal expansion.
    long double d = std::strtold(txt.c_str(), nullptr);
    long double x = is_float4 ? static_cast<long double>(static_cast<float>(v)) : static_cast<long double>(v);
    long double up = is_float4 ? std::nextafterf(static_cast<float>(v), INFINITY) : std::nextafter(v, INFINITY);
    long double dn = is_float4 ? std::nextafterf(static_cast<float>(v), -INFINITY) : std::nextafter(v, -INFINITY);
    for (long double m : {(x + up) / 2, (x + dn) / 2})
      if (d == m && SameDecimal(txt, m)) return true;
    return false;
  };
  if (on_bound(sci)) {
    size_t e0 = sci.find('e');
    int digits = static_cast<int>(e0) - (sci[0] == '-' ? 1 : 0) - (sci.find('.') < e0 ? 1 : 0);
    for (int p = digits; p <= 17; p++) {   // p digits after the point = p + 1 significant
      res = is_float4 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v),
                                      std::chars_format::scientific, p)
                      : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific, p);
      std::string t(buf, res.ptr);
      bool round_trips = is_float4 ? std::strtof(t.c_str(), nullptr) == static_cast<float>(v)
                                   : std::strtod(t.c_str(), nullptr) == v;
      if (round_trips && !on_bound(t)) {
        // drop trailing zeros of the mantissa (Ryu never prints them)
        size_t e1 = t.find('e');
        std::string mant = t.substr(0, e1), ex = t.substr(e1);
        while (mant.size() > 1 && mant.back() == '0') mant.pop_back();
        if (mant.back() == '.') mant.pop_back();
        sci = mant + ex;
        break;
      }
    }
  }
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  std::string out = neg ? "-" : "";
  int hi = is_float4 ? 6 : 15;
  if (exp >= -4 && exp < hi) {
    if (exp < 0) {
      out += "0." + std::string(-exp - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out += digits + std::string(exp + 1 - digits.size(), '0');
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return out;
}

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) { out += d[c >> 4]; out += d[c & 15]; }
  return out;
}
}  // namespace

std::string ValueToText(const Value& v) { return ValueToText(v, TextOptions{}); }

std::string ValueToText(const Value& v, const TextOptions& opts) {
  switch (v.type) {
    case TypeId::kBool: return v.i ? "t" : "f";
    case TypeId::kInt2:
    case TypeId::kInt4:
    case TypeId::kInt8:
    case TypeId::kOid: return std::to_string(v.i);
    case TypeId::kFloat4: return FloatText(v.f, true);
    case TypeId::kFloat8: return FloatText(v.f, false);
    case TypeId::kDate: {
      if (v.i == INT32_MIN) return "-infinity";
      if (v.i == INT32_MAX) return "infinity";
      bool bc;
      std::string s = DateText(v.i, &bc);
      return bc ? s + " BC" : s;
    }
    case TypeId::kTime: return TimeText(v.i);
    case TypeId::kTimestamp: return TimestampText(v.i, false);
    case TypeId::kTimestamptz:
      if (opts.timezone.empty() || opts.timezone == "UTC") return TimestampText(v.i, true);
      return TimestamptzText(v.i, opts.timezone);
    case TypeId::kBytea: return "\\x" + Hex(v.s);
    case TypeId::kUuid: {
      std::string h = Hex(v.s);
      if (h.size() != 32) return h;
      return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
             h.substr(16, 4) + "-" + h.substr(20);
    }
    case TypeId::kJsonb: {
      auto r = internal::JsonbToText(reinterpret_cast<const uint8_t*>(v.s.data()), v.s.size());
      return r.ok() ? r.value() : "<invalid jsonb: " + r.status().message() + ">";
    }
    default: return v.s;
  }
}

namespace {
const char* ScalarTypeName(Oid type_oid);   // format_type_be() names (below)
}  // namespace

std::string FormatTypeName(Oid type_oid) {
  if (const char* name = ScalarTypeName(type_oid)) return name;
  Oid elem = ArrayElementOid(type_oid);
  if (elem != 0) return FormatTypeName(elem) + "[]";
  return "oid " + std::to_string(type_oid);
}

// Array type OID -> element type OID (pg_type.dat), 0 if not an array of a rendered type.
Oid ArrayElementOid(Oid array_oid) {
  static const std::pair<Oid, Oid> kArrays[] = {
      {1000, 16}, {1001, 17}, {1005, 21}, {1007, 23}, {1016, 20}, {1009, 25}, {1028, 26},
      {1021, 700}, {1022, 701}, {1014, 1042}, {1015, 1043}, {1182, 1082}, {1183, 1083},
      {1115, 1114}, {1185, 1184}, {1231, 1700}, {2951, 2950}, {199, 114}, {3807, 3802},
      {1187, 1186}, {1270, 1266}};
  for (const auto& [a, e] : kArrays)
    if (a == array_oid) return e;
  return 0;
}

namespace {
// interval_out, IntervalStyle postgres (EncodeInterval INTSTYLE_POSTGRES). From PostgreSQL 17
// on, all fields at their minimum / maximum are -infinity / infinity (INTERVAL_IS_NOBEGIN/NOEND);
// 15 and 16 could in theory store that exact value as a finite interval: it is rendered as
// infinity whatever the version (the value does not carry it).
std::string IntervalText(int64_t time, int32_t day, int32_t month) {
  if (time == INT64_MIN && day == INT32_MIN && month == INT32_MIN) return "-infinity";
  if (time == INT64_MAX && day == INT32_MAX && month == INT32_MAX) return "infinity";
  std::string out;
  bool is_zero = true, is_before = false;
  auto part = [&](int64_t value, const char* unit) {
    if (value == 0) return;
    out += std::string(!is_zero ? " " : "") + ((is_before && value > 0) ? "+" : "") +
           std::to_string(value) + " " + unit + (value != 1 ? "s" : "");
    is_before = value < 0;
    is_zero = false;
  };
  part(month / 12, "year");
  part(month % 12, "mon");
  part(day, "day");
  int64_t hour = time / 3600000000LL;
  int64_t rest = time % 3600000000LL;
  int64_t min = rest / 60000000LL;
  rest %= 60000000LL;
  int64_t sec = rest / 1000000, fsec = rest % 1000000;
  if (is_zero || hour != 0 || min != 0 || sec != 0 || fsec != 0) {
    bool minus = hour < 0 || min < 0 || sec < 0 || fsec < 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s%02" PRId64 ":%02" PRId64 ":%02" PRId64, is_zero ? "" : " ",
                  minus ? "-" : (is_before ? "+" : ""), hour < 0 ? -hour : hour, min < 0 ? -min : min,
                  sec < 0 ? -sec : sec);
    out += buf;
    if (fsec != 0) {
      std::snprintf(buf, sizeof buf, ".%06" PRId64, fsec < 0 ? -fsec : fsec);
      std::string f = buf;
      while (f.back() == '0') f.pop_back();
      out += f;
    }
  }
  return out;
}

// timetz_out: time, then the offset (zone = seconds west of UTC).
std::string TimetzText(int64_t time, int32_t zone) {
  std::string out = TimeText(time);
  int32_t off = -zone;
  int32_t a = off < 0 ? -off : off;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c%02d", off < 0 ? '-' : '+', a / 3600);
  out += buf;
  if (a % 3600 != 0) {
    std::snprintf(buf, sizeof buf, ":%02d", (a % 3600) / 60);
    out += buf;
    if (a % 60 != 0) {
      std::snprintf(buf, sizeof buf, ":%02d", a % 60);
      out += buf;
    }
  }
  return out;
}

struct ElemInfo {
  int16_t len;    // >0 fixed, -1 varlena, -2 cstring
  char align;
};
bool ElemLayout(Oid t, ElemInfo* e) {
  switch (t) {
    case 16: *e = {1, 'c'}; return true;
    case 21: *e = {2, 's'}; return true;
    case 23: case 26: case 1082: case 700: *e = {4, 'i'}; return true;
    case 20: case 701: case 1083: case 1114: case 1184: *e = {8, 'd'}; return true;
    case 2950: *e = {16, 'c'}; return true;
    case 1186: *e = {16, 'd'}; return true;
    case 1266: *e = {12, 'd'}; return true;
    case 17: case 25: case 1042: case 1043: case 114: case 1700: *e = {-1, 'i'}; return true;
    case 3802: *e = {-1, 'i'}; return true;
    default: return false;
  }
}

size_t AlignUp(size_t off, char align) {
  size_t a = align == 'd' ? 8 : align == 'i' ? 4 : align == 's' ? 2 : 1;
  return (off + a - 1) / a * a;
}

bool ArrayNeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() == 4 && (s[0] == 'N' || s[0] == 'n') && (s[1] == 'U' || s[1] == 'u') &&
      (s[2] == 'L' || s[2] == 'l') && (s[3] == 'L' || s[3] == 'l'))
    return true;
  for (char c : s)
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || c == ' ' || c == '\t' ||
        c == '\n' || c == '\r' || c == '\v' || c == '\f')
      return true;
  return false;
}
}  // namespace

// Text of one element/value of type `t` from its binary payload (varlena header stripped).
static std::optional<std::string> PayloadText(const std::string& payload, Oid t, const TextOptions& opts);

// array_out for arrays of rendered types; payload = the array varlena without its header.
static std::optional<std::string> ArrayText(const std::string& pl, const TextOptions& opts) {
  // ArrayType after the 4-byte varlena header: ndim, dataoffset, elemtype, dims[], lbounds[]
  if (pl.size() < 12) return std::nullopt;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(pl.data());
  int32_t ndim = internal::U32(p), dataoffset = internal::U32(p + 4);
  Oid elem = internal::U32(p + 8);
  ElemInfo ei;
  if (ndim < 0 || ndim > 6 || !ElemLayout(elem, &ei)) return std::nullopt;
  if (ndim == 0) return std::string("{}");
  if (pl.size() < 12 + 8 * static_cast<size_t>(ndim)) return std::nullopt;
  std::vector<int32_t> dims(ndim), lbs(ndim);
  int64_t nitems = 1;
  for (int i = 0; i < ndim; i++) {
    dims[i] = static_cast<int32_t>(internal::U32(p + 12 + 4 * i));
    lbs[i] = static_cast<int32_t>(internal::U32(p + 12 + 4 * ndim + 4 * i));
    nitems *= dims[i];
  }
  if (nitems < 0 || nitems > (1 << 26)) return std::nullopt;
  // offsets below are relative to the ArrayType start (4 bytes before the payload)
  size_t bitmap = 16 + 8 * static_cast<size_t>(ndim);
  bool has_nulls = dataoffset != 0;
  size_t off = has_nulls ? static_cast<size_t>(dataoffset) : AlignUp(bitmap, 'd');
  std::vector<std::string> items;
  std::vector<bool> nulls;
  for (int64_t k = 0; k < nitems; k++) {
    if (has_nulls) {
      size_t byte = bitmap - 4 + static_cast<size_t>(k / 8);
      if (byte >= pl.size()) return std::nullopt;
      if (!(p[byte] & (1 << (k % 8)))) { items.emplace_back(); nulls.push_back(true); continue; }
    }
    size_t len;
    if (ei.len > 0) {
      off = AlignUp(off, ei.align);
      len = static_cast<size_t>(ei.len);
      if (off - 4 + len > pl.size()) return std::nullopt;
      std::string raw = pl.substr(off - 4, len);
      auto txt = PayloadText(raw, elem, opts);
      if (!txt) return std::nullopt;
      items.push_back(*txt);
    } else {
      if (off - 4 >= pl.size() + 1) return std::nullopt;
      // att_align_pointer: a non-zero first byte is a short (1-byte) header, never padded
      if (off - 4 < pl.size() && p[off - 4] == 0) off = AlignUp(off, ei.align);
      if (off - 4 >= pl.size()) return std::nullopt;
      const uint8_t* v = p + off - 4;
      size_t hdr;
      if (v[0] & 0x01) {
        if (v[0] == 0x01) return std::nullopt;   // TOAST pointer inside an array: impossible
        len = v[0] >> 1;
        hdr = 1;
      } else {
        if (off - 4 + 4 > pl.size()) return std::nullopt;
        uint32_t h = internal::U32(v);
        if (h & 0x2) return std::nullopt;        // compressed inline element: not expected
        len = h >> 2;
        hdr = 4;
      }
      if (len < hdr || off - 4 + len > pl.size()) return std::nullopt;
      std::string raw = pl.substr(off - 4 + hdr, len - hdr);
      auto txt = PayloadText(raw, elem, opts);
      if (!txt) return std::nullopt;
      items.push_back(*txt);
    }
    nulls.push_back(false);
    off += len;
  }
  std::string out;
  bool need_dims = false;
  for (int i = 0; i < ndim; i++)
    if (lbs[i] != 1) need_dims = true;
  if (need_dims) {
    for (int i = 0; i < ndim; i++)
      out += "[" + std::to_string(lbs[i]) + ":" + std::to_string(lbs[i] + dims[i] - 1) + "]";
    out += "=";
  }
  // nested braces for every dimension
  std::vector<int32_t> idx(ndim, 0);
  for (int i = 0; i < ndim; i++) out += "{";
  for (int64_t k = 0; k < nitems; k++) {
    if (k > 0) {
      int j = ndim - 1;
      int closed = 0;
      while (j >= 0 && ++idx[j] == dims[j]) { idx[j] = 0; j--; closed++; }
      out += std::string(static_cast<size_t>(closed), '}') + "," + std::string(static_cast<size_t>(closed), '{');
    }
    if (nulls[k]) { out += "NULL"; continue; }
    const std::string& s = items[k];
    if (ArrayNeedsQuotes(s)) {
      out += '"';
      for (char c : s) { if (c == '"' || c == '\\') out += '\\'; out += c; }
      out += '"';
    } else {
      out += s;
    }
  }
  for (int i = 0; i < ndim; i++) out += "}";
  return out;
}

static std::optional<std::string> PayloadText(const std::string& payload, Oid t, const TextOptions& opts) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(payload.data());
  auto num = [&](int64_t x) { Value v; v.is_null = false; v.i = x; return v; };
  switch (t) {
    case 1186:
      if (payload.size() != 16) return std::nullopt;
      return IntervalText(static_cast<int64_t>(internal::U64(p)), static_cast<int32_t>(internal::U32(p + 8)),
                          static_cast<int32_t>(internal::U32(p + 12)));
    case 1266:
      if (payload.size() != 12) return std::nullopt;
      return TimetzText(static_cast<int64_t>(internal::U64(p)), static_cast<int32_t>(internal::U32(p + 8)));
    case 1700: {
      auto r = internal::NumericToText(p, payload.size());
      if (!r.ok()) return std::nullopt;
      return r.value();
    }
    default: break;
  }
  if (ArrayElementOid(t) != 0) return ArrayText(payload, opts);
  TypeId id = TypeIdFromOid(t);
  Value v = num(0);
  v.type = id;
  switch (id) {
    case TypeId::kBool: v.i = p[0] != 0; break;
    case TypeId::kInt2: v.i = static_cast<int16_t>(internal::U16(p)); break;
    case TypeId::kInt4: case TypeId::kDate: v.i = static_cast<int32_t>(internal::U32(p)); break;
    case TypeId::kOid: v.i = internal::U32(p); break;
    case TypeId::kInt8: case TypeId::kTime: case TypeId::kTimestamp: case TypeId::kTimestamptz:
      v.i = static_cast<int64_t>(internal::U64(p)); break;
    case TypeId::kFloat4: { float f; std::memcpy(&f, p, 4); v.f = f; break; }
    case TypeId::kFloat8: { double d; std::memcpy(&d, p, 8); v.f = d; break; }
    case TypeId::kUnknown: return std::nullopt;
    default: v.s = payload; break;
  }
  return ValueToText(v, opts);
}

std::string ValueToText(const Value& v, Oid type_oid, const TextOptions& opts) {
  if (v.type == TypeId::kUnknown && !v.is_null) {
    auto t = PayloadText(v.s, type_oid, opts);
    if (t) return *t;
  }
  return ValueToText(v, opts);
}

namespace {
// --- test_decoding line format, appended in place ---------------------------------------------
// This is the CLI's inner loop (one call per column of every printed row): values are appended
// to the caller's buffer without temporaries for the common types; anything else goes through
// ValueToText, the reference rendering.

void AppendQuotedIdent(std::string* out, const std::string& s) {
  bool safe = !s.empty() && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_');
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) safe = false;
  if (safe) { *out += s; return; }   // (keywords are not checked)
  *out += '"';
  for (char c : s) { if (c == '"') *out += '"'; *out += c; }
  *out += '"';
}

// format_type_be() names of the scalar types; nullptr for the rest (FormatTypeName builds them).
const char* ScalarTypeName(Oid type_oid) {
  switch (type_oid) {
    case 16: return "boolean";
    case 17: return "bytea";
    case 20: return "bigint";
    case 21: return "smallint";
    case 23: return "integer";
    case 25: return "text";
    case 26: return "oid";
    case 114: return "json";
    case 700: return "real";
    case 701: return "double precision";
    case 1042: return "character";
    case 1043: return "character varying";
    case 1082: return "date";
    case 1083: return "time without time zone";
    case 1114: return "timestamp without time zone";
    case 1184: return "timestamp with time zone";
    case 1700: return "numeric";
    case 2950: return "uuid";
    case 3802: return "jsonb";
    case 1186: return "interval";
    case 1266: return "time with time zone";
    default: return nullptr;
  }
}

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

// Zero-padded to at least `width` digits (v >= 0), as printf("%0*lld").
// Writes v >= 0 zero-padded to at least `width` digits at p (as printf("%0*lld")); returns the end.
char* PutPadded(char* p, int64_t v, int width) {
  if (width == 2 && v < 100) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
    return p + 2;
  }
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  for (int n = static_cast<int>(r.ptr - buf); n < width; n++) *p++ = '0';
  for (const char* q = buf; q < r.ptr; q++) *p++ = *q;
  return p;
}

// DateText / TimeText / TimestampText into a caller's buffer (same output); dates and times are
// formatted in a local buffer and appended once.
char* PutDateUncached(char* p, int64_t days_since_2000, bool* bc) {   // at most 24 bytes
  int64_t y;
  unsigned m, d;
  CivilFromDays(days_since_2000 + kDaysFrom1970To2000, &y, &m, &d);
  *bc = y <= 0;
  if (*bc) y = 1 - y;
  p = PutPadded(p, y, 4);
  *p++ = '-';
  p = PutPadded(p, m, 2);
  *p++ = '-';
  return PutPadded(p, d, 2);
}

// Consecutive rows usually carry dates and timestamps of the same day (the civil-date
// conversion showed in profiles): the last day's text is kept, per thread.
char* PutDate(char* p, int64_t days_since_2000, bool* bc) {   // at most 24 bytes
  struct Last {
    int64_t days = INT64_MIN;
    bool bc = false;
    uint8_t len = 0;
    char text[24];
  };
  static thread_local Last last;
  if (days_since_2000 != last.days) {
    last.len = static_cast<uint8_t>(PutDateUncached(last.text, days_since_2000, &last.bc) - last.text);
    last.days = days_since_2000;
  }
  *bc = last.bc;
  std::memcpy(p, last.text, last.len);
  return p + last.len;
}

// Two digits of 0 <= v < 100 at p.
char* Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// nullptr for values TimeText prints differently (negative or 100+ hours: not in valid data).
// Every timestamp column of every row comes through here: 32-bit arithmetic after one 64-bit
// division, fraction digits written two at a time.
char* PutTime(char* p, int64_t usec) {   // at most 15 bytes
  if (usec < 0 || usec >= 360000000000LL) return nullptr;
  const auto secs = static_cast<uint32_t>(usec / 1000000);
  uint32_t frac = static_cast<uint32_t>(usec - int64_t{secs} * 1000000);
  p = Put2(p, secs / 3600);
  *p++ = ':';
  p = Put2(p, secs / 60 % 60);
  *p++ = ':';
  p = Put2(p, secs % 60);
  if (frac != 0) {
    char f[6];
    Put2(f, frac / 10000);
    Put2(f + 2, frac / 100 % 100);
    Put2(f + 4, frac % 100);
    int n = 6;
    while (f[n - 1] == '0') n--;
    *p++ = '.';
    std::memcpy(p, f, static_cast<size_t>(n));
    p += n;
  }
  return p;
}

void AppendDate(std::string* out, int64_t days_since_2000, bool* bc) {
  char buf[32];
  out->append(buf, static_cast<size_t>(PutDate(buf, days_since_2000, bc) - buf));
}

void AppendTime(std::string* out, int64_t usec) {
  char buf[32];
  char* e = PutTime(buf, usec);
  if (e == nullptr) *out += TimeText(usec);
  else out->append(buf, static_cast<size_t>(e - buf));
}

// A timestamp (tz: with time zone, printed in UTC) at p; at most 50 bytes.
char* PutTimestampUtc(char* p, int64_t ts, bool tz) {
  if (ts == INT64_MIN) { std::memcpy(p, "-infinity", 9); return p + 9; }
  if (ts == INT64_MAX) { std::memcpy(p, "infinity", 8); return p + 8; }
  int64_t days = ts / kUsecPerDay;
  int64_t rem = ts % kUsecPerDay;
  if (rem < 0) { rem += kUsecPerDay; days--; }
  bool bc;
  p = PutDate(p, days, &bc);
  *p++ = ' ';
  p = PutTime(p, rem);   // 0 <= rem < one day: never nullptr
  if (tz) { *p++ = '+'; *p++ = '0'; *p++ = '0'; }
  if (bc) { *p++ = ' '; *p++ = 'B'; *p++ = 'C'; }
  return p;
}

void AppendTimestampUtc(std::string* out, int64_t ts, bool tz) {
  char buf[80];
  out->append(buf, static_cast<size_t>(PutTimestampUtc(buf, ts, tz) - buf));
}

// 'text' with single quotes doubled. Appends take (pointer, length): the (first, last) overloads
// go through std::string's general replace, which showed in profiles.
void AppendQuoted(std::string* out, const char* p, size_t n) {
  const char* end = p + n;
  const char* q = static_cast<const char*>(std::memchr(p, '\'', n));
  if (q == nullptr) {   // the common case: one write of quote, text, quote
    const size_t at = out->size();
    out->resize(at + n + 2);
    char* w = out->data() + at;
    w[0] = '\'';
    std::memcpy(w + 1, p, n);
    w[n + 1] = '\'';
    return;
  }
  *out += '\'';
  while (p < end) {
    if (q == nullptr) { out->append(p, static_cast<size_t>(end - p)); break; }
    out->append(p, static_cast<size_t>(q + 1 - p));
    *out += '\'';
    p = q + 1;
    q = static_cast<const char*>(std::memchr(p, '\'', static_cast<size_t>(end - p)));
  }
  *out += '\'';
}

bool Utc(const TextOptions& opts) { return opts.timezone.empty() || opts.timezone == "UTC"; }

// The literal of a non-NULL value as test_decoding prints it: numbers and numeric bare, booleans
// as true/false, everything else quoted.
void AppendLiteral(std::string* out, const Value& v, Oid type_oid, const TextOptions& opts) {
  switch (type_oid) {   // fast paths: the value's TypeId is the one decoded for the column type
    case 20: case 21: case 23: case 26:
      if (v.type == TypeIdFromOid(type_oid)) { AppendInt(out, v.i); return; }
      break;
    case 16:
      if (v.type == TypeId::kBool) { *out += v.i ? "true" : "false"; return; }
      break;
    case 1700:
      if (v.type == TypeId::kNumeric) { *out += v.s; return; }
      break;
    case 25: case 1042: case 1043: case 114:
      if (v.type == TypeIdFromOid(type_oid)) { AppendQuoted(out, v.s.data(), v.s.size()); return; }
      break;
    case 1082:
      if (v.type == TypeId::kDate && v.i != INT32_MIN && v.i != INT32_MAX) {
        bool bc;
        *out += '\'';
        AppendDate(out, v.i, &bc);
        *out += bc ? " BC'" : "'";
        return;
      }
      break;
    case 1083:
      if (v.type == TypeId::kTime) { *out += '\''; AppendTime(out, v.i); *out += '\''; return; }
      break;
    case 1114: case 1184:
      if (v.type == TypeIdFromOid(type_oid) && (type_oid == 1114 || Utc(opts))) {
        *out += '\'';
        AppendTimestampUtc(out, v.i, type_oid == 1184);
        *out += '\'';
        return;
      }
      break;
    default: break;
  }
  std::string txt = ValueToText(v, type_oid, opts);
  switch (type_oid) {
    case 20: case 21: case 23: case 26: case 700: case 701: case 1700: *out += txt; return;
    case 16: *out += txt == "t" ? "true" : "false"; return;
    default: AppendQuoted(out, txt.data(), txt.size()); return;
  }
}

// " name[type]:" of a column, as test_decoding prints it before the value.
void AppendColumnHeader(std::string* out, const AttributeDesc& a) {
  *out += ' ';
  AppendQuotedIdent(out, a.name);
  *out += '[';
  if (const char* tn = ScalarTypeName(a.type_oid)) *out += tn;
  else *out += FormatTypeName(a.type_oid);
  *out += "]:";
}

// `headers` (may be null): the column headers of `d`, precomputed by TestDecodingFormatter.
void AppendTuple(std::string* out, const RelationDesc& d, const std::vector<std::string>* headers,
                 const Row& row, bool skip_nulls, const TextOptions& opts) {
  if (headers != nullptr && internal::AppendTupleDirect(out, d, *headers, row, skip_nulls, opts))
    return;
  for (size_t i = 0; i < d.attrs.size() && i < row.size(); i++) {
    const AttributeDesc& a = d.attrs[i];
    if (a.dropped) continue;
    const Value& v = row[i];
    if (v.is_null && !v.unchanged_toast && skip_nulls) continue;
    if (headers != nullptr) *out += (*headers)[i];
    else AppendColumnHeader(out, a);
    if (v.unchanged_toast) *out += "unchanged-toast-datum";
    else if (v.is_null) *out += "null";
    else AppendLiteral(out, v, a.type_oid, opts);
  }
}

void AppendQualified(std::string* out, const RelationDesc* d, Oid relid) {
  if (d == nullptr) { *out += "oid" + std::to_string(relid); return; }
  AppendQuotedIdent(out, d->schema);
  *out += '.';
  AppendQuotedIdent(out, d->name);
}
}  // namespace

// For the direct tuple writer (text_direct.h), which lives in its own file.
namespace internal {
char* PutDateText(char* p, int64_t days_since_2000, bool* bc) { return PutDate(p, days_since_2000, bc); }
char* PutTimeText(char* p, int64_t usec) { return PutTime(p, usec); }
char* PutTimestampUtcText(char* p, int64_t ts, bool tz) { return PutTimestampUtc(p, ts, tz); }
}  // namespace internal

namespace {
// `headers_of` (may be null) returns the cached column headers of a relation.
template <typename HeadersOf>
void AppendChange(std::string* out, const Change& c,
                  const std::function<const RelationDesc*(Oid)>& by_oid, const TextOptions& opts,
                  HeadersOf&& headers_of) {
  *out += "table ";
  if (c.kind == ChangeKind::kTruncate) {
    for (size_t i = 0; i < c.truncated.size(); i++) {
      if (i) *out += ", ";
      AppendQualified(out, by_oid(c.truncated[i]), c.truncated[i]);
    }
    *out += ": TRUNCATE:";
    if (c.truncate_restart_seqs) *out += " restart_seqs";
    if (c.truncate_cascade) *out += " cascade";
    if (!c.truncate_restart_seqs && !c.truncate_cascade) *out += " (no-flags)";
    return;
  }
  const RelationDesc* d = by_oid(c.relid);
  const std::vector<std::string>* h = d != nullptr ? headers_of(d) : nullptr;
  if (h != nullptr) *out += h->back();   // cached "schema.name"
  else AppendQualified(out, d, c.relid);
  *out += ':';
  if (d == nullptr) { *out += " (unknown relation)"; return; }
  switch (c.kind) {
    case ChangeKind::kInsert:
      *out += " INSERT:";
      if (c.new_row) AppendTuple(out, *d, h, *c.new_row, false, opts);
      else *out += " (no-tuple-data)";
      break;
    case ChangeKind::kUpdate:
      *out += " UPDATE:";
      if (c.old_row) {
        *out += " old-key:";
        AppendTuple(out, *d, h, *c.old_row, true, opts);
        *out += " new-tuple:";
      }
      if (c.new_row) AppendTuple(out, *d, h, *c.new_row, false, opts);
      else *out += " (no-tuple-data)";
      break;
    case ChangeKind::kDelete:
      *out += " DELETE:";
      if (c.old_row) AppendTuple(out, *d, h, *c.old_row, true, opts);
      else *out += " (no-tuple-data)";
      break;
    default: break;
  }
}
}  // namespace

void AppendChangeTestDecoding(std::string* out, const Change& c,
                              const std::function<const RelationDesc*(Oid)>& by_oid,
                              const TextOptions& opts) {
  AppendChange(out, c, by_oid, opts,
               [](const RelationDesc*) -> const std::vector<std::string>* { return nullptr; });
}

TestDecodingFormatter::TestDecodingFormatter(TextOptions opts) : opts_(std::move(opts)) {}

void TestDecodingFormatter::Append(std::string* out, const Change& c,
                                   const std::function<const RelationDesc*(Oid)>& by_oid) {
  AppendChange(out, c, by_oid, opts_, [this](const RelationDesc* d) {
    if (d == last_desc_ && last_ != nullptr && last_->relid == d->relid &&
        last_->valid_from == d->valid_from && last_->cols.size() == d->attrs.size() + 1)
      return &last_->cols;
    Headers& e = headers_[d];
    last_desc_ = d;
    last_ = &e;
    // A descriptor replaced at the same address (another version) is very likely to differ in
    // one of these; the contract still asks for Clear() then.
    if (e.cols.size() != d->attrs.size() + 1 || e.valid_from != d->valid_from ||
        e.relid != d->relid) {
      e.cols.clear();
      for (const AttributeDesc& a : d->attrs) {
        std::string h;
        if (!a.dropped) AppendColumnHeader(&h, a);
        e.cols.push_back(std::move(h));
      }
      std::string q;   // the qualified name, last
      AppendQualified(&q, d, d->relid);
      e.cols.push_back(std::move(q));
      e.valid_from = d->valid_from;
      e.relid = d->relid;
    }
    return &e.cols;
  });
}

void TestDecodingFormatter::Clear() {
  headers_.clear();
  last_desc_ = nullptr;
  last_ = nullptr;
}

std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid) {
  return FormatChangeTestDecoding(c, by_oid, TextOptions{});
}

std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid,
                                     const TextOptions& opts) {
  std::string out;
  AppendChangeTestDecoding(&out, c, by_oid, opts);
  return out;
}

}  // namespace pgt
