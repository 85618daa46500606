// libFuzzer target: arbitrary bytes as a WAL heap tuple (xl_heap_header + t_bits/data) decoded
// with DecodeTuple against a fixed descriptor (the fixture's t_types: int4, bool, int2, int8,
// oid, float4/8, numeric, text, varchar, bpchar, date, time, timestamp, timestamptz, bytea, uuid,
// json, jsonb; then a dropped varlena column and an int8 with a missing value), every value then
// rendered by ValueToText (numeric, jsonb, date/time output). Input: 1 flag byte, then the tuple.
//   bit 0  ExternalPolicy::kUnchangedToast (else kError)
//   bit 1  a ToastLookup that answers every pointer with the first extsize bytes of the input
//          (so that compressed external values reach the pglz and lz4 decoders)
//   bit 2  instead of a tuple: u16 raw size (LE) + a raw LZ4 block given to Lz4Decompress
//          directly (the seeds hold blocks made by liblz4 and a tuple with an lz4 inline value)
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "toast_lz4.h"
#include "tuple.h"
#include "walreader/text_format.h"

using namespace pgt;
using namespace pgt::internal;

namespace {

RelationDesc MakeDesc() {
  struct Col { const char* name; Oid type; int16_t len; char align; bool byval; };
  static const Col cols[] = {
      {"id", 23, 4, 'i', true},      {"b", 16, 1, 'c', true},      {"i2", 21, 2, 's', true},
      {"i8", 20, 8, 'd', true},      {"o", 26, 4, 'i', true},      {"f4", 700, 4, 'i', true},
      {"f8", 701, 8, 'd', true},     {"n", 1700, -1, 'i', false},  {"t", 25, -1, 'i', false},
      {"vc", 1043, -1, 'i', false},  {"bp", 1042, -1, 'i', false}, {"d", 1082, 4, 'i', true},
      {"tm", 1083, 8, 'd', true},    {"ts", 1114, 8, 'd', true},   {"tstz", 1184, 8, 'd', true},
      {"by", 17, -1, 'i', false},    {"u", 2950, 16, 'c', false},  {"j", 114, -1, 'i', false},
      {"jb", 3802, -1, 'i', false},
  };
  RelationDesc d;
  d.relid = 16384;
  d.schema = "public";
  d.name = "t_types";
  d.locator = RelFileLocator{1663, 5, 16384};
  int16_t attnum = 1;
  for (const Col& c : cols) {
    AttributeDesc a;
    a.attnum = attnum++;
    a.name = c.name;
    a.type_oid = c.type;
    a.type = TypeIdFromOid(c.type);
    a.attlen = c.len;
    a.attalign = c.align;
    a.attbyval = c.byval;
    d.attrs.push_back(a);
  }
  AttributeDesc dropped;
  dropped.attnum = attnum++;
  dropped.name = "........pg.dropped.20........";
  dropped.attlen = -1;
  dropped.attalign = 'i';
  dropped.dropped = true;
  d.attrs.push_back(dropped);
  AttributeDesc missing;
  missing.attnum = attnum++;
  missing.name = "added";
  missing.type_oid = 20;
  missing.type = TypeId::kInt8;
  missing.attlen = 8;
  missing.attalign = 'd';
  missing.attbyval = true;
  missing.has_missing = true;
  missing.missing = Value::Int(TypeId::kInt8, 42);
  d.attrs.push_back(missing);
  d.key_attnums = {1};
  return d;
}

class InputToast : public ToastLookup {
 public:
  InputToast(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  const std::string* Find(const ToastPointer& ptr) override {
    if (ptr.extsize() > n_) return nullptr;
    value_.assign(reinterpret_cast<const char*>(p_), ptr.extsize());
    return &value_;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  std::string value_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const RelationDesc desc = MakeDesc();
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  if (flags & 4) {
    if (size < 3) return 0;
    const size_t rawsize = data[1] | (size_t{data[2]} << 8);
    std::vector<uint8_t> block(data + 3, data + size);   // own buffer: ASan sees overreads
    auto r = Lz4Decompress(block.data(), block.size(), rawsize);
    if (r.ok()) PGT_FUZZ_CHECK(r.value().size() == rawsize);
    return 0;
  }
  // The tuple in a buffer of its own size, so that ASan sees any read past its end.
  std::vector<uint8_t> tup(data + 1, data + size);
  auto tv = ParseHeapTuple(tup.data(), tup.size());
  if (!tv.ok()) return 0;
  InputToast toast(data, size);
  TupleContext ctx;
  ctx.desc = &desc;
  ctx.lsn = 0x1550028;
  ctx.policy = (flags & 1) ? ExternalPolicy::kUnchangedToast : ExternalPolicy::kError;
  ctx.toast = (flags & 2) ? &toast : nullptr;
  auto row = DecodeTuple(tv.value(), ctx);
  if (!row.ok()) return 0;
  PGT_FUZZ_CHECK(row.value().size() == desc.attrs.size());
  TextOptions opts;
  for (size_t i = 0; i < row.value().size(); i++) {
    const Value& v = row.value()[i];
    if (v.is_null || v.unchanged_toast) continue;
    (void)ValueToText(v, desc.attrs[i].type_oid, opts);
  }
  return 0;
}
