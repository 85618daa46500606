// Binary COPY decoding; see copy_binary.h.
#include "bulk/copy_binary.h"

#include <algorithm>
#include <cstring>

namespace pgt::engine {
namespace {
constexpr char kSignature[] = "PGCOPY\n\377\r\n";   // + '\0': 11 bytes
constexpr size_t kSignatureLen = 11;

uint16_t Be16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}
uint32_t Be32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) | (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}
uint64_t Be64(const char* p) { return (uint64_t{Be32(p)} << 32) | Be32(p + 4); }

Status BadField(size_t col, TypeId t, int32_t len) {
  return Status::Corruption("binary COPY: column " + std::to_string(col + 1) + " (" + TypeName(t) +
                            ") has " + std::to_string(len) + " bytes");
}
}  // namespace

bool BinaryCopySupports(TypeId t) { return t != TypeId::kJsonb && t != TypeId::kUnknown; }

// As get_str_from_var (utils/adt/numeric.c) prints it: integral part without leading zeros,
// exactly dscale fractional digits.
Status NumericSendToText(std::string_view p, std::string* out) {
  if (p.size() < 8) return Status::Corruption("binary COPY: numeric value too short");
  const int ndigits = static_cast<int16_t>(Be16(p.data()));
  const int weight = static_cast<int16_t>(Be16(p.data() + 2));
  const uint16_t sign = Be16(p.data() + 4);
  const int dscale = static_cast<int16_t>(Be16(p.data() + 6));
  if (sign == 0xC000) { *out = "NaN"; return Status::Ok(); }
  if (sign == 0xD000) { *out = "Infinity"; return Status::Ok(); }
  if (sign == 0xF000) { *out = "-Infinity"; return Status::Ok(); }
  if ((sign != 0 && sign != 0x4000) || ndigits < 0 || dscale < 0 ||
      p.size() != 8 + 2 * static_cast<size_t>(ndigits))
    return Status::Corruption("binary COPY: malformed numeric value");
  auto digit = [&](int k) -> int {
    return k >= 0 && k < ndigits ? static_cast<int16_t>(Be16(p.data() + 8 + 2 * k)) : 0;
  };
  for (int k = 0; k < ndigits; ++k)
    if (digit(k) < 0 || digit(k) >= 10000) return Status::Corruption("binary COPY: invalid numeric digit");
  out->resize(static_cast<size_t>(std::max(weight + 1, 1) * 4 + dscale + 8));
  char* w = out->data();
  auto put4 = [](char* o, int v) {
    o[0] = static_cast<char>('0' + v / 1000);
    o[1] = static_cast<char>('0' + v / 100 % 10);
    o[2] = static_cast<char>('0' + v / 10 % 10);
    o[3] = static_cast<char>('0' + v % 10);
    return o + 4;
  };
  if (sign == 0x4000) *w++ = '-';
  int d;
  if (weight < 0) {
    d = weight + 1;
    *w++ = '0';
  } else {
    for (d = 0; d <= weight; ++d) {
      int v = digit(d);
      if (d > 0) { w = put4(w, v); continue; }
      // First group: no leading zeros.
      char buf[4];
      put4(buf, v);
      int skip = 0;
      while (skip < 3 && buf[skip] == '0') ++skip;
      for (int i = skip; i < 4; ++i) *w++ = buf[i];
    }
  }
  if (dscale > 0) {
    *w++ = '.';
    char* end = w + dscale;
    for (int i = 0; i < dscale; i += 4, ++d) w = put4(w, digit(d));
    w = end;
  }
  out->resize(static_cast<size_t>(w - out->data()));
  return Status::Ok();
}

BinaryCopyReader::BinaryCopyReader(std::vector<TypeId> types) : types_(std::move(types)) {
  row_.resize(types_.size());
  for (size_t i = 0; i < types_.size(); ++i) row_[i].type = types_[i];
}

