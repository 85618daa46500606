// Scan, filter and project; the delta equations are in linear.h.
#include "circuit/linear.h"

#include "values/codec.h"

namespace pgt::engine {

std::string PairId(const std::string* left, const std::string* right) {
  std::string id;
  id.push_back(static_cast<char>((left ? 1 : 0) | (right ? 2 : 0)));
  const std::string& l = left ? *left : std::string();
  uint32_t n = static_cast<uint32_t>(l.size());
  for (int s = 24; s >= 0; s -= 8) id.push_back(static_cast<char>((n >> s) & 0xff));
  id += l;
  if (right) id += *right;
  return id;
}

std::string BranchId(int branch, const std::string& id) {
  std::string out(1, static_cast<char>(branch));
  out += id;
  return out;
}

Status ScanNode::PushSource(Batch* b, const Row& source_row, int64_t w) {
  const Row* row = &source_row;
  if (static_cast<int>(source_row.size()) != natts_) {
    scratch_ = source_row;
    scratch_.resize(static_cast<size_t>(natts_), Value::Null(TypeId::kUnknown));
    row = &scratch_;
  }
  std::string& id = id_scratch_;   // EncodeKeyTuple of the key columns
  id.clear();
  for (int16_t a : key_) values::EncodeOrderedKey(row->at(static_cast<size_t>(a - 1)), &id);
  return Emit(b, id, *row, w);
}

Status FilterNode::Push(Batch* b, int, const std::string& id, const Row& row, int64_t w) {
  PGT_ASSIGN_OR_RETURN(bool keep, values::EvalPredicate(*pred_, row));
  if (!keep) return Status::Ok();
  return Emit(b, id, row, w);
}

Status ProjectNode::Push(Batch* b, int, const std::string& id, const Row& row, int64_t w) {
  Row out;
  out.reserve(exprs_.size());
  for (const auto& e : exprs_) {
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*e, row));
    out.push_back(std::move(v));
  }
  return Emit(b, id, out, w);
}

}  // namespace pgt::engine
