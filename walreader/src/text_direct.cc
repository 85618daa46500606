// Direct tuple writer for test_decoding's text: see text_direct.h.
#include "text_direct.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pgt::internal {

namespace {
// --- direct writing -------------------------------------------------------------------------
// The common column types are written through a pointer into space reserved once per tuple:
// appending piece by piece to the std::string (a capacity check and often a call per piece) cost
// more than the formatting itself. Each literal has an upper bound computed first; a value
// without one (other types, times TimeText prints differently, time zones other than UTC) sends
// the whole tuple down the general path (AppendLiteral), which prints the same text.

// TypeIdFromOid for the types LiteralBound handles, visible to the compiler (the out-of-line
// call per value showed in profiles).
inline TypeId FastTypeOf(Oid type_oid) {
  switch (type_oid) {
    case 20: return TypeId::kInt8;
    case 21: return TypeId::kInt2;
    case 23: return TypeId::kInt4;
    case 26: return TypeId::kOid;
    case 25: return TypeId::kText;
    case 1042: return TypeId::kBpchar;
    case 1043: return TypeId::kVarchar;
    case 114: return TypeId::kJson;
    case 1114: return TypeId::kTimestamp;
    case 1184: return TypeId::kTimestamptz;
    default: return TypeIdFromOid(type_oid);
  }
}

// Upper bound of the bytes PutLiteral writes for the non-NULL `v` of a column of type
// `type_oid`, or 0 if PutLiteral does not handle it.
size_t LiteralBound(const Value& v, Oid type_oid, bool utc) {
  switch (type_oid) {
    case 20: case 21: case 23: case 26:
      return v.type == FastTypeOf(type_oid) ? 20 : 0;
    case 16:
      return v.type == TypeId::kBool ? 5 : 0;
    case 1700:
      return v.type == TypeId::kNumeric ? v.s.size() : 0;
    case 25: case 1042: case 1043: case 114:
      return v.type == FastTypeOf(type_oid) ? 2 * v.s.size() + 2 : 0;
    case 1082:
      return v.type == TypeId::kDate && v.i != INT32_MIN && v.i != INT32_MAX ? 30 : 0;
    case 1083:   // PutTime prints 0 <= t < 100 hours
      return v.type == TypeId::kTime && v.i >= 0 && v.i < 360000000000LL ? 17 : 0;
    case 1114: case 1184:
      return v.type == FastTypeOf(type_oid) && (type_oid == 1114 || utc) ? 52 : 0;
    default:
      return 0;
  }
}

// 'text' with single quotes doubled, at p.
char* PutQuoted(char* p, const char* s, size_t n) {
  *p++ = '\'';
  const char* end = s + n;
  for (;;) {
    const char* q = static_cast<const char*>(std::memchr(s, '\'', static_cast<size_t>(end - s)));
    size_t k = static_cast<size_t>((q == nullptr ? end : q + 1) - s);
    std::memcpy(p, s, k);
    p += k;
    if (q == nullptr) break;
    *p++ = '\'';
    s = q + 1;
  }
  *p++ = '\'';
  return p;
}

// The literal of a value LiteralBound accepted (same text as AppendLiteral).
char* PutLiteral(char* p, const Value& v, Oid type_oid) {
  switch (type_oid) {
    case 20: case 21: case 23: case 26:
      return std::to_chars(p, p + 20, v.i).ptr;
    case 16:
      if (v.i) { std::memcpy(p, "true", 4); return p + 4; }
      std::memcpy(p, "false", 5);
      return p + 5;
    case 1700:
      std::memcpy(p, v.s.data(), v.s.size());
      return p + v.s.size();
    case 1082: {
      bool bc;
      *p++ = '\'';
      p = PutDateText(p, v.i, &bc);
      if (bc) { std::memcpy(p, " BC", 3); p += 3; }
      *p++ = '\'';
      return p;
    }
    case 1083:
      *p++ = '\'';
      p = PutTimeText(p, v.i);
      *p++ = '\'';
      return p;
    case 1114: case 1184:
      *p++ = '\'';
      p = PutTimestampUtcText(p, v.i, type_oid == 1184);
      *p++ = '\'';
      return p;
    default:   // text, bpchar, varchar, json
      return PutQuoted(p, v.s.data(), v.s.size());
  }
}

}  // namespace

bool AppendTupleDirect(std::string* out, const RelationDesc& d,
                       const std::vector<std::string>& headers, const Row& row, bool skip_nulls,
                       const TextOptions& opts) {
  const bool utc = opts.timezone.empty() || opts.timezone == "UTC";
  const size_t n = std::min(d.attrs.size(), row.size());
  size_t bound = 0;
  for (size_t i = 0; i < n; i++) {
    const Value& v = row[i];
    if (d.attrs[i].dropped || (v.is_null && !v.unchanged_toast && skip_nulls)) continue;
    bound += headers[i].size();
    if (v.unchanged_toast) bound += 21;   // "unchanged-toast-datum"
    else if (v.is_null) bound += 4;
    else if (size_t b = LiteralBound(v, d.attrs[i].type_oid, utc); b != 0) bound += b;
    else return false;
  }
  const size_t at = out->size();
  out->resize(at + bound);
  char* p = out->data() + at;
  for (size_t i = 0; i < n; i++) {
    const Value& v = row[i];
    if (d.attrs[i].dropped || (v.is_null && !v.unchanged_toast && skip_nulls)) continue;
    std::memcpy(p, headers[i].data(), headers[i].size());
    p += headers[i].size();
    if (v.unchanged_toast) {
      std::memcpy(p, "unchanged-toast-datum", 21);
      p += 21;
    } else if (v.is_null) {
      std::memcpy(p, "null", 4);
      p += 4;
    } else {
      p = PutLiteral(p, v, d.attrs[i].type_oid);
    }
  }
  out->resize(static_cast<size_t>(p - out->data()));
  return true;
}


}  // namespace pgt::internal
