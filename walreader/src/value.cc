// Type OID <-> TypeId mapping for the built-in types walreader decodes (pg_type.dat).
#include "walreader/value.h"

namespace pgt {

namespace {
struct TypeEntry {
  TypeId id;
  Oid oid;
  const char* name;
};
constexpr TypeEntry kTypes[] = {
    {TypeId::kBool, 16, "bool"},          {TypeId::kInt2, 21, "int2"},
    {TypeId::kInt4, 23, "int4"},          {TypeId::kInt8, 20, "int8"},
    {TypeId::kOid, 26, "oid"},            {TypeId::kFloat4, 700, "float4"},
    {TypeId::kFloat8, 701, "float8"},     {TypeId::kNumeric, 1700, "numeric"},
    {TypeId::kText, 25, "text"},          {TypeId::kVarchar, 1043, "varchar"},
    {TypeId::kBpchar, 1042, "bpchar"},    {TypeId::kDate, 1082, "date"},
    {TypeId::kTime, 1083, "time"},        {TypeId::kTimestamp, 1114, "timestamp"},
    {TypeId::kTimestamptz, 1184, "timestamptz"}, {TypeId::kBytea, 17, "bytea"},
    {TypeId::kUuid, 2950, "uuid"},        {TypeId::kJson, 114, "json"},
    {TypeId::kJsonb, 3802, "jsonb"},
};
}  // namespace

TypeId TypeIdFromOid(Oid type_oid) {
  // A switch, not a scan of kTypes: the text output calls this for every column of every row.
  switch (type_oid) {
    case 16: return TypeId::kBool;
    case 21: return TypeId::kInt2;
    case 23: return TypeId::kInt4;
    case 20: return TypeId::kInt8;
    case 26: return TypeId::kOid;
    case 700: return TypeId::kFloat4;
    case 701: return TypeId::kFloat8;
    case 1700: return TypeId::kNumeric;
    case 25: return TypeId::kText;
    case 1043: return TypeId::kVarchar;
    case 1042: return TypeId::kBpchar;
    case 1082: return TypeId::kDate;
    case 1083: return TypeId::kTime;
    case 1114: return TypeId::kTimestamp;
    case 1184: return TypeId::kTimestamptz;
    case 17: return TypeId::kBytea;
    case 2950: return TypeId::kUuid;
    case 114: return TypeId::kJson;
    case 3802: return TypeId::kJsonb;
    default: return TypeId::kUnknown;
  }
}

Oid OidFromTypeId(TypeId t) {
  for (const auto& e : kTypes)
    if (e.id == t) return e.oid;
  return 0;
}

const char* TypeName(TypeId t) {
  for (const auto& e : kTypes)
    if (e.id == t) return e.name;
  return "unknown";
}

}  // namespace pgt
