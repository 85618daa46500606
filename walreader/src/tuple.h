// Heap tuple decoding (internal): WAL tuple bytes + relation descriptor -> pgt::Row.
// Handles null bitmaps, alignment, 1-byte and 4-byte varlena headers, inline pglz compression,
// missing attributes (atthasmissing), dropped columns, and external TOAST pointers through a
// ToastLookup (reassembled chunks) or a policy when the value is not available.
#pragma once

#include <cstdint>
#include <string>

#include "walreader/catalog.h"
#include "walreader/change.h"
#include "walreader/status.h"

namespace pgt::internal {

// xl_heap_header fields plus the tuple bytes from t_bits on (on-page offset 23).
struct TupleView {
  uint16_t infomask2 = 0;
  uint16_t infomask = 0;
  uint8_t t_hoff = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  int natts() const { return infomask2 & 0x07FF; }
};
constexpr size_t kHeapHeaderSize = 5;          // SizeOfHeapHeader
constexpr size_t kTupleHeaderOffsetBits = 23;  // offsetof(HeapTupleHeaderData, t_bits)

// Parses an xl_heap_header followed by the tuple bytes.
Result<TupleView> ParseHeapTuple(const uint8_t* p, size_t len);

// On-disk TOAST pointer (varatt_external).
struct ToastPointer {
  int32_t rawsize = 0;     // including the 4-byte varlena header
  uint32_t extinfo = 0;    // low 30 bits: stored size; top 2: compression method
  Oid valueid = 0;
  Oid toastrelid = 0;
  uint32_t extsize() const { return extinfo & 0x3FFFFFFFu; }
  bool compressed() const { return static_cast<int64_t>(extsize()) < rawsize - 4; }
};

// Source of reassembled external TOAST values (the chunk bytes concatenated, still compressed
// if the pointer says so). Returns nullptr when the chunks are not known.
class ToastLookup {
 public:
  virtual ~ToastLookup() = default;
  virtual const std::string* Find(const ToastPointer& ptr) = 0;
};

// What to do with an external value the ToastLookup cannot supply.
enum class ExternalPolicy {
  kError,           // INSERT / new tuples of a multi-insert: the value must be in this WAL
  kUnchangedToast,  // UPDATE new tuple: the value was not changed, its content is not in WAL
};

struct TupleContext {
  const RelationDesc* desc = nullptr;
  Lsn lsn = kInvalidLsn;
  ExternalPolicy policy = ExternalPolicy::kError;
  ToastLookup* toast = nullptr;
  // Optional: a row of a change already emitted, whose vector and strings DecodeTuple reuses
  // (left empty). Saves the allocations of every decoded row.
  Row* recycled = nullptr;
};

Result<Row> DecodeTuple(const TupleView& t, const TupleContext& ctx);

// Decodes one varlena datum starting at `p` (header included) with at most `avail` bytes;
// sets *consumed to its on-disk size. Used by DecodeTuple and the tests.
Result<Value> DecodeVarlena(const uint8_t* p, size_t avail, TypeId type, const TupleContext& ctx,
                            const std::string& column, size_t* consumed);

}  // namespace pgt::internal
