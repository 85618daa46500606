// Value: one typed column value as decoded from WAL or parsed from text.
//
// A Value owns its bytes. Representation per type (TypeId):
//   Bool                    -> i (0/1)
//   Int2/Int4/Int8/Oid      -> i
//   Float4/Float8           -> f
//   Date                    -> i  (days since 2000-01-01; INT32_MIN/MAX = -infinity/infinity)
//   Time                    -> i  (microseconds since midnight)
//   Timestamp/Timestamptz   -> i  (microseconds since 2000-01-01 [UTC]; INT64_MIN/MAX = infinities)
//   Numeric                 -> s  (canonical text exactly as numeric_out prints it: "-12.50",
//                                  "NaN", "Infinity", "-Infinity")
//   Text/Varchar/Bpchar/Json -> s (bytes in the database encoding; bpchar keeps its padding)
//   Bytea/Jsonb/Uuid/other  -> s  (raw binary payload; Uuid = 16 bytes)
// A NULL has is_null = true and no payload. `unchanged_toast` marks a TOASTed value that an
// UPDATE left unchanged: its content is not in the WAL (the consumer takes it from elsewhere).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "walreader/lsn.h"

namespace pgt {

enum class TypeId : uint8_t {
  kUnknown = 0, kBool, kInt2, kInt4, kInt8, kOid, kFloat4, kFloat8, kNumeric, kText, kVarchar,
  kBpchar, kDate, kTime, kTimestamp, kTimestamptz, kBytea, kUuid, kJson, kJsonb,
};

// PostgreSQL type OIDs of the built-in types above (pg_type.dat).
TypeId TypeIdFromOid(Oid type_oid);   // kUnknown if not supported
Oid OidFromTypeId(TypeId t);
const char* TypeName(TypeId t);       // "int4", "numeric", ...

struct Value {
  TypeId type = TypeId::kUnknown;
  bool is_null = true;
  bool unchanged_toast = false;
  int64_t i = 0;
  double f = 0;
  std::string s;

  static Value Null(TypeId t) { Value v; v.type = t; return v; }
  static Value Int(TypeId t, int64_t x) { Value v; v.type = t; v.is_null = false; v.i = x; return v; }
  static Value Bool(bool b) { return Int(TypeId::kBool, b ? 1 : 0); }
  static Value Str(TypeId t, std::string x) {
    Value v; v.type = t; v.is_null = false; v.s = std::move(x); return v;
  }
  bool operator==(const Value& o) const = default;
};

// A row: values indexed by attribute number - 1 (dropped columns are NULL placeholders).
using Row = std::vector<Value>;

}  // namespace pgt
