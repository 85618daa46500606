// Join operator; the delta equation is in join.h.
#include "circuit/join.h"

#include "values/codec.h"

namespace pgt::engine {

namespace {
bool IsInteger(TypeId t) { return t == TypeId::kInt2 || t == TypeId::kInt4 || t == TypeId::kInt8; }

Value NormalizeKey(const Value& v, bool as_numeric) {
  if (v.is_null) return v;
  if (as_numeric && IsInteger(v.type)) return Value::Str(TypeId::kNumeric, std::to_string(v.i));
  if (v.type == TypeId::kVarchar) return Value::Str(TypeId::kText, v.s);
  return v;
}
}  // namespace

JoinNode::JoinNode(JoinSpec spec, const std::string& prefix)
    : spec_(std::move(spec)), arr_{Arrangement(prefix + "L"), Arrangement(prefix + "R")} {
  set_width(spec_.left_width + spec_.right_width);
  for (size_t i = 0; i < spec_.left_keys.size(); ++i) {
    TypeId l = values::ResultType(*spec_.left_keys[i]), r = values::ResultType(*spec_.right_keys[i]);
    as_numeric_.push_back((l == TypeId::kNumeric || r == TypeId::kNumeric) && (IsInteger(l) || IsInteger(r)));
  }
}

bool JoinNode::Preserves(int side) const {
  return spec_.kind == JoinKind::kFull || (side == 0 ? spec_.kind == JoinKind::kLeft : spec_.kind == JoinKind::kRight);
}

Result<std::optional<std::string>> JoinNode::KeyOf(int side, const Row& row) const {
  const auto& exprs = side == 0 ? spec_.left_keys : spec_.right_keys;
  Row key;
  key.reserve(exprs.size());
  for (size_t i = 0; i < exprs.size(); ++i) {
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*exprs[i], row));
    if (v.is_null) return std::optional<std::string>();
    key.push_back(NormalizeKey(v, as_numeric_[i]));
  }
  std::string enc;
  values::EncodeKeyTuple(key, &enc);
  return std::optional<std::string>(std::move(enc));
}

Row JoinNode::Combine(int side, const Row& mine, const Row* other) const {
  Row out;
  out.reserve(static_cast<size_t>(width()));
  const Row* l = side == 0 ? &mine : other;
  const Row* r = side == 0 ? other : &mine;
  if (l) out.insert(out.end(), l->begin(), l->end());
  else out.resize(static_cast<size_t>(spec_.left_width), Value::Null(TypeId::kUnknown));
  if (r) out.insert(out.end(), r->begin(), r->end());
  else out.resize(static_cast<size_t>(width()), Value::Null(TypeId::kUnknown));
  return out;
}

Result<bool> JoinNode::Residual(const Row& combined) const {
  if (!spec_.residual) return true;
  return values::EvalPredicate(*spec_.residual, combined);
}

std::string JoinNode::Id(int side, const std::string* mine, const std::string* other) const {
  return side == 0 ? PairId(mine, other) : PairId(other, mine);
}

// Rows of the *other* side matching `row` (of `side`), in the current state.
Status JoinNode::Matches(Batch* b, int side, const std::string& key, const Row& row, std::vector<Match>* out) {
  return arr_[1 - side].ForEach(b, key, [&](const std::string& id, const Row& other, bool*) -> Status {
    PGT_ASSIGN_OR_RETURN(bool ok, Residual(Combine(side, row, &other)));
    if (ok) out->push_back(Match{id, other});
    return Status::Ok();
  });
}

// How many rows of `side` (current state) match `other_row` of the other side.
Result<int64_t> JoinNode::CountMatches(Batch* b, int side, const std::string& key, const Row& other_row) {
  int64_t n = 0;
  PGT_RETURN_IF_ERROR(arr_[side].ForEach(b, key, [&](const std::string&, const Row& mine, bool*) -> Status {
    PGT_ASSIGN_OR_RETURN(bool ok, Residual(Combine(side, mine, &other_row)));
    n += ok ? 1 : 0;
    return Status::Ok();
  }));
  return n;
}

Status JoinNode::Push(Batch* b, int side, const std::string& id, const Row& row, int64_t w) {
  PGT_ASSIGN_OR_RETURN(auto key, KeyOf(side, row));
  std::vector<Match> matches;
  if (key) PGT_RETURN_IF_ERROR(Matches(b, side, *key, row, &matches));
  const int other = 1 - side;
  // A matched row of a preserved other side loses or regains its NULL-padded row when its match
  // count moves between 0 and 1.
  std::vector<int64_t> before;
  if (Preserves(other)) {
    for (const Match& m : matches) {
      PGT_ASSIGN_OR_RETURN(int64_t c, CountMatches(b, side, *key, m.row));
      before.push_back(c);
      if (w > 0 && c == 0) PGT_RETURN_IF_ERROR(Emit(b, Id(other, &m.id, nullptr), Combine(other, m.row, nullptr), -1));
    }
  }
  for (const Match& m : matches) PGT_RETURN_IF_ERROR(Emit(b, Id(side, &id, &m.id), Combine(side, row, &m.row), w));
  if (matches.empty() && Preserves(side)) PGT_RETURN_IF_ERROR(Emit(b, Id(side, &id, nullptr), Combine(side, row, nullptr), w));
  if (Preserves(other)) {
    for (size_t i = 0; i < matches.size(); ++i) {
      if (w < 0 && before[i] + w == 0)
        PGT_RETURN_IF_ERROR(Emit(b, Id(other, &matches[i].id, nullptr), Combine(other, matches[i].row, nullptr), +1));
    }
  }
  if (key) {
    if (w > 0) arr_[side].Insert(b, *key, id, row);
    else arr_[side].Erase(b, *key, id);
  }
  return Status::Ok();
}

}  // namespace pgt::engine
