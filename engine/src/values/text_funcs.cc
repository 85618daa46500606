// Text functions; semantics in text_funcs.h.
#include "values/text_funcs.h"

#include "values/date_funcs.h"

#include <algorithm>

namespace pgt::values {
namespace {

bool IsLead(unsigned char c) { return (c & 0xC0) != 0x80; }

// Byte offsets of each character start, plus the end.
std::vector<size_t> CharStarts(const std::string& s) {
  std::vector<size_t> v;
  for (size_t i = 0; i < s.size(); ++i)
    if (IsLead(static_cast<unsigned char>(s[i]))) v.push_back(i);
  v.push_back(s.size());
  return v;
}

size_t CharLen(const std::string& s, size_t i) {
  size_t j = i + 1;
  while (j < s.size() && !IsLead(static_cast<unsigned char>(s[j]))) ++j;
  return j - i;
}

// PostgreSQL's MatchText: returns true on a match.
Result<bool> Like(const std::string& t, size_t ti, const std::string& p, size_t pi) {
  while (pi < p.size()) {
    char pc = p[pi];
    if (pc == '%') {
      while (pi < p.size() && p[pi] == '%') ++pi;
      if (pi == p.size()) return true;
      for (size_t k = ti; k <= t.size(); k += (k < t.size() ? CharLen(t, k) : 1)) {
        PGT_ASSIGN_OR_RETURN(bool m, Like(t, k, p, pi));
        if (m) return true;
        if (k == t.size()) break;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (pc == '_') {
      ti += CharLen(t, ti);
      ++pi;
      continue;
    }
    if (pc == '\\') {
      ++pi;
      if (pi >= p.size()) return Status::InvalidArgument("LIKE pattern must not end with escape character");
    }
    size_t pl = CharLen(p, pi), tl = CharLen(t, ti);
    if (pl != tl || p.compare(pi, pl, t, ti, tl) != 0) return false;
    pi += pl;
    ti += tl;
  }
  return ti == t.size();
}

std::string Trim(const std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) while (b < e && s[b] == ' ') ++b;
  if (right) while (e > b && s[e - 1] == ' ') --e;
  return s.substr(b, e - b);
}

Result<std::string> Substr(const std::string& s, int64_t start, const int64_t* len) {
  if (len && *len < 0) return Status::InvalidArgument("negative substring length not allowed");
  std::vector<size_t> starts = CharStarts(s);
  int64_t n = static_cast<int64_t>(starts.size()) - 1;
  int64_t s1 = std::max<int64_t>(start, 1);
  int64_t e = len ? start + *len : n + 1;   // exclusive, 1-based
  if (e <= s1 || s1 > n) return std::string();
  e = std::min(e, n + 1);
  return s.substr(starts[static_cast<size_t>(s1 - 1)], starts[static_cast<size_t>(e - 1)] - starts[static_cast<size_t>(s1 - 1)]);
}

}  // namespace

Result<TextFn> ParseTextFn(const std::string& name, size_t nargs) {
  struct F { const char* n; TextFn f; size_t lo, hi; };
  static const F kFns[] = {{"length", TextFn::kLength, 1, 1}, {"substr", TextFn::kSubstr, 2, 3},
                           {"concat", TextFn::kConcat, 2, 2}, {"lower", TextFn::kLower, 1, 1},
                           {"upper", TextFn::kUpper, 1, 1},   {"btrim", TextFn::kBtrim, 1, 1},
                           {"ltrim", TextFn::kLtrim, 1, 1},   {"rtrim", TextFn::kRtrim, 1, 1},
                           {"like", TextFn::kLike, 2, 2},     {"not_like", TextFn::kNotLike, 2, 2},
                           {"extract", TextFn::kExtract, 2, 2}, {"date_trunc", TextFn::kDateTrunc, 2, 2},
                           {"date_add_days", TextFn::kDateAdd, 2, 2}, {"date_sub_days", TextFn::kDateSub, 2, 2},
                           {"timestamp_add_interval", TextFn::kTsAddInterval, 4, 4}};
  for (const F& f : kFns) {
    if (name != f.n) continue;
    if (nargs < f.lo || nargs > f.hi) return Status::InvalidArgument("text function " + name + " with " + std::to_string(nargs) + " argument(s)");
    return f.f;
  }
  return Status::InvalidArgument("unknown text function \"" + name + "\"");
}

Result<Value> EvalTextFn(TextFn fn, const std::vector<Value>& a, TypeId result) {
  switch (fn) {
    case TextFn::kLength: return Value::Int(TypeId::kInt4, static_cast<int64_t>(CharStarts(a[0].s).size()) - 1);
    case TextFn::kSubstr: {
      PGT_ASSIGN_OR_RETURN(std::string r, Substr(a[0].s, a[1].i, a.size() > 2 ? &a[2].i : nullptr));
      return Value::Str(result, std::move(r));
    }
    case TextFn::kConcat: return Value::Str(result, a[0].s + a[1].s);
    case TextFn::kLower: case TextFn::kUpper: {
      std::string r = a[0].s;
      for (char& c : r) {
        if (fn == TextFn::kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (fn == TextFn::kUpper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      return Value::Str(result, std::move(r));
    }
    case TextFn::kBtrim: return Value::Str(result, Trim(a[0].s, true, true));
    case TextFn::kLtrim: return Value::Str(result, Trim(a[0].s, true, false));
    case TextFn::kRtrim: return Value::Str(result, Trim(a[0].s, false, true));
    case TextFn::kLike: case TextFn::kNotLike: {
      PGT_ASSIGN_OR_RETURN(bool m, Like(a[0].s, 0, a[1].s, 0));
      return Value::Bool(fn == TextFn::kLike ? m : !m);
    }
    case TextFn::kExtract: return Extract(a[0].s, a[1]);
    case TextFn::kDateTrunc: return DateTrunc(a[0].s, a[1]);
    case TextFn::kDateAdd: return DateAddDays(a[0], a[1].i);
    case TextFn::kDateSub: return DateAddDays(a[0], -a[1].i);
    case TextFn::kTsAddInterval: return TimestampAddInterval(a[0], a[1].i, a[2].i, a[3].i);
  }
  return Status::Internal("unknown text function");
}

}  // namespace pgt::values
