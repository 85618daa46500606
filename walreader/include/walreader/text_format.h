// Text forms of decoded values and changes (added to the API).
//
// ValueToText renders a non-NULL Value as PostgreSQL's output function does with the default
// settings (DateStyle ISO, extra_float_digits 1, bytea_output hex, TimeZone UTC for timestamptz).
// FormatChangeTestDecoding renders a change exactly as contrib/test_decoding prints it, so that
// the server's own logical decoding can serve as the oracle. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "walreader/catalog.h"
#include "walreader/change.h"

namespace pgt {

std::string ValueToText(const Value& v);

// Added: output settings. `timezone` (IANA name, e.g. "Europe/Paris"; "" or "UTC" = UTC) renders
// timestamptz as PostgreSQL does with that TimeZone ("2024-01-01 13:00:00+01", "+05:30"). Zones
// come from the C library's tz database; a non-UTC zone sets the TZ environment variable of the
// process (under a lock) -- do not mix with other users of TZ.
struct TextOptions {
  std::string timezone;
};
std::string ValueToText(const Value& v, const TextOptions& opts);
// Added: also renders values the decoder returns raw (TypeId::kUnknown, payload bytes) when their
// column type is one of: interval, time with time zone, and arrays of the types above (any
// number of dimensions, NULL elements, lower bounds). Others fall back to ValueToText(v, opts).
std::string ValueToText(const Value& v, Oid type_oid, const TextOptions& opts);
// Added: element type OID of a supported array type OID (1007 -> 23), 0 otherwise.
Oid ArrayElementOid(Oid array_oid);
// format_type_be() name of a type OID ("integer", "character varying", ...).
std::string FormatTypeName(Oid type_oid);
// "table public.t: INSERT: id[integer]:1 name[text]:'x'". `by_oid` resolves relids.
std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid);
std::string FormatChangeTestDecoding(const Change& c,
                                     const std::function<const RelationDesc*(Oid)>& by_oid,
                                     const TextOptions& opts);
// Added: the same line appended to `*out` (no newline): the CLI's fast path, without temporaries
// for the common types.
void AppendChangeTestDecoding(std::string* out, const Change& c,
                              const std::function<const RelationDesc*(Oid)>& by_oid,
                              const TextOptions& opts);

// Added: AppendChangeTestDecoding with the column headers (" name[type]:") of each relation
// computed once and cached by RelationDesc address. The descriptors it has seen must stay
// unchanged and alive while it is used; call Clear() when they may have changed (e.g. after the
// catalog re-read a table). Not thread-safe.
class TestDecodingFormatter {
 public:
  explicit TestDecodingFormatter(TextOptions opts = {});
  void Append(std::string* out, const Change& c,
              const std::function<const RelationDesc*(Oid)>& by_oid);
  void Clear();

 private:
  struct Headers {
    Oid relid = 0;
    Lsn valid_from = kInvalidLsn;
    std::vector<std::string> cols;   // per attribute ("" for dropped ones), then "schema.name"
  };
  TextOptions opts_;
  std::unordered_map<const RelationDesc*, Headers> headers_;
  const RelationDesc* last_desc_ = nullptr;   // the last one looked up
  Headers* last_ = nullptr;
};

}  // namespace pgt