Status BinaryCopyReader::DecodeField(size_t col, const char* p, int32_t len) {
  Value& v = row_[col];
  const TypeId t = types_[col];
  v.type = t;
  v.unchanged_toast = false;
  if (len < 0) {   // a clean NULL: rows are compared with ==, payloads must not linger
    v.is_null = true;
    v.i = 0;
    v.f = 0;
    v.s.clear();
    return Status::Ok();
  }
  v.is_null = false;
  auto need = [&](int32_t n) { return len == n ? Status::Ok() : BadField(col, t, len); };
  switch (t) {
    case TypeId::kBool: PGT_RETURN_IF_ERROR(need(1)); v.i = p[0] != 0; return Status::Ok();
    case TypeId::kInt2: PGT_RETURN_IF_ERROR(need(2)); v.i = static_cast<int16_t>(Be16(p)); return Status::Ok();
    case TypeId::kInt4: case TypeId::kDate:
      PGT_RETURN_IF_ERROR(need(4)); v.i = static_cast<int32_t>(Be32(p)); return Status::Ok();
    case TypeId::kOid: PGT_RETURN_IF_ERROR(need(4)); v.i = Be32(p); return Status::Ok();
    case TypeId::kInt8: case TypeId::kTime: case TypeId::kTimestamp: case TypeId::kTimestamptz:
      PGT_RETURN_IF_ERROR(need(8)); v.i = static_cast<int64_t>(Be64(p)); return Status::Ok();
    case TypeId::kFloat4: {
      PGT_RETURN_IF_ERROR(need(4));
      uint32_t bits = Be32(p);
      float f;
      std::memcpy(&f, &bits, 4);
      v.f = f;
      return Status::Ok();
    }
    case TypeId::kFloat8: {
      PGT_RETURN_IF_ERROR(need(8));
      uint64_t bits = Be64(p);
      std::memcpy(&v.f, &bits, 8);
      return Status::Ok();
    }
    case TypeId::kNumeric: return NumericSendToText(std::string_view(p, static_cast<size_t>(len)), &v.s);
    case TypeId::kUuid: PGT_RETURN_IF_ERROR(need(16)); v.s.assign(p, 16); return Status::Ok();
    case TypeId::kText: case TypeId::kVarchar: case TypeId::kBpchar: case TypeId::kJson: case TypeId::kBytea:
      v.s.assign(p, static_cast<size_t>(len));
      return Status::Ok();
    case TypeId::kJsonb: case TypeId::kUnknown: break;
  }
  return Status::Unsupported(std::string("binary COPY: no decoder for type ") + TypeName(t));
}

Result<size_t> BinaryCopyReader::ParseOne(const char* p, size_t n, const std::function<Status(Row&)>& on_row) {
  size_t off = 0;
  if (!header_done_) {
    if (n < kSignatureLen + 8) return size_t{0};
    if (std::memcmp(p, kSignature, kSignatureLen) != 0) return Status::Corruption("binary COPY: bad signature");
    uint32_t ext = Be32(p + kSignatureLen + 4);
    if (n < kSignatureLen + 8 + ext) return size_t{0};
    header_done_ = true;
    return kSignatureLen + 8 + ext;
  }
  if (n < 2) return size_t{0};
  int16_t nf = static_cast<int16_t>(Be16(p));
  off = 2;
  if (nf == -1) { ended_ = true; return off; }
  if (static_cast<size_t>(nf) != types_.size())
    return Status::Corruption("binary COPY: row with " + std::to_string(nf) + " columns, expected " +
                              std::to_string(types_.size()));
  // Check completeness first: a row is decoded only once all its bytes are here.
  size_t scan = off;
  for (int16_t i = 0; i < nf; ++i) {
    if (n - scan < 4) return size_t{0};
    int32_t len = static_cast<int32_t>(Be32(p + scan));
    scan += 4;
    if (len > 0) {
      if (n - scan < static_cast<size_t>(len)) return size_t{0};
      scan += static_cast<size_t>(len);
    }
  }
  for (size_t i = 0; i < types_.size(); ++i) {
    int32_t len = static_cast<int32_t>(Be32(p + off));
    off += 4;
    PGT_RETURN_IF_ERROR(DecodeField(i, p + off, len));
    if (len > 0) off += static_cast<size_t>(len);
  }
  ++rows_;
  PGT_RETURN_IF_ERROR(on_row(row_));
  return off;
}

Status BinaryCopyReader::Feed(std::string_view data, const std::function<Status(Row&)>& on_row) {
  if (ended_ && !data.empty()) return Status::Corruption("binary COPY: data after the end marker");
  const char* p = data.data();
  size_t n = data.size();
  if (!pending_.empty()) {   // rare: a row split across messages
    pending_.append(data);
    p = pending_.data();
    n = pending_.size();
  }
  size_t used = 0;
  while (used < n && !ended_) {
    PGT_ASSIGN_OR_RETURN(size_t k, ParseOne(p + used, n - used, on_row));
    if (k == 0) break;
    used += k;
  }
  if (ended_ && used < n) return Status::Corruption("binary COPY: data after the end marker");
  std::string rest(p + used, n - used);
  pending_ = std::move(rest);
  return Status::Ok();
}

Status BinaryCopyReader::Finish() const {
  if (!ended_ || !pending_.empty()) return Status::Corruption("binary COPY: stream ended without its end marker");
  return Status::Ok();
}

}  // namespace pgt::engine
