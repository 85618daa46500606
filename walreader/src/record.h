// Record decoder (internal): splits a raw WAL record into its header fields, block references
// (with optional full-page images) and main data, as DecodeXLogRecord does (wal-format.md §2).
#pragma once

#include <cstdint>
#include <vector>

#include "walreader/catalog.h"
#include "walreader/status.h"
#include "xlog_reader.h"

namespace pgt::internal {

// Resource manager ids (rmgrlist.h).
enum Rmgr : uint8_t {
  kRmXlog = 0, kRmXact = 1, kRmSmgr = 2, kRmClog = 3, kRmDbase = 4, kRmTblspc = 5,
  kRmMultiXact = 6, kRmRelMap = 7, kRmStandby = 8, kRmHeap2 = 9, kRmHeap = 10, kRmBtree = 11,
  kRmHash = 12, kRmGin = 13, kRmGist = 14, kRmSeq = 15, kRmSpgist = 16, kRmBrin = 17,
  kRmCommitTs = 18, kRmReplOrigin = 19, kRmGeneric = 20, kRmLogicalMsg = 21,
};

struct BlockRef {
  uint8_t id = 0;
  uint8_t fork = 0;              // 0 main, 1 fsm, 2 vm, 3 init
  bool will_init = false;
  RelFileLocator locator;
  uint32_t blkno = 0;
  bool has_image = false;
  uint16_t image_len = 0;        // stored (possibly compressed) image bytes
  uint16_t hole_offset = 0;
  uint16_t hole_length = 0;
  uint8_t bimg_info = 0;
  size_t image_off = 0;          // offset of the image in DecodedRecord::bytes
  bool has_data = false;
  uint16_t data_len = 0;
  size_t data_off = 0;           // offset of the block data in DecodedRecord::bytes
};

struct DecodedRecord {
  Lsn start = kInvalidLsn;
  Lsn end = kInvalidLsn;
  uint32_t xid = 0;              // xl_xid
  uint8_t info = 0;              // xl_info
  uint8_t rmid = 0;
  int pg_major = 15;             // server major version that wrote it (RawRecord::pg_major)
  Lsn prev = kInvalidLsn;
  Xid toplevel_xid = kInvalidXid;   // block id 252, if present
  bool has_origin = false;
  uint16_t origin = 0;
  std::vector<BlockRef> blocks;
  size_t main_off = 0;
  uint32_t main_len = 0;
  std::vector<uint8_t> bytes;    // the whole record

  const uint8_t* main_data() const { return bytes.data() + main_off; }
  const BlockRef* block(uint8_t id) const {
    for (const auto& b : blocks)
      if (b.id == id) return &b;
    return nullptr;
  }
  const uint8_t* block_data(const BlockRef& b) const { return bytes.data() + b.data_off; }
};

// Parses `raw` (consumed). Errors name the record's LSN.
Result<DecodedRecord> DecodeRecord(RawRecord raw);
// The same into `*out`, reusing its block list's allocation (the decoder's hot path).
Status DecodeRecordInto(RawRecord raw, DecodedRecord* out);

}  // namespace pgt::internal
