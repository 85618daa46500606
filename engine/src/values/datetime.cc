// Date/time parsing, formatting and calendar math (see datetime.h). The civil-date algorithms
// are Howard Hinnant's days_from_civil / civil_from_days (public domain formulas).
#include "values/datetime.h"

#include <cctype>
#include <cstdio>
#include <optional>

namespace pgt::values {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int DaysInMonth(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

// A small cursor over the input text.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool Done() const { return i >= s.size(); }
  char Peek() const { return Done() ? '\0' : s[i]; }
  void SkipSpaces() { while (!Done() && std::isspace(static_cast<unsigned char>(s[i]))) i++; }
  // Reads 1..max_digits digits; returns the number of digits read (0 if none).
  int Digits(int64_t* out, int max_digits = 18) {
    int n = 0;
    int64_t v = 0;
    while (!Done() && std::isdigit(static_cast<unsigned char>(s[i])) && n < max_digits) {
      v = v * 10 + (s[i] - '0');
      i++;
      n++;
    }
    *out = v;
    return n;
  }
  bool Eat(char c) {
    if (Peek() != c) return false;
    i++;
    return true;
  }
};

enum class ParseErr { kNone, kSyntax, kFieldRange };

// Parses "HH:MM[:SS[.ffffff]]" into microseconds (hours may be 24 only with zero rest).
ParseErr ParseTimeOfDay(Cursor* c, int64_t* usecs) {
  int64_t h, m, s = 0, frac_us = 0;
  if (c->Digits(&h, 2) == 0 || !c->Eat(':') || c->Digits(&m, 2) != 2) return ParseErr::kSyntax;
  if (c->Eat(':')) {
    if (c->Digits(&s, 2) != 2) return ParseErr::kSyntax;
    if (c->Eat('.')) {
      int n = 0;
      int64_t scale = 100000;
      bool round_up = false;
      while (!c->Done() && std::isdigit(static_cast<unsigned char>(c->Peek()))) {
        int d = c->Peek() - '0';
        if (n < 6) { frac_us += d * scale; scale /= 10; }
        else if (n == 6) round_up = d >= 5;
        n++;
        c->i++;
      }
      if (round_up) frac_us++;
    }
  }
  if (h > 24 || m > 59 || s > 60) return ParseErr::kFieldRange;
  int64_t total = ((h * 60 + m) * 60 + s) * 1000000 + frac_us;
  if (total > kUsecsPerDay) return ParseErr::kFieldRange;
  *usecs = total;
  return ParseErr::kNone;
}

// Parses "+HH", "+HH:MM", "+HH:MM:SS", "+HHMM", "Z"; returns seconds east of UTC.
bool ParseZone(Cursor* c, int64_t* offset_secs) {
  if (c->Peek() == 'Z' || c->Peek() == 'z') { c->i++; *offset_secs = 0; return true; }
  if (c->Peek() != '+' && c->Peek() != '-') return false;
  bool neg = c->Peek() == '-';
  c->i++;
  int64_t h, m = 0, s = 0;
  int n = c->Digits(&h, 4);
  if (n == 0) return false;
  if (n == 4) { m = h % 100; h /= 100; }
  else if (n == 3) return false;
  else if (c->Eat(':')) {
    if (c->Digits(&m, 2) != 2) return false;
    if (c->Eat(':') && c->Digits(&s, 2) != 2) return false;
  }
  if (h > 15 || m > 59 || s > 59) return false;
  int64_t v = (h * 60 + m) * 60 + s;
  *offset_secs = neg ? -v : v;
  return true;
}

// Parses "YYYY-MM-DD" (year >= 1) into y/m/d.
ParseErr ParseYmd(Cursor* c, int64_t* y, int* mo, int* d) {
  int64_t yy, mm, dd;
  if (c->Digits(&yy, 9) == 0 || !c->Eat('-') || c->Digits(&mm, 2) == 0 || !c->Eat('-') ||
      c->Digits(&dd, 2) == 0)
    return ParseErr::kSyntax;
  *y = yy; *mo = static_cast<int>(mm); *d = static_cast<int>(dd);
  return ParseErr::kNone;
}

// Optional trailing " BC" / " AD" (the caller has skipped spaces).
bool ParseEra(Cursor* c, bool* bc) {
  std::string_view rest = c->s.substr(c->i);
  if (rest.size() >= 2 && (IEquals(rest.substr(0, 2), "BC") || IEquals(rest.substr(0, 2), "AD"))) {
    *bc = IEquals(rest.substr(0, 2), "BC");
    c->i += 2;
    return true;
  }
  return false;
}

Status SyntaxError(const char* type, std::string_view text) {
  return Status::InvalidArgument(std::string("invalid input syntax for type ") + type + ": \"" +
                                 std::string(text) + "\"");
}
Status FieldRange(std::string_view text) {
  return Status::InvalidArgument("date/time field value out of range: \"" + std::string(text) +
                                 "\"");
}

void AppendTimeOfDay(std::string* out, int64_t tod) {
  char buf[32];
  int64_t secs = tod / 1000000, frac = tod % 1000000;
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  out->append(buf);
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%06d", static_cast<int>(frac));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out->append(f);
  }
}

