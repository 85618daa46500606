// HEAP/HEAP2 decoding: see heap_decode.h. Record layouts from access/heapam_xlog.h (PG15); the
// records decoded here (insert, delete, update, truncate, multi-insert, xl_heap_header) have the
// same layout in 16, 17 and 18 (the oracle runs against each).
#include "heap_decode.h"

#include "bytes.h"
#include "tuple.h"

namespace pgt::internal {

namespace {
// HEAP opcodes (xl_info & 0x70)
constexpr uint8_t kHeapInsert = 0x00, kHeapDelete = 0x10, kHeapUpdate = 0x20,
                  kHeapTruncate = 0x30, kHeapHotUpdate = 0x40, kHeapConfirm = 0x50,
                  kHeapLock = 0x60, kHeapInplace = 0x70;
// HEAP2 opcodes. 0x10-0x30: PRUNE / VACUUM / FREEZE_PAGE in 15 and 16; renamed PRUNE_ON_ACCESS /
// PRUNE_VACUUM_SCAN / PRUNE_VACUUM_CLEANUP in 17 and 18 (same codes, never row data).
constexpr uint8_t kHeap2Rewrite = 0x00, kHeap2Prune = 0x10, kHeap2Vacuum = 0x20,
                  kHeap2FreezePage = 0x30, kHeap2Visible = 0x40, kHeap2MultiInsert = 0x50,
                  kHeap2LockUpdated = 0x60, kHeap2NewCid = 0x70;
constexpr uint8_t kOpMask = 0x70;
constexpr uint8_t kInitPage = 0x80;

constexpr uint8_t kInsLastInMulti = 0x02, kInsIsSpeculative = 0x04, kInsContainsNewTuple = 0x08;
constexpr uint8_t kUpdContainsOldTuple = 0x04, kUpdContainsOldKey = 0x08,
                  kUpdContainsNewTuple = 0x10, kUpdPrefixFromOld = 0x20, kUpdSuffixFromOld = 0x40;
constexpr uint8_t kDelContainsOldTuple = 0x02, kDelContainsOldKey = 0x04, kDelIsSuper = 0x08;
constexpr uint8_t kTruncCascade = 0x01, kTruncRestartSeqs = 0x02;

constexpr size_t kSizeOfHeapInsert = 3;
constexpr size_t kSizeOfHeapDelete = 8;
constexpr size_t kSizeOfHeapUpdate = 14;
constexpr size_t kSizeOfHeapTruncate = 12;
constexpr size_t kSizeOfMultiInsert = 4;
constexpr size_t kSizeOfMultiInsertTuple = 7;

Status Bad(const DecodedRecord& r, const std::string& what) {
  return Status::Corruption(what + " in heap record at " + FormatLsn(r.start));
}

bool OtherDatabase(const HeapDecodeContext& ctx, const RelFileLocator& loc) {
  return ctx.database_oid != 0 && loc.db_oid != ctx.database_oid;
}

// A chunk of a tracked table's TOAST relation: (chunk_id oid, chunk_seq int4, chunk_data bytea).
Status AddToastChunk(const DecodedRecord& r, const HeapDecodeContext& ctx, const RelationDesc& owner,
                     const TupleView& t) {
  static const RelationDesc kToastDesc = [] {
    RelationDesc d;
    d.name = "toast";
    AttributeDesc id{1, "chunk_id", 26, TypeId::kOid, 4, 'i', true};
    AttributeDesc seq{2, "chunk_seq", 23, TypeId::kInt4, 4, 'i', true};
    AttributeDesc data{3, "chunk_data", 17, TypeId::kBytea, -1, 'i', false};
    d.attrs = {id, seq, data};
    return d;
  }();
  TupleContext tc{&kToastDesc, r.start, ExternalPolicy::kError, nullptr};
  PGT_ASSIGN_OR_RETURN(Row row, DecodeTuple(t, tc));
  if (row.size() != 3 || row[0].is_null || row[1].is_null || row[2].is_null)
    return Bad(r, "malformed TOAST chunk");
  return ctx.rb->AddToastChunk(r.xid, owner.toast_relid, static_cast<Oid>(row[0].i),
                               static_cast<int32_t>(row[1].i), row[2].s);
}

Result<Row> DecodeOld(const DecodedRecord& r, const RelationDesc& desc, const uint8_t* p, size_t len) {
  PGT_ASSIGN_OR_RETURN(TupleView t, ParseHeapTuple(p, len));
  TupleContext tc{&desc, r.start, ExternalPolicy::kError, nullptr};
  return DecodeTuple(t, tc);
}

Status DecodeInsert(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  if (r.main_len < kSizeOfHeapInsert) return Bad(r, "short xl_heap_insert");
  uint8_t flags = r.main_data()[2];
  const BlockRef* b = r.block(0);
  if (b == nullptr) return Bad(r, "insert without block 0");
  if (OtherDatabase(ctx, b->locator)) return Status::Ok();
  if (!(flags & kInsContainsNewTuple)) return Status::Ok();   // e.g. VACUUM FULL re-toasting
  const RelationDesc* desc = ctx.catalog->Lookup(b->locator, r.start);
  const RelationDesc* owner = nullptr;
  if (desc == nullptr) {
    owner = ctx.catalog->LookupToastOwner(b->locator, r.start);
    if (owner == nullptr) return Status::Ok();
  }
  if (!b->has_data) return Bad(r, "insert without tuple data");
  PGT_ASSIGN_OR_RETURN(TupleView t, ParseHeapTuple(r.block_data(*b), b->data_len));
  if (owner != nullptr) return AddToastChunk(r, ctx, *owner, t);
  Row spare = ctx.rb->TakeRow();
  TupleContext tc{desc, r.start, ExternalPolicy::kError, ctx.rb->ToastFor(r.xid), &spare};
  PGT_ASSIGN_OR_RETURN(Row row, DecodeTuple(t, tc));
  Change c;
  c.kind = ChangeKind::kInsert;
  c.relid = desc->relid;
  c.lsn = r.start;
  c.new_row = std::move(row);
  if (flags & kInsIsSpeculative) ctx.rb->SetSpeculative(r.xid, std::move(c));
  else ctx.rb->AddChange(r.xid, std::move(c));
  ctx.rb->ResetToast(r.xid);
  return Status::Ok();
}

Status DecodeDelete(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  if (r.main_len < kSizeOfHeapDelete) return Bad(r, "short xl_heap_delete");
  uint8_t flags = r.main_data()[7];
  const BlockRef* b = r.block(0);
  if (b == nullptr) return Bad(r, "delete without block 0");
  if (OtherDatabase(ctx, b->locator)) return Status::Ok();
  if (flags & kDelIsSuper) {   // speculative insertion lost the race: forget it
    ctx.rb->DropSpeculative(r.xid);
    return Status::Ok();
  }
  const RelationDesc* desc = ctx.catalog->Lookup(b->locator, r.start);
  if (desc == nullptr) return Status::Ok();   // untracked (TOAST deletes included)
  Change c;
  c.kind = ChangeKind::kDelete;
  c.relid = desc->relid;
  c.lsn = r.start;
  if (flags & (kDelContainsOldTuple | kDelContainsOldKey)) {
    PGT_ASSIGN_OR_RETURN(Row old, DecodeOld(r, *desc, r.main_data() + kSizeOfHeapDelete,
                                            r.main_len - kSizeOfHeapDelete));
    c.old_row = std::move(old);
    c.old_is_key_only = (flags & kDelContainsOldKey) != 0;
  }
  ctx.rb->AddChange(r.xid, std::move(c));
  return Status::Ok();
}

Status DecodeUpdate(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  if (r.main_len < kSizeOfHeapUpdate) return Bad(r, "short xl_heap_update");
  uint8_t flags = r.main_data()[7];
  const BlockRef* b = r.block(0);
  if (b == nullptr) return Bad(r, "update without block 0");
  if (OtherDatabase(ctx, b->locator)) return Status::Ok();
  const RelationDesc* desc = ctx.catalog->Lookup(b->locator, r.start);
  if (desc == nullptr) return Status::Ok();
  Change c;
  c.kind = ChangeKind::kUpdate;
  c.relid = desc->relid;
  c.lsn = r.start;
  if (flags & kUpdContainsNewTuple) {
    if (!b->has_data) return Bad(r, "update without new tuple data");
    const uint8_t* p = r.block_data(*b);
    size_t len = b->data_len;
    if (flags & (kUpdPrefixFromOld | kUpdSuffixFromOld))
      return Status::Unsupported("prefix/suffix-compressed update of tracked relation " +
                                 desc->name + " at " + FormatLsn(r.start) +
                                 " (not logically logged?)");
    PGT_ASSIGN_OR_RETURN(TupleView t, ParseHeapTuple(p, len));
    Row spare = ctx.rb->TakeRow();
    TupleContext tc{desc, r.start, ExternalPolicy::kUnchangedToast, ctx.rb->ToastFor(r.xid), &spare};
    PGT_ASSIGN_OR_RETURN(Row row, DecodeTuple(t, tc));
    c.new_row = std::move(row);
  }
  if (flags & (kUpdContainsOldTuple | kUpdContainsOldKey)) {
    PGT_ASSIGN_OR_RETURN(Row old, DecodeOld(r, *desc, r.main_data() + kSizeOfHeapUpdate,
                                            r.main_len - kSizeOfHeapUpdate));
    c.old_row = std::move(old);
    c.old_is_key_only = (flags & kUpdContainsOldKey) != 0;
  }
  ctx.rb->AddChange(r.xid, std::move(c));
  ctx.rb->ResetToast(r.xid);
  return Status::Ok();
}

Status DecodeTruncate(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  if (r.main_len < kSizeOfHeapTruncate) return Bad(r, "short xl_heap_truncate");
  const uint8_t* p = r.main_data();
  Oid db = U32(p);
  uint32_t n = U32(p + 4);
  uint8_t flags = p[8];
  if (kSizeOfHeapTruncate + 4ull * n > r.main_len) return Bad(r, "truncated relid list");
  if (ctx.database_oid != 0 && db != ctx.database_oid) return Status::Ok();
  Change c;
  c.kind = ChangeKind::kTruncate;
  c.lsn = r.start;
  c.truncate_cascade = flags & kTruncCascade;
  c.truncate_restart_seqs = flags & kTruncRestartSeqs;
  for (uint32_t i = 0; i < n; i++) {
    const RelationDesc* d = ctx.catalog->LookupByOidAt(U32(p + kSizeOfHeapTruncate + 4 * i), r.start);
    if (d != nullptr) c.truncated.push_back(d->relid);
  }
  if (c.truncated.empty()) return Status::Ok();
  c.relid = c.truncated.front();
  ctx.rb->AddChange(r.xid, std::move(c));
  return Status::Ok();
}

Status DecodeMultiInsert(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  if (r.main_len < kSizeOfMultiInsert) return Bad(r, "short xl_heap_multi_insert");
  uint8_t flags = r.main_data()[0];
  uint16_t ntuples = U16(r.main_data() + 2);
  const BlockRef* b = r.block(0);
  if (b == nullptr) return Bad(r, "multi-insert without block 0");
  if (OtherDatabase(ctx, b->locator)) return Status::Ok();
  if (!(flags & kInsContainsNewTuple)) return Status::Ok();
  const RelationDesc* desc = ctx.catalog->Lookup(b->locator, r.start);
  if (desc == nullptr) return Status::Ok();
  if (!b->has_data) return Bad(r, "multi-insert without tuple data");
  const uint8_t* base = r.block_data(*b);
  size_t off = 0;
  for (uint16_t i = 0; i < ntuples; i++) {
    off = AlignTo(off, 2);   // SHORTALIGN; the padding byte may be garbage
    if (off + kSizeOfMultiInsertTuple > b->data_len) return Bad(r, "truncated multi-insert tuple");
    const uint8_t* h = base + off;
    uint16_t datalen = U16(h);
    TupleView t;
    t.infomask2 = U16(h + 2);
    t.infomask = U16(h + 4);
    t.t_hoff = h[6];
    t.data = h + kSizeOfMultiInsertTuple;
    t.len = datalen;
    off += kSizeOfMultiInsertTuple + datalen;
    if (off > b->data_len || t.t_hoff < kTupleHeaderOffsetBits ||
        t.t_hoff - kTupleHeaderOffsetBits > datalen)
      return Bad(r, "invalid multi-insert tuple");
    Row spare = ctx.rb->TakeRow();
    TupleContext tc{desc, r.start, ExternalPolicy::kError, ctx.rb->ToastFor(r.xid), &spare};
    PGT_ASSIGN_OR_RETURN(Row row, DecodeTuple(t, tc));
    Change c;
    c.kind = ChangeKind::kInsert;
    c.relid = desc->relid;
    c.lsn = r.start;
    c.new_row = std::move(row);
    ctx.rb->AddChange(r.xid, std::move(c));
  }
  if (flags & kInsLastInMulti) ctx.rb->ResetToast(r.xid);
  return Status::Ok();
}
}  // namespace

Status DecodeHeapRecord(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  switch (r.info & kOpMask) {
    case kHeapInsert: return DecodeInsert(r, ctx);
    case kHeapDelete: return DecodeDelete(r, ctx);
    case kHeapUpdate:
    case kHeapHotUpdate: return DecodeUpdate(r, ctx);
    case kHeapTruncate: return DecodeTruncate(r, ctx);
    case kHeapConfirm: ctx.rb->ConfirmSpeculative(r.xid); return Status::Ok();
    case kHeapLock:      // row locks: no data change
    case kHeapInplace:   // in-place catalog updates (not logically logged rows)
      return Status::Ok();
  }
  return Status::Internal("unreachable heap opcode");
}

Status DecodeHeap2Record(const DecodedRecord& r, const HeapDecodeContext& ctx) {
  (void)kInitPage;
  switch (r.info & kOpMask) {
    case kHeap2MultiInsert: return DecodeMultiInsert(r, ctx);
    case kHeap2Rewrite:      // logical rewrite mappings (VACUUM FULL of catalogs)
    case kHeap2Prune:
    case kHeap2Vacuum:
    case kHeap2FreezePage:
    case kHeap2Visible:
    case kHeap2LockUpdated:
    case kHeap2NewCid:       // catalog command ids: only for historic catalog snapshots
      return Status::Ok();
  }
  return Status::Internal("unreachable heap2 opcode");
}

}  // namespace pgt::internal
