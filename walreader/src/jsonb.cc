// jsonb container format (utils/jsonb.h): u32 header (count, FSCALAR/FOBJECT/FARRAY), JEntries
// (objects: all keys then all values), then data. JEntry: type bits 0x70000000, HAS_OFF
// 0x80000000, low 28 bits = length or end offset. Numerics and nested containers start INTALIGNed
// relative to the data start.
#include "jsonb.h"

#include <cstdio>
#include <vector>

#include "bytes.h"
#include "numeric.h"

namespace pgt::internal {

namespace {
constexpr uint32_t kCountMask = 0x0FFFFFFF, kFScalar = 0x10000000, kFObject = 0x20000000,
                   kFArray = 0x40000000;
constexpr uint32_t kJType = 0x70000000, kJHasOff = 0x80000000, kJOffLen = 0x0FFFFFFF;
constexpr uint32_t kJString = 0x00000000, kJNumeric = 0x10000000, kJFalse = 0x20000000,
                   kJTrue = 0x30000000, kJNull = 0x40000000, kJContainer = 0x50000000;

void EscapeJson(std::string* out, const uint8_t* s, size_t n) {
  *out += '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          *out += b;
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
}

Status Container(const uint8_t* p, size_t len, std::string* out, int depth);

Status Scalar(uint32_t je, const uint8_t* base, size_t start, size_t end, size_t len,
              std::string* out, int depth) {
  if (end > len || start > end) return Status::Corruption("jsonb entry out of bounds");
  switch (je & kJType) {
    case kJString: EscapeJson(out, base + start, end - start); return Status::Ok();
    case kJNumeric: {
      size_t s = AlignTo(start, 4);
      if (s + 4 > end) return Status::Corruption("jsonb numeric out of bounds");
      size_t vsz = U32(base + s) >> 2;
      if (vsz < 4 || s + vsz > end) return Status::Corruption("jsonb numeric bad size");
      PGT_ASSIGN_OR_RETURN(std::string t, NumericToText(base + s + 4, vsz - 4));
      *out += t;
      return Status::Ok();
    }
    case kJFalse: *out += "false"; return Status::Ok();
    case kJTrue: *out += "true"; return Status::Ok();
    case kJNull: *out += "null"; return Status::Ok();
    case kJContainer: {
      size_t s = AlignTo(start, 4);
      if (s > end) return Status::Corruption("jsonb container out of bounds");
      return Container(base + s, end - s, out, depth + 1);
    }
  }
  return Status::Corruption("invalid jsonb entry type");
}

Status Container(const uint8_t* p, size_t len, std::string* out, int depth) {
  if (depth > 1000) return Status::Corruption("jsonb nesting too deep");
  if (len < 4) return Status::Corruption("jsonb container too short");
  uint32_t h = U32(p);
  uint32_t count = h & kCountMask;
  bool object = h & kFObject;
  size_t nentries = object ? 2 * static_cast<size_t>(count) : count;
  if (4 + 4 * nentries > len) return Status::Corruption("jsonb JEntries out of bounds");
  const uint8_t* base = p + 4 + 4 * nentries;
  size_t dlen = len - 4 - 4 * nentries;
  std::vector<size_t> starts(nentries), ends(nentries);
  size_t off = 0;
  for (size_t i = 0; i < nentries; i++) {
    uint32_t je = U32(p + 4 + 4 * i);
    size_t end = (je & kJHasOff) ? (je & kJOffLen) : off + (je & kJOffLen);
    starts[i] = off;
    ends[i] = end;
    off = end;
  }
  auto entry = [&](size_t i) { return U32(p + 4 + 4 * i); };
  if ((h & kFScalar) && (h & kFArray) && count == 1)
    return Scalar(entry(0), base, starts[0], ends[0], dlen, out, depth);
  if (object) {
    *out += '{';
    for (size_t i = 0; i < count; i++) {
      if (i) *out += ", ";
      PGT_RETURN_IF_ERROR(Scalar(entry(i), base, starts[i], ends[i], dlen, out, depth));
      *out += ": ";
      size_t v = i + count;
      PGT_RETURN_IF_ERROR(Scalar(entry(v), base, starts[v], ends[v], dlen, out, depth));
    }
    *out += '}';
  } else {
    *out += '[';
    for (size_t i = 0; i < count; i++) {
      if (i) *out += ", ";
      PGT_RETURN_IF_ERROR(Scalar(entry(i), base, starts[i], ends[i], dlen, out, depth));
    }
    *out += ']';
  }
  return Status::Ok();
}
}  // namespace

Result<std::string> JsonbToText(const uint8_t* p, size_t len) {
  std::string out;
  PGT_RETURN_IF_ERROR(Container(p, len, &out, 0));
  return out;
}

}  // namespace pgt::internal
