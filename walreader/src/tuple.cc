// Tuple decoding: see tuple.h and wal-format.md §5, §7.
#include "tuple.h"

#include <cstring>

#include "bytes.h"
#include "numeric.h"
#include "pglz.h"
#include "toast_lz4.h"

namespace pgt::internal {

namespace {
constexpr uint16_t kHeapHasNull = 0x0001;
constexpr uint8_t kVartagOnDisk = 18;
constexpr uint32_t kToastPglz = 0, kToastLz4 = 1;

// Names the column in error messages. Built only when an error is returned: formatting it for
// every column of every tuple cost more than decoding the tuple.
struct ColumnWhere {
  const std::string* name = nullptr;     // given by the caller, or
  const RelationDesc* desc = nullptr;    // desc->attrs[index] at `lsn`
  int index = 0;
  Lsn lsn = kInvalidLsn;
  std::string str() const {
    if (name != nullptr) return *name;
    return desc->name + "." + desc->attrs[index].name + " at " + FormatLsn(lsn);
  }
};

size_t AlignOf(char attalign) {
  switch (attalign) {
    case 's': return 2;
    case 'i': return 4;
    case 'd': return 8;
    default: return 1;
  }
}

// Payload bytes (after decompression) -> typed value.
Result<Value> ValueFromPayload(std::string payload, TypeId type) {
  switch (type) {
    case TypeId::kNumeric: {
      PGT_ASSIGN_OR_RETURN(std::string txt, NumericToText(
          reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
      return Value::Str(TypeId::kNumeric, std::move(txt));
    }
    default:
      return Value::Str(type, std::move(payload));
  }
}

Result<std::string> Decompress(const uint8_t* p, size_t len, uint32_t method, size_t rawsize,
                               const ColumnWhere& column) {
  if (method == kToastPglz) return PglzDecompress(p, len, rawsize);
  if (method == kToastLz4) {
    auto r = Lz4Decompress(p, len, rawsize);
    if (!r.ok()) return r.status().WithContext("column " + column.str());
    return r;
  }
  return Status::Corruption("unknown compression method " + std::to_string(method) +
                            " in column " + column.str());
}

// Fills `*v` (a NULL placeholder of the row) with the fixed-length value at `p`. False if the
// column's attlen does not fit its type.
bool FixedInto(Value* v, const uint8_t* p, const AttributeDesc& a, TypeId type) {
  v->type = type;
  v->is_null = false;
  switch (type) {
    case TypeId::kBool: v->i = p[0] != 0; return a.attlen == 1;
    case TypeId::kInt2: v->i = Load<int16_t>(p); return a.attlen == 2;
    case TypeId::kInt4:
    case TypeId::kDate: v->i = Load<int32_t>(p); return a.attlen == 4;
    case TypeId::kOid: v->i = Load<uint32_t>(p); return a.attlen == 4;
    case TypeId::kInt8:
    case TypeId::kTime:
    case TypeId::kTimestamp:
    case TypeId::kTimestamptz: v->i = Load<int64_t>(p); return a.attlen == 8;
    case TypeId::kFloat4: v->f = Load<float>(p); return a.attlen == 4;
    case TypeId::kFloat8: v->f = Load<double>(p); return a.attlen == 8;
    case TypeId::kUuid:
      if (a.attlen != 16) return false;
      v->s.assign(reinterpret_cast<const char*>(p), 16);
      return true;
    default:
      v->s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(a.attlen));
      return true;
  }
}

Status BadAttlen(const AttributeDesc& a, TypeId type, const ColumnWhere& column) {
  return Status::Corruption("column " + column.str() + ": type " + TypeName(type) +
                            " with attlen " + std::to_string(a.attlen));
}

// An inline, uncompressed varlena payload (the common case) decoded into `*v` without the
// general path's temporaries. False if the datum needs DecodeVarlenaAt (TOAST pointer,
// compressed, 4-byte header not yet validated, numeric text errors).
bool PlainVarlenaInto(Value* v, const uint8_t* p, size_t avail, TypeId type, size_t* consumed) {
  uint8_t b0 = p[0];
  if (b0 == 0x01 || !(b0 & 0x01)) return false;   // TOAST pointer or 4-byte header
  size_t sz = b0 >> 1;
  if (sz < 1 || sz > avail) return false;
  const char* payload = reinterpret_cast<const char*>(p + 1);
  if (type == TypeId::kNumeric) {
    if (!NumericToTextInto(p + 1, sz - 1, &v->s).ok()) return false;
  } else {
    v->s.assign(payload, sz - 1);
  }
  v->type = type;
  v->is_null = false;
  *consumed = sz;
  return true;
}
}  // namespace

Result<TupleView> ParseHeapTuple(const uint8_t* p, size_t len) {
  if (len < kHeapHeaderSize) return Status::Corruption("tuple shorter than xl_heap_header");
  TupleView t;
  t.infomask2 = U16(p);
  t.infomask = U16(p + 2);
  t.t_hoff = p[4];
  t.data = p + kHeapHeaderSize;
  t.len = len - kHeapHeaderSize;
  if (t.t_hoff < kTupleHeaderOffsetBits || t.t_hoff - kTupleHeaderOffsetBits > t.len)
    return Status::Corruption("invalid t_hoff " + std::to_string(t.t_hoff));
  return t;
}

namespace {
Result<Value> DecodeVarlenaAt(const uint8_t* p, size_t avail, TypeId type, const TupleContext& ctx,
                              const ColumnWhere& col, size_t* consumed) {
  if (avail < 1) return Status::Corruption("column " + col.str() + ": truncated varlena");
  uint8_t b0 = p[0];
  if (b0 == 0x01) {   // TOAST pointer
    if (avail < 2 || p[1] != kVartagOnDisk)
      return Status::Corruption("column " + col.str() + ": unexpected varlena tag " +
                                std::to_string(avail < 2 ? -1 : p[1]) + " in WAL");
    if (avail < 18) return Status::Corruption("column " + col.str() + ": truncated TOAST pointer");
    *consumed = 18;
    ToastPointer ptr;
    ptr.rawsize = Load<int32_t>(p + 2);
    ptr.extinfo = U32(p + 6);
    ptr.valueid = U32(p + 10);
    ptr.toastrelid = U32(p + 14);
    const std::string* chunks = ctx.toast ? ctx.toast->Find(ptr) : nullptr;
    if (chunks != nullptr) {
      if (chunks->size() != ptr.extsize())
        return Status::Corruption("column " + col.str() + ": TOAST value " +
                                  std::to_string(ptr.valueid) + " has " +
                                  std::to_string(chunks->size()) + " bytes, expected " +
                                  std::to_string(ptr.extsize()));
      std::string payload;
      if (ptr.compressed()) {
        // Stored bytes = va_tcinfo (u32) + compressed data.
        if (chunks->size() < 4) return Status::Corruption("column " + col.str() + ": short TOAST value");
        const uint8_t* c = reinterpret_cast<const uint8_t*>(chunks->data());
        PGT_ASSIGN_OR_RETURN(payload, Decompress(c + 4, chunks->size() - 4, ptr.extinfo >> 30,
                                                 static_cast<size_t>(ptr.rawsize - 4), col));
      } else {
        payload = *chunks;
      }
      return ValueFromPayload(std::move(payload), type);
    }
    if (ctx.policy == ExternalPolicy::kUnchangedToast) {
      Value v = Value::Null(type);
      v.is_null = false;
      v.unchanged_toast = true;
      return v;
    }
    return Status::Unsupported("column " + col.str() + ": external TOAST value " +
                               std::to_string(ptr.valueid) + " whose chunks are not in the WAL read");
  }
  if (b0 & 0x01) {   // 1-byte header
    size_t sz = b0 >> 1;
    if (sz < 1 || sz > avail) return Status::Corruption("column " + col.str() + ": bad short varlena");
    *consumed = sz;
    return ValueFromPayload(std::string(reinterpret_cast<const char*>(p + 1), sz - 1), type);
  }
  if (avail < 4) return Status::Corruption("column " + col.str() + ": truncated varlena header");
  uint32_t word = U32(p);
  size_t sz = word >> 2;
  if (sz < 4 || sz > avail) return Status::Corruption("column " + col.str() + ": bad varlena length " + std::to_string(sz));
  *consumed = sz;
  if ((word & 0x03) == 0x02) {   // compressed inline
    if (sz < 8) return Status::Corruption("column " + col.str() + ": short compressed varlena");
    uint32_t tcinfo = U32(p + 4);
    PGT_ASSIGN_OR_RETURN(std::string payload, Decompress(p + 8, sz - 8, tcinfo >> 30,
                                                         tcinfo & 0x3FFFFFFFu, col));
    return ValueFromPayload(std::move(payload), type);
  }
  if ((word & 0x03) != 0) return Status::Corruption("column " + col.str() + ": invalid varlena header");
  return ValueFromPayload(std::string(reinterpret_cast<const char*>(p + 4), sz - 4), type);
}
}  // namespace

Result<Value> DecodeVarlena(const uint8_t* p, size_t avail, TypeId type, const TupleContext& ctx,
                            const std::string& column, size_t* consumed) {
  ColumnWhere col;
  col.name = &column;
  return DecodeVarlenaAt(p, avail, type, ctx, col, consumed);
}

Result<Row> DecodeTuple(const TupleView& t, const TupleContext& ctx) {
  const RelationDesc& desc = *ctx.desc;
  const int natts = t.natts();
  const int ndesc = static_cast<int>(desc.attrs.size());
  auto where = [&](int i) {
    ColumnWhere w;
    w.desc = &desc;
    w.index = i;
    w.lsn = ctx.lsn;
    return w;
  };
  if (natts > ndesc)
    return Status::Conflict("tuple of " + desc.name + " at " + FormatLsn(ctx.lsn) + " has " +
                              std::to_string(natts) + " attributes, descriptor has " +
                              std::to_string(ndesc) + " (catalog out of date?)");
  const bool hasnull = t.infomask & kHeapHasNull;
  const size_t data_start = t.t_hoff - kTupleHeaderOffsetBits;
  if (hasnull && static_cast<size_t>((natts + 7) / 8) > data_start)
    return Status::Corruption("null bitmap overlaps data in tuple at " + FormatLsn(ctx.lsn));
  // Every value starts as a NULL of unknown type and is filled in place (no temporaries: this
  // loop runs for every column of every decoded row). Dropped columns stay NULL placeholders.
  Row row;
  if (ctx.recycled != nullptr) {
    row.swap(*ctx.recycled);
    if (row.size() > static_cast<size_t>(ndesc)) row.resize(static_cast<size_t>(ndesc));
    for (Value& v : row) {   // as Value{}, but strings keep their buffers
      v.type = TypeId::kUnknown;
      v.is_null = true;
      v.unchanged_toast = false;
      v.i = 0;
      v.f = 0;
      v.s.clear();
    }
  }
  row.resize(static_cast<size_t>(ndesc));
  // Offsets are relative to the column data start (t_hoff on the page, MAXALIGNed there), so
  // that alignment is computed as on the page.
  const uint8_t* data = t.data + data_start;
  const size_t dlen = t.len - data_start;
  size_t off = 0;
  for (int i = 0; i < ndesc; i++) {
    const AttributeDesc& a = desc.attrs[i];
    Value& v = row[static_cast<size_t>(i)];
    TypeId type = a.type != TypeId::kUnknown ? a.type : TypeIdFromOid(a.type_oid);
    if (i >= natts) {   // added after this tuple was formed
      if (a.dropped) continue;
      if (a.has_missing && !a.missing_error.empty())
        return Status::Unsupported(a.missing_error + ", needed by a tuple of " + desc.name + " at " +
                                   FormatLsn(ctx.lsn));
      if (a.has_missing) v = a.missing;
      else v.type = type;
      continue;
    }
    if (hasnull && !(t.data[i >> 3] & (1 << (i & 7)))) {
      if (!a.dropped) v.type = type;
      continue;
    }
    if (a.attlen > 0) {
      off = AlignTo(off, AlignOf(a.attalign));
      if (off + a.attlen > dlen) return Status::Corruption("column " + where(i).str() + ": tuple too short");
      if (!a.dropped && !FixedInto(&v, data + off, a, type)) return BadAttlen(a, type, where(i));
      off += a.attlen;
    } else if (a.attlen == -1) {
      if (off >= dlen) return Status::Corruption("column " + where(i).str() + ": tuple too short");
      if (data[off] == 0) off = AlignTo(off, AlignOf(a.attalign));
      size_t used = 0;
      if (off >= dlen) return Status::Corruption("column " + where(i).str() + ": tuple too short");
      if (a.dropped) {
        // Walk it without interpreting: a dropped column may hold anything, even TOAST pointers.
        uint8_t b0 = data[off];
        if (b0 == 0x01) used = 18;
        else if (b0 & 1) used = b0 >> 1;
        else if (off + 4 <= dlen) used = U32(data + off) >> 2;
        if (used == 0 || off + used > dlen)
          return Status::Corruption("column " + where(i).str() + ": bad varlena");
      } else if (!PlainVarlenaInto(&v, data + off, dlen - off, type, &used)) {
        PGT_ASSIGN_OR_RETURN(v, DecodeVarlenaAt(data + off, dlen - off, type, ctx, where(i), &used));
      }
      off += used;
    } else if (a.attlen == -2) {
      const void* nul = std::memchr(data + off, 0, dlen - off);
      if (nul == nullptr) return Status::Corruption("column " + where(i).str() + ": unterminated cstring");
      size_t n = static_cast<const uint8_t*>(nul) - (data + off);
      if (!a.dropped) v = Value::Str(type, std::string(reinterpret_cast<const char*>(data + off), n));
      off += n + 1;
    } else {
      return Status::Corruption("column " + where(i).str() + ": invalid attlen " + std::to_string(a.attlen));
    }
  }
  return row;
}

}  // namespace pgt::internal
