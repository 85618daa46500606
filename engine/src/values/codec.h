// Byte encodings of values for RocksDB.
//
// EncodeRow/DecodeRow: compact, type-tagged row serialization (values, NULLs, the
// unchanged_toast flag) for RocksDB values; round-trips every TypeId's canonical representation
// (walreader/value.h).
//
// EncodeOrderedKey: an order-preserving encoding: for two values of one type (integers of any
// width count as one type), memcmp order of the encodings equals CompareValues order, and equal
// values encode identically (numeric 1.5 and 1.50 alike; bpchar ignores trailing spaces; float
// -0 == 0; all NaNs alike). NULL sorts first. Each encoding is self-delimiting, so
// EncodeKeyTuple (the concatenation) is injective and orders tuples lexicographically.
#pragma once

#include <string>
#include <string_view>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

void EncodeRow(const Row& row, std::string* out);
Result<Row> DecodeRow(std::string_view bytes);

void EncodeOrderedKey(const Value& v, std::string* out);
void EncodeKeyTuple(const Row& key_values, std::string* out);

}  // namespace pgt::values
