// Record decoder: see record.h. Layout: XLogRecord (24 bytes), then fragment headers, each
// introduced by an id byte (0..32 block reference, 252 top-level xid, 253 origin, 254/255 main
// data length, always last), then the payloads in the same order: per block its image then its
// data, and the main data last.
#include "record.h"

#include "bytes.h"

namespace pgt::internal {

namespace {
constexpr uint8_t kMaxBlockId = 32;
constexpr uint8_t kBlockIdTopLevelXid = 252;
constexpr uint8_t kBlockIdOrigin = 253;
constexpr uint8_t kBlockIdDataLong = 254;
constexpr uint8_t kBlockIdDataShort = 255;
constexpr uint8_t kBkpBlockHasImage = 0x10;
constexpr uint8_t kBkpBlockHasData = 0x20;
constexpr uint8_t kBkpBlockWillInit = 0x40;
constexpr uint8_t kBkpBlockSameRel = 0x80;
constexpr uint8_t kBkpImageHasHole = 0x01;
constexpr uint8_t kBkpImageCompressMask = 0x04 | 0x08 | 0x10;
}  // namespace

Result<DecodedRecord> DecodeRecord(RawRecord raw) {
  DecodedRecord r;
  PGT_RETURN_IF_ERROR(DecodeRecordInto(std::move(raw), &r));
  return r;
}

Status DecodeRecordInto(RawRecord raw, DecodedRecord* out) {
  std::vector<BlockRef> blocks = std::move(out->blocks);   // keep its capacity
  blocks.clear();
  *out = DecodedRecord{};
  out->blocks = std::move(blocks);
  DecodedRecord& r = *out;
  r.start = raw.start;
  r.end = raw.end;
  r.pg_major = raw.pg_major;
  r.bytes = std::move(raw.bytes);
  const uint8_t* b = r.bytes.data();
  const size_t total = r.bytes.size();
  auto bad = [&](const std::string& what) {
    return Status::Corruption(what + " in record at " + FormatLsn(r.start));
  };
  if (total < kXLogRecordHeaderSize) return bad("record too short");
  r.xid = U32(b + 4);
  r.prev = U64(b + 8);
  r.info = b[16];
  r.rmid = b[17];

  size_t off = kXLogRecordHeaderSize;
  size_t datatotal = 0;
  int last_block = -1;
  bool have_rel = false;
  RelFileLocator last_rel;
  auto need = [&](size_t n) { return off + n <= total; };
  while (total - off > datatotal) {
    uint8_t id = b[off++];
    if (id == kBlockIdDataShort) {
      if (!need(1)) return bad("truncated main data header");
      r.main_len = b[off++];
      datatotal += r.main_len;
      break;
    } else if (id == kBlockIdDataLong) {
      if (!need(4)) return bad("truncated main data header");
      r.main_len = U32(b + off);
      off += 4;
      datatotal += r.main_len;
      break;
    } else if (id == kBlockIdOrigin) {
      if (!need(2)) return bad("truncated origin");
      r.has_origin = true;
      r.origin = U16(b + off);
      off += 2;
    } else if (id == kBlockIdTopLevelXid) {
      if (!need(4)) return bad("truncated top-level xid");
      r.toplevel_xid = U32(b + off);
      off += 4;
    } else if (id <= kMaxBlockId) {
      if (static_cast<int>(id) <= last_block) return bad("out-of-order block_id " + std::to_string(id));
      last_block = id;
      if (!need(3)) return bad("truncated block header");
      BlockRef blk;
      blk.id = id;
      uint8_t fork_flags = b[off];
      blk.data_len = U16(b + off + 1);
      off += 3;
      blk.fork = fork_flags & 0x0F;
      blk.has_image = fork_flags & kBkpBlockHasImage;
      blk.has_data = fork_flags & kBkpBlockHasData;
      blk.will_init = fork_flags & kBkpBlockWillInit;
      if (blk.has_data && blk.data_len == 0) return bad("BKPBLOCK_HAS_DATA set, but no data");
      if (!blk.has_data && blk.data_len != 0) return bad("BKPBLOCK_HAS_DATA not set, but data length is not zero");
      datatotal += blk.data_len;
      if (blk.has_image) {
        if (!need(5)) return bad("truncated image header");
        blk.image_len = U16(b + off);
        blk.hole_offset = U16(b + off + 2);
        blk.bimg_info = b[off + 4];
        off += 5;
        if (blk.bimg_info & kBkpImageCompressMask) {
          if (blk.bimg_info & kBkpImageHasHole) {
            if (!need(2)) return bad("truncated image header");
            blk.hole_length = U16(b + off);
            off += 2;
          }
        } else if (blk.bimg_info & kBkpImageHasHole) {
          blk.hole_length = static_cast<uint16_t>(kXLogBlcksz - blk.image_len);
        }
        datatotal += blk.image_len;
      }
      if (fork_flags & kBkpBlockSameRel) {
        if (!have_rel) return bad("BKPBLOCK_SAME_REL set but no previous rel");
        blk.locator = last_rel;
      } else {
        if (!need(12)) return bad("truncated relfilenode");
        blk.locator = RelFileLocator{U32(b + off), U32(b + off + 4), U32(b + off + 8)};
        off += 12;
        last_rel = blk.locator;
        have_rel = true;
      }
      if (!need(4)) return bad("truncated block number");
      blk.blkno = U32(b + off);
      off += 4;
      r.blocks.push_back(blk);
    } else {
      return bad("invalid block_id " + std::to_string(id));
    }
  }
  if (total - off != datatotal) return bad("record length mismatch in fragment headers");
  for (auto& blk : r.blocks) {
    if (blk.has_image) { blk.image_off = off; off += blk.image_len; }
    if (blk.has_data) { blk.data_off = off; off += blk.data_len; }
  }
  r.main_off = off;
  return Status::Ok();
}

}  // namespace pgt::internal
