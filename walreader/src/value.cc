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
  for (const auto& e : kTypes)
    if (e.oid == type_oid) return e.id;
  return TypeId::kUnknown;
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
