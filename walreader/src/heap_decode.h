// Logical decoding of HEAP and HEAP2 records (internal): INSERT, UPDATE, HOT_UPDATE, DELETE,
// TRUNCATE, CONFIRM and MULTI_INSERT of tracked relations become pgt::Change entries in the
// reorder buffer; TOAST chunks of tracked tables are collected there. Every other heap record
// type is listed and ignored explicitly (wal-format.md §3).
#pragma once

#include "record.h"
#include "reorder_buffer.h"
#include "walreader/catalog.h"

namespace pgt::internal {

struct HeapDecodeContext {
  CatalogResolver* catalog = nullptr;
  Oid database_oid = 0;   // 0 = every database
  ReorderBuffer* rb = nullptr;
};

Status DecodeHeapRecord(const DecodedRecord& r, const HeapDecodeContext& ctx);
Status DecodeHeap2Record(const DecodedRecord& r, const HeapDecodeContext& ctx);

}  // namespace pgt::internal