// Appends "YYYY-MM-DD" and returns whether the year is BC.
bool AppendYmd(std::string* out, int64_t pg_days) {
  int64_t y;
  int m, d;
  CivilFromDays(pg_days + 10957, &y, &m, &d);
  bool bc = y <= 0;
  if (bc) y = 1 - y;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d", static_cast<long long>(y), m, d);
  out->append(buf);
  return bc;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

std::string FormatDate(int64_t days) {
  if (days == kDateNoBegin) return "-infinity";
  if (days == kDateNoEnd) return "infinity";
  std::string out;
  if (AppendYmd(&out, days)) out.append(" BC");
  return out;
}

std::string FormatTimestamp(int64_t usecs, bool with_tz) {
  if (usecs == kTimestampNoBegin) return "-infinity";
  if (usecs == kTimestampNoEnd) return "infinity";
  int64_t days = FloorDiv(usecs, kUsecsPerDay);
  std::string out;
  bool bc = AppendYmd(&out, days);
  out.push_back(' ');
  AppendTimeOfDay(&out, usecs - days * kUsecsPerDay);
  if (with_tz) out.append("+00");
  if (bc) out.append(" BC");
  return out;
}

std::string FormatTime(int64_t usecs) {
  std::string out;
  AppendTimeOfDay(&out, usecs);
  return out;
}

Result<int64_t> ParseDate(std::string_view text) {
  std::string_view t = Trim(text);
  if (IEquals(t, "infinity") || IEquals(t, "+infinity")) return int64_t{kDateNoEnd};
  if (IEquals(t, "-infinity")) return int64_t{kDateNoBegin};
  if (IEquals(t, "epoch")) return int64_t{-10957};
  Cursor c{t};
  int64_t y;
  int m, d;
  if (ParseYmd(&c, &y, &m, &d) != ParseErr::kNone) return SyntaxError("date", text);
  c.SkipSpaces();
  bool bc = false;
  if (!c.Done() && !ParseEra(&c, &bc)) return SyntaxError("date", text);
  c.SkipSpaces();
  if (!c.Done()) return SyntaxError("date", text);
  if (y < 1 || m < 1 || m > 12 || d < 1) return FieldRange(text);
  if (bc) y = 1 - y;
  if (d > DaysInMonth(y, m)) return FieldRange(text);
  int64_t days = PgDaysFromCivil(y, m, d);
  if (days < kMinDate || days >= kEndDate)
    return Status::InvalidArgument("date out of range: \"" + std::string(text) + "\"");
  return days;
}

Result<int64_t> ParseTimestamp(std::string_view text, bool with_tz) {
  const char* tname = with_tz ? "timestamp with time zone" : "timestamp without time zone";
  std::string_view t = Trim(text);
  if (IEquals(t, "infinity") || IEquals(t, "+infinity")) return kTimestampNoEnd;
  if (IEquals(t, "-infinity")) return kTimestampNoBegin;
  if (IEquals(t, "epoch")) return INT64_C(-10957) * kUsecsPerDay;
  Cursor c{t};
  int64_t y;
  int m, d;
  if (ParseYmd(&c, &y, &m, &d) != ParseErr::kNone) return SyntaxError(tname, text);
  int64_t tod = 0, offset = 0;
  bool bc = false, have_zone = false, have_era = false;
  if (c.Peek() == 'T' || c.Peek() == 't') c.i++;
  else c.SkipSpaces();
  if (std::isdigit(static_cast<unsigned char>(c.Peek()))) {
    ParseErr e = ParseTimeOfDay(&c, &tod);
    if (e == ParseErr::kSyntax) return SyntaxError(tname, text);
    if (e == ParseErr::kFieldRange) return FieldRange(text);
  }
  while (true) {
    c.SkipSpaces();
    if (c.Done()) break;
    if (!have_zone && ParseZone(&c, &offset)) { have_zone = true; continue; }
    if (!have_era && ParseEra(&c, &bc)) { have_era = true; continue; }
    return SyntaxError(tname, text);
  }
  if (y < 1 || m < 1 || m > 12 || d < 1) return FieldRange(text);
  if (bc) y = 1 - y;
  if (d > DaysInMonth(y, m)) return FieldRange(text);
  int64_t days = PgDaysFromCivil(y, m, d);
  // Guard the multiplication; anything this far out is out of range anyway.
  if (days < kMinDate - 1 || days > kEndDate)
    return Status::InvalidArgument("timestamp out of range: \"" + std::string(text) + "\"");
  int64_t us = days * kUsecsPerDay + tod;
  if (with_tz) us -= offset * 1000000;  // a zone in timestamp-without-tz input is ignored
  if (us < kMinTimestamp || us >= kEndTimestamp)
    return Status::InvalidArgument("timestamp out of range: \"" + std::string(text) + "\"");
  return us;
}

Result<int64_t> ParseTime(std::string_view text) {
  std::string_view t = Trim(text);
  Cursor c{t};
  int64_t us;
  ParseErr e = ParseTimeOfDay(&c, &us);
  if (e == ParseErr::kSyntax) return SyntaxError("time without time zone", text);
  c.SkipSpaces();
  if (!c.Done()) return SyntaxError("time without time zone", text);
  if (e == ParseErr::kFieldRange) return FieldRange(text);
  return us;
}

Result<int64_t> DateToTimestamp(int64_t days) {
  if (days == kDateNoBegin) return kTimestampNoBegin;
  if (days == kDateNoEnd) return kTimestampNoEnd;
  if (days < kMinDate || days >= kEndTimestamp / kUsecsPerDay)
    return Status::InvalidArgument("date out of range for timestamp");
  return days * kUsecsPerDay;
}

int64_t TimestampToDate(int64_t usecs) {
  if (usecs == kTimestampNoBegin) return kDateNoBegin;
  if (usecs == kTimestampNoEnd) return kDateNoEnd;
  return FloorDiv(usecs, kUsecsPerDay);
}

}  // namespace pgt::values
