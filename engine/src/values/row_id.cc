// Row ids (see row_id.h).
#include "values/row_id.h"

#include <xxhash.h>

#include <cstring>

#include "values/codec.h"

namespace pgt::values {

RowId ComputeRowId(const Row& identity_values) {
  std::string key;
  EncodeKeyTuple(identity_values, &key);
  return RowIdFromEncodedKey(key);
}

RowId RowIdFromEncodedKey(std::string_view key) {
  XXH128_hash_t h = XXH3_128bits_withSeed(key.data(), key.size(), kRowIdSeed);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  RowId id;
  std::memcpy(id.bytes, c.digest, 16);
  return id;
}

std::string FormatUuid(const RowId& id) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[id.bytes[i] >> 4]);
    out.push_back(kHex[id.bytes[i] & 15]);
  }
  return out;
}

Value RowIdValue(const RowId& id) {
  return Value::Str(TypeId::kUuid, std::string(reinterpret_cast<const char*>(id.bytes), 16));
}

}  // namespace pgt::values
