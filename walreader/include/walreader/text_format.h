// Text forms of decoded values and changes (added to the API).
//
// ValueToText renders a non-NULL Value as PostgreSQL's output function does with the default
// settings (DateStyle ISO, extra_float_digits 1, bytea_output hex, TimeZone UTC for timestamptz).
// FormatChangeTestDecoding renders a change exactly as contrib/test_decoding prints it, so that
// the server's own logical decoding can serve as the oracle. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <string>

#include "walreader/catalog.h"
#include "walreader/change.h"

namespace pgt {

std::string ValueToText(const Value& v);
// format_type_be() name of a type OID ("integer", "character varying", ...).
std::string FormatTypeName(Oid type_oid);
// "table public.t: INSERT: id[integer]:1 name[text]:'x'". `by_oid` resolves relids.
std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid);

}  // namespace pgt
