// Row and ordered-key encodings (see codec.h).
//
// Row format: varint(count), then per value a tag byte (bits 0-5: TypeId, bit 6: NULL,
// bit 7: unchanged_toast) followed, unless NULL, by the payload: zigzag varint for the integer
// types (bool, ints, oid, date, time, timestamps), 8 little-endian bytes of the double for
// floats, varint length + bytes for everything else.
#include "values/codec.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "values/compare.h"
#include "values/decimal.h"

namespace pgt::values {
namespace {

enum class Payload { kInt, kFloat, kBytes };

Payload PayloadOf(TypeId t) {
  switch (t) {
    case TypeId::kBool: case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8:
    case TypeId::kOid: case TypeId::kDate: case TypeId::kTime: case TypeId::kTimestamp:
    case TypeId::kTimestamptz:
      return Payload::kInt;
    case TypeId::kFloat4: case TypeId::kFloat8: return Payload::kFloat;
    default: return Payload::kBytes;
  }
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    r |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) { *v = r; return true; }
  }
  return false;
}

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) out->push_back(static_cast<char>(v >> (8 * i)));
}

// Bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00: order-preserving and
// self-delimiting.
void PutEscapedBytes(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xFF');
  }
  out->push_back('\0');
  out->push_back('\0');
}

void PutNumeric(std::string* out, const std::string& text) {
  Result<Decimal> parsed = Decimal::Parse(text);
  if (!parsed.ok()) {  // not numeric text: keep the bytes (sorts after every number)
    out->push_back('\x70');
    PutEscapedBytes(out, text);
    return;
  }
  const Decimal& d = parsed.value();
  switch (d.kind()) {
    case Decimal::Kind::kNegInf: out->push_back('\x10'); return;
    case Decimal::Kind::kPosInf: out->push_back('\x50'); return;
    case Decimal::Kind::kNaN: out->push_back('\x60'); return;
    case Decimal::Kind::kFinite: break;
  }
  int sign = d.Sign();
  if (sign == 0) { out->push_back('\x30'); return; }
  std::string digits;
  int32_t exponent;
  d.Normalized(&digits, &exponent);
  if (digits.size() % 2) digits.push_back('0');
  uint8_t flip = sign < 0 ? 0xFF : 0x00;
  out->push_back(sign < 0 ? '\x20' : '\x40');
  // Larger exponent = larger magnitude; the significand 0.d1d2... is in [0.1, 1).
  PutBigEndian(out, (static_cast<uint32_t>(exponent) ^ 0x80000000u) ^ (flip ? 0xFFFFFFFFu : 0), 4);
  for (size_t i = 0; i < digits.size(); i += 2) {
    uint8_t pair = static_cast<uint8_t>((digits[i] - '0') * 10 + (digits[i + 1] - '0') + 1);
    out->push_back(static_cast<char>(pair ^ flip));
  }
  out->push_back(static_cast<char>(flip));  // terminator below every digit pair
}

void PutDouble(std::string* out, double f) {
  if (std::isnan(f)) { PutBigEndian(out, ~uint64_t{0}, 8); return; }
  if (f == 0) f = 0;  // -0 == 0
  uint64_t bits;
  std::memcpy(&bits, &f, 8);
  bits = (bits & (uint64_t{1} << 63)) ? ~bits : bits | (uint64_t{1} << 63);
  PutBigEndian(out, bits, 8);
}

}  // namespace

void EncodeRow(const Row& row, std::string* out) {
  PutVarint(out, row.size());
  for (const Value& v : row) {
    uint8_t tag = static_cast<uint8_t>(v.type) & 0x3F;
    if (v.is_null) tag |= 0x40;
    if (v.unchanged_toast) tag |= 0x80;
    out->push_back(static_cast<char>(tag));
    if (v.is_null) continue;
    switch (PayloadOf(v.type)) {
      case Payload::kInt:
        PutVarint(out, (static_cast<uint64_t>(v.i) << 1) ^ static_cast<uint64_t>(v.i >> 63));
        break;
      case Payload::kFloat: {
        uint64_t bits;
        std::memcpy(&bits, &v.f, 8);
        for (int i = 0; i < 8; i++) out->push_back(static_cast<char>(bits >> (8 * i)));
        break;
      }
      case Payload::kBytes:
        PutVarint(out, v.s.size());
        out->append(v.s);
        break;
    }
  }
}

Result<Row> DecodeRow(std::string_view in) {
  auto corrupt = [](const char* what) {
    return Status::Corruption(std::string("encoded row: ") + what);
  };
  uint64_t n;
  if (!GetVarint(&in, &n)) return corrupt("bad value count");
  if (n > in.size()) return corrupt("value count exceeds the data");
  Row row;
  row.reserve(n);
  for (uint64_t k = 0; k < n; k++) {
    if (in.empty()) return corrupt("truncated");
    uint8_t tag = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    Value v;
    uint8_t t = tag & 0x3F;
    if (t > static_cast<uint8_t>(TypeId::kJsonb)) return corrupt("unknown type tag");
    v.type = static_cast<TypeId>(t);
    v.is_null = tag & 0x40;
    v.unchanged_toast = tag & 0x80;
    if (!v.is_null) {
      switch (PayloadOf(v.type)) {
        case Payload::kInt: {
          uint64_t z;
          if (!GetVarint(&in, &z)) return corrupt("bad integer");
          v.i = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
          break;
        }
        case Payload::kFloat: {
          if (in.size() < 8) return corrupt("truncated float");
          uint64_t bits = 0;
          for (int i = 0; i < 8; i++) bits |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
          std::memcpy(&v.f, &bits, 8);
          in.remove_prefix(8);
          break;
        }
        case Payload::kBytes: {
          uint64_t len;
          if (!GetVarint(&in, &len) || len > in.size()) return corrupt("bad string length");
          v.s.assign(in.data(), len);
          in.remove_prefix(len);
          break;
        }
      }
    }
    row.push_back(std::move(v));
  }
  if (!in.empty()) return corrupt("trailing bytes");
  return row;
}

void EncodeOrderedKey(const Value& v, std::string* out) {
  if (v.is_null) { out->push_back('\x01'); return; }
  out->push_back('\x02');
  switch (v.type) {
    case TypeId::kBool: out->push_back(v.i ? '\x01' : '\x00'); return;
    case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8: case TypeId::kOid:
    case TypeId::kTime: case TypeId::kTimestamp: case TypeId::kTimestamptz:
      PutBigEndian(out, static_cast<uint64_t>(v.i) ^ (uint64_t{1} << 63), 8);
      return;
    case TypeId::kDate:
      PutBigEndian(out, static_cast<uint32_t>(static_cast<int32_t>(v.i)) ^ 0x80000000u, 4);
      return;
    case TypeId::kFloat4: case TypeId::kFloat8: PutDouble(out, v.f); return;
    case TypeId::kNumeric: PutNumeric(out, v.s); return;
    case TypeId::kBpchar: PutEscapedBytes(out, BpcharTrim(v.s)); return;
    default: PutEscapedBytes(out, v.s); return;  // text, varchar, bytea, uuid, json, jsonb
  }
}

void EncodeKeyTuple(const Row& key_values, std::string* out) {
  for (const Value& v : key_values) EncodeOrderedKey(v, out);
}

}  // namespace pgt::values
