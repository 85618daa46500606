// Decoder of PostgreSQL's binary COPY format (COPY ... TO STDOUT WITH (FORMAT binary)) into the
// engine's values (walreader/value.h), for bootstrap snapshots: the send format of every type
// the engine supports is its internal value (big-endian integers, IEEE floats, raw bytes in the
// database encoding), so no text is parsed or formatted — except numeric, which is printed as
// numeric_out prints it (the engine's canonical numeric form).
//
// Stream layout: 11-byte signature, int32 flags, int32 extension length + bytes; then per row
// int16 field count (-1 = end of data) and per field int32 length (-1 = NULL) + bytes.
// Input may arrive split anywhere (libpq hands out one CopyData message at a time: one row, the
// header travelling with the first). Not thread-safe; one reader per COPY.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::engine {

// True when BinaryCopyReader decodes type `t` (every TypeId but jsonb and unknown).
bool BinaryCopySupports(TypeId t);

// Numeric send format (int16 ndigits, weight, sign, dscale, base-10000 digits) -> numeric_out.
Status NumericSendToText(std::string_view payload, std::string* out);

class BinaryCopyReader {
 public:
  // `types`: one per column of the COPY's SELECT list, in order.
  explicit BinaryCopyReader(std::vector<TypeId> types);
  // Decodes every complete row in `data` (plus what was left over); `on_row` gets the values in
  // column order (the row is reused between calls: move out of it only what is kept).
  Status Feed(std::string_view data, const std::function<Status(Row&)>& on_row);
  // After the last Feed: the end-of-data marker must have been seen.
  Status Finish() const;
  int64_t rows() const { return rows_; }

 private:
  // Parses from `p` (n bytes): returns bytes consumed (0 = incomplete row).
  Result<size_t> ParseOne(const char* p, size_t n, const std::function<Status(Row&)>& on_row);
  Status DecodeField(size_t col, const char* p, int32_t len);

  std::vector<TypeId> types_;
  Row row_;
  std::string pending_;      // an incomplete row carried to the next Feed
  bool header_done_ = false;
  bool ended_ = false;
  int64_t rows_ = 0;
};

}  // namespace pgt::engine
