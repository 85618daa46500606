// Row identity: the 128-bit id stored as the stream table's `__pgt_row_id uuid`.
// RowId = XXH3-128 (fixed seed) of EncodeKeyTuple(identity values), so it does not depend on a
// numeric's display scale (1.5 and 1.50 give the same id) or on bpchar padding.
// The byte order is XXH128's canonical (big-endian) form.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "walreader/value.h"

namespace pgt::values {

struct RowId {
  uint8_t bytes[16] = {};
  bool operator==(const RowId& o) const = default;
  auto operator<=>(const RowId& o) const = default;
};

constexpr uint64_t kRowIdSeed = 0x7067745F726F7769ULL;  // "pgt_rowi"

RowId ComputeRowId(const Row& identity_values);
// The same from an already encoded key tuple (EncodeKeyTuple output).
RowId RowIdFromEncodedKey(std::string_view encoded_key);
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lowercase hex.
std::string FormatUuid(const RowId& id);
// The 16 bytes as a uuid Value (TypeId::kUuid).
Value RowIdValue(const RowId& id);

}  // namespace pgt::values
