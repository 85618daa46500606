// Text functions with PostgreSQL's semantics for a UTF8 database under the "C" collation/ctype
// (the compiler rejects other settings): length, substr, || (textcat), lower/upper (ASCII
// letters only, as PostgreSQL does under ctype C), btrim/ltrim/rtrim (spaces), LIKE / NOT LIKE
// (characters, `_` one character, `%` any run, `\` escapes; a pattern ending in the escape is
// an error, as in PostgreSQL).
#pragma once

#include <string>
#include <vector>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

// Also the date/time functions of date_funcs.h (extract, date_trunc, date ± days), which share
// the "func" plan node.
enum class TextFn : uint8_t { kLength, kSubstr, kConcat, kLower, kUpper, kBtrim, kLtrim, kRtrim, kLike, kNotLike,
                              kExtract, kDateTrunc, kDateAdd, kDateSub, kTsAddInterval };

// The function named `name` ("length", "substr", ...) and its argument count range.
Result<TextFn> ParseTextFn(const std::string& name, size_t nargs);
// Evaluates on non-NULL arguments (the functions are strict).
Result<Value> EvalTextFn(TextFn fn, const std::vector<Value>& args, TypeId result);

}  // namespace pgt::values
