// Text I/O of values as PostgreSQL's input/output functions read and print them
// (DateStyle = ISO, TimeZone = UTC, extra_float_digits = 1, bytea_output = hex), and the
// COPY TEXT field format. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

// Parses the text form of a value of type `type` (what the type's input function accepts for
// the forms its output function prints, plus common variants). Errors carry PostgreSQL's
// messages ("invalid input syntax for type integer: \"x\"", "value \"x\" is out of range for
// type integer", ...). Numeric text is normalized through Decimal (Value.s = numeric_out form).
// jsonb is not supported (its Value payload is the binary jsonb format).
Result<Value> ParseText(TypeId type, std::string_view text);

// The text the type's output function prints. NULL prints as "" (callers handle NULL).
// jsonb and unknown types print their payload bytes unchanged.
std::string FormatText(const Value& v);

// Shortest round-trip text of a float8 / float4 as PostgreSQL 15 prints it ("1e+20", "0.1",
// "NaN", "-Infinity", "-0").
std::string FormatFloat8(double v);
std::string FormatFloat4(float v);

// Appends one COPY TEXT field: NULL -> \N; backslash, \b, \f, \n, \r, \t, \v escaped.
void AppendCopyText(std::string* out, const Value& v);
// Appends an already formatted field text with COPY escaping.
void AppendCopyEscaped(std::string* out, std::string_view text);
// Splits one COPY TEXT line (without its newline) at tabs and unescapes every field
// (\N alone -> nullopt; \b \f \n \r \t \v \\, octal \ooo, hex \xhh; other \c -> c).
Result<std::vector<std::optional<std::string>>> SplitCopyTextLine(std::string_view line);

}  // namespace pgt::values
