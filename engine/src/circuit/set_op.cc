// INTERSECT / EXCEPT [ALL]; the delta equation is in set_op.h.
#include "circuit/set_op.h"

#include <algorithm>

#include "values/codec.h"

namespace pgt::engine {

int64_t SetOpNode::F(int64_t m1, int64_t m2) const {
  switch (kind_) {
    case SetOpKind::kIntersect: return std::min(m1, m2) > 0 ? 1 : 0;
    case SetOpKind::kIntersectAll: return std::min(m1, m2);
    case SetOpKind::kExcept: return m1 > 0 && m2 == 0 ? 1 : 0;
    default: return std::max<int64_t>(m1 - m2, 0);
  }
}

Status SetOpNode::Push(Batch* b, int port, const std::string&, const Row& row, int64_t w) {
  std::string vkey;
  values::EncodeKeyTuple(row, &vkey);
  const std::string k = prefix_ + vkey;
  PGT_ASSIGN_OR_RETURN(auto raw, b->Get(Cf::kAgg, k));
  int64_t m[2] = {0, 0};
  Row rep = row;
  if (raw) {
    if (raw->size() < 16) return Status::Corruption("set operation: damaged state");
    m[0] = static_cast<int64_t>(ReadBE64(*raw));
    m[1] = static_cast<int64_t>(ReadBE64(std::string_view(*raw).substr(8)));
    PGT_ASSIGN_OR_RETURN(rep, values::DecodeRow(std::string_view(*raw).substr(16)));
  }
  const int64_t before = F(m[0], m[1]);
  m[port == 0 ? 0 : 1] += w;
  if (m[0] < 0 || m[1] < 0) return Status::Corruption("set operation: multiplicity went negative");
  const int64_t after = F(m[0], m[1]);
  if (m[0] == 0 && m[1] == 0) {
    b->Delete(Cf::kAgg, k);
  } else {
    std::string val;
    AppendBE64(&val, static_cast<uint64_t>(m[0]));
    AppendBE64(&val, static_cast<uint64_t>(m[1]));
    values::EncodeRow(rep, &val);
    b->Put(Cf::kAgg, k, val);
  }
  auto copy_id = [&](int64_t i) {
    std::string id = vkey;
    AppendBE64(&id, static_cast<uint64_t>(i));
    return id;
  };
  for (int64_t i = before + 1; i <= after; ++i) PGT_RETURN_IF_ERROR(Emit(b, copy_id(i), rep, +1));
  for (int64_t i = before; i > after; --i) PGT_RETURN_IF_ERROR(Emit(b, copy_id(i), rep, -1));
  return Status::Ok();
}

}  // namespace pgt::engine
