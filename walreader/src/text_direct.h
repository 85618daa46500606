// Direct tuple writer (internal): test_decoding's columns for the common types written through
// a pointer into space reserved once per tuple (see text_direct.cc). Same text as
// text_format.cc's general path, which calls it first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "walreader/catalog.h"
#include "walreader/text_format.h"
#include "walreader/value.h"

namespace pgt::internal {

// Appends the columns of `row` (" name[type]:literal" each, `headers` = the cached column
// headers of `d`; NULLs skipped when `skip_nulls`) when every value has a direct writer;
// returns false, having appended nothing, otherwise.
bool AppendTupleDirect(std::string* out, const RelationDesc& d,
                       const std::vector<std::string>& headers, const Row& row, bool skip_nulls,
                       const TextOptions& opts);

// Date, time and UTC timestamp text at p (defined in text_format.cc; at most 24, 15 and 50
// bytes); PutTimeText returns nullptr outside 0 <= t < 100 hours.
char* PutDateText(char* p, int64_t days_since_2000, bool* bc);
char* PutTimeText(char* p, int64_t usec);
char* PutTimestampUtcText(char* p, int64_t ts, bool tz);

}  // namespace pgt::internal
