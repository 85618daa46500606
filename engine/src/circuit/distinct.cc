// DISTINCT; the delta equation is in distinct.h.
#include "circuit/distinct.h"

#include "values/codec.h"

namespace pgt::engine {

Status DistinctNode::Push(Batch* b, int, const std::string&, const Row& row, int64_t w) {
  std::string vkey;
  values::EncodeKeyTuple(row, &vkey);
  std::string k = prefix_ + vkey;
  PGT_ASSIGN_OR_RETURN(auto raw, b->Get(Cf::kAgg, k));
  int64_t before = raw ? static_cast<int64_t>(ReadBE64(*raw)) : 0;
  int64_t after = before + w;
  if (after < 0) return Status::Corruption("DISTINCT: multiplicity went negative (lost or repeated change)");
  if (after == 0) {
    b->Delete(Cf::kAgg, k);
    PGT_ASSIGN_OR_RETURN(Row first, values::DecodeRow(std::string_view(*raw).substr(8)));
    return Emit(b, vkey, first, -1);
  }
  std::string val;
  AppendBE64(&val, static_cast<uint64_t>(after));
  if (raw) val.append(*raw, 8, std::string::npos);
  else values::EncodeRow(row, &val);
  b->Put(Cf::kAgg, k, val);
  if (before == 0) return Emit(b, vkey, row, +1);
  return Status::Ok();
}

}  // namespace pgt::engine
