// Value output functions and test_decoding's line format: see walreader/text_format.h.
#include "walreader/text_format.h"

#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "bytes.h"
#include "jsonb.h"

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

std::string FormatTypeName(Oid type_oid) {
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
    default: return "oid " + std::to_string(type_oid);
  }
}

namespace {
std::string QuoteIdent(const std::string& s) {
  bool safe = !s.empty() && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_');
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) safe = false;
  if (safe) return s;   // (keywords are not checked)
  std::string out = "\"";
  for (char c : s) { if (c == '"') out += '"'; out += c; }
  return out + "\"";
}

std::string Literal(const Value& v, Oid type_oid, const TextOptions& opts) {
  std::string txt = ValueToText(v, opts);
  switch (type_oid) {
    case 20: case 21: case 23: case 26: case 700: case 701: case 1700: return txt;
    case 16: return txt == "t" ? "true" : "false";
    default: break;
  }
  std::string out = "'";
  for (char c : txt) { if (c == '\'') out += '\''; out += c; }
  return out + "'";
}

void AppendTuple(std::string* out, const RelationDesc& d, const Row& row, bool skip_nulls,
                 const TextOptions& opts) {
  for (size_t i = 0; i < d.attrs.size() && i < row.size(); i++) {
    const AttributeDesc& a = d.attrs[i];
    if (a.dropped) continue;
    const Value& v = row[i];
    if (v.is_null && !v.unchanged_toast && skip_nulls) continue;
    *out += " " + QuoteIdent(a.name) + "[" + FormatTypeName(a.type_oid) + "]:";
    if (v.unchanged_toast) *out += "unchanged-toast-datum";
    else if (v.is_null) *out += "null";
    else *out += Literal(v, a.type_oid, opts);
  }
}
}  // namespace

std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid) {
  return FormatChangeTestDecoding(c, by_oid, TextOptions{});
}

std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid,
                                     const TextOptions& opts) {
  auto qualified = [&](Oid relid) {
    const RelationDesc* d = by_oid(relid);
    return d ? QuoteIdent(d->schema) + "." + QuoteIdent(d->name) : "oid" + std::to_string(relid);
  };
  std::string out = "table ";
  if (c.kind == ChangeKind::kTruncate) {
    for (size_t i = 0; i < c.truncated.size(); i++) out += (i ? ", " : "") + qualified(c.truncated[i]);
    out += ": TRUNCATE:";
    if (c.truncate_restart_seqs) out += " restart_seqs";
    if (c.truncate_cascade) out += " cascade";
    if (!c.truncate_restart_seqs && !c.truncate_cascade) out += " (no-flags)";
    return out;
  }
  const RelationDesc* d = by_oid(c.relid);
  out += qualified(c.relid) + ":";
  if (d == nullptr) return out + " (unknown relation)";
  switch (c.kind) {
    case ChangeKind::kInsert:
      out += " INSERT:";
      if (c.new_row) AppendTuple(&out, *d, *c.new_row, false, opts);
      else out += " (no-tuple-data)";
      break;
    case ChangeKind::kUpdate:
      out += " UPDATE:";
      if (c.old_row) {
        out += " old-key:";
        AppendTuple(&out, *d, *c.old_row, true, opts);
        out += " new-tuple:";
      }
      if (c.new_row) AppendTuple(&out, *d, *c.new_row, false, opts);
      else out += " (no-tuple-data)";
      break;
    case ChangeKind::kDelete:
      out += " DELETE:";
      if (c.old_row) AppendTuple(&out, *d, *c.old_row, true, opts);
      else out += " (no-tuple-data)";
      break;
    default: break;
  }
  return out;
}

}  // namespace pgt
