// Semi / anti joins; the delta equations are in semi_join.h.
#include "circuit/semi_join.h"

#include "values/codec.h"

namespace pgt::engine {

namespace {
bool IsInteger(TypeId t) { return t == TypeId::kInt2 || t == TypeId::kInt4 || t == TypeId::kInt8; }
}  // namespace

SemiJoinNode::SemiJoinNode(SemiJoinSpec spec, const std::string& prefix)
    : spec_(std::move(spec)), prefix_(prefix), left_(prefix + "L"), right_(prefix + "R"), left_null_(prefix + "N") {
  set_width(spec_.left_width);
  for (size_t i = 0; i < spec_.left_keys.size(); ++i) {
    TypeId l = values::ResultType(*spec_.left_keys[i]), r = values::ResultType(*spec_.right_keys[i]);
    as_numeric_.push_back((l == TypeId::kNumeric || r == TypeId::kNumeric) && (IsInteger(l) || IsInteger(r)));
  }
}

Result<std::optional<std::string>> SemiJoinNode::KeyOf(int side, const Row& row) const {
  const auto& exprs = side == 0 ? spec_.left_keys : spec_.right_keys;
  Row key;
  for (size_t i = 0; i < exprs.size(); ++i) {
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*exprs[i], row));
    if (v.is_null) return std::optional<std::string>();
    if (as_numeric_[i] && IsInteger(v.type)) v = Value::Str(TypeId::kNumeric, std::to_string(v.i));
    else if (v.type == TypeId::kVarchar) v.type = TypeId::kText;
    key.push_back(std::move(v));
  }
  std::string enc;
  values::EncodeKeyTuple(key, &enc);
  return std::optional<std::string>(std::move(enc));
}

Result<bool> SemiJoinNode::Matches(const Row& l, const Row& r) const {
  if (!spec_.residual) return true;
  Row combined = l;
  combined.insert(combined.end(), r.begin(), r.end());
  return values::EvalPredicate(*spec_.residual, combined);
}

// m(l): right rows (current state) under `key` satisfying the residual with l.
Result<int64_t> SemiJoinNode::MatchCount(Batch* b, const std::string& key, const Row& l) {
  int64_t n = 0;
  PGT_RETURN_IF_ERROR(right_.ForEach(b, key, [&](const std::string&, const Row& r, bool* stop) -> Status {
    PGT_ASSIGN_OR_RETURN(bool ok, Matches(l, r));
    n += ok ? 1 : 0;
    // Only "none, one, or more" matters (m crossing 0): stop at two.
    *stop = n >= 2;
    return Status::Ok();
  }));
  return n;
}

bool SemiJoinNode::Pass(bool has_key, int64_t m, const Counts& c) const {
  switch (spec_.kind) {
    case SemiKind::kSemi: return m > 0;
    case SemiKind::kAnti: return m == 0;
    default: return c.total == 0 || (has_key && c.nulls == 0 && m == 0);
  }
}

Result<SemiJoinNode::Counts> SemiJoinNode::LoadCounts(Batch* b) {
  Counts c;
  if (spec_.kind != SemiKind::kAntiNullAware) return c;
  PGT_ASSIGN_OR_RETURN(auto raw, b->Get(Cf::kAgg, prefix_ + "C"));
  if (raw) {
    if (raw->size() != 16) return Status::Corruption("NOT IN: damaged counts");
    c.total = static_cast<int64_t>(ReadBE64(*raw));
    c.nulls = static_cast<int64_t>(ReadBE64(std::string_view(*raw).substr(8)));
  }
  return c;
}

Status SemiJoinNode::Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) {
  return port == 0 ? PushLeft(b, id, row, w) : PushRight(b, id, row, w);
}

Status SemiJoinNode::PushLeft(Batch* b, const std::string& id, const Row& row, int64_t w) {
  PGT_ASSIGN_OR_RETURN(auto key, KeyOf(0, row));
  PGT_ASSIGN_OR_RETURN(Counts c, LoadCounts(b));
  int64_t m = 0;
  if (key) { PGT_ASSIGN_OR_RETURN(m, MatchCount(b, *key, row)); }
  if (Pass(key.has_value(), m, c)) PGT_RETURN_IF_ERROR(Emit(b, id, row, w));
  Arrangement* arr = key ? &left_ : spec_.kind == SemiKind::kAntiNullAware ? &left_null_ : nullptr;
  if (arr) {
    const std::string k = key ? *key : std::string();
    if (w > 0) arr->Insert(b, k, id, row);
    else arr->Erase(b, k, id);
  }
  return Status::Ok();
}

// A left row whose pass/fail changes between the state before and after this right row.
Status SemiJoinNode::Flip(Batch* b, const std::string& lid, const Row& l, bool has_key, int64_t m_before,
                          int64_t delta, const Counts& before, const Counts& after) {
  bool was = Pass(has_key, m_before, before), now = Pass(has_key, m_before + delta, after);
  if (was == now) return Status::Ok();
  return Emit(b, lid, l, now ? +1 : -1);
}

Status SemiJoinNode::PushRight(Batch* b, const std::string& id, const Row& row, int64_t w) {
  PGT_ASSIGN_OR_RETURN(auto key, KeyOf(1, row));
  PGT_ASSIGN_OR_RETURN(Counts before, LoadCounts(b));
  Counts after = before;
  if (spec_.kind == SemiKind::kAntiNullAware) {
    after.total += w;
    if (!key) after.nulls += w;
    if (after.total < 0 || after.nulls < 0) return Status::Corruption("NOT IN: count went negative");
    std::string v;
    AppendBE64(&v, static_cast<uint64_t>(after.total));
    AppendBE64(&v, static_cast<uint64_t>(after.nulls));
    b->Put(Cf::kAgg, prefix_ + "C", v);
  }
  const bool global = spec_.kind == SemiKind::kAntiNullAware &&
                      ((before.total == 0) != (after.total == 0) || (before.nulls == 0) != (after.nulls == 0));
  if (global) {   // every left row may change (NULL keys included)
    PGT_RETURN_IF_ERROR(left_.ForEachAll(b, [&](const std::string& lkey, const std::string& lid, const Row& l) -> Status {
      PGT_ASSIGN_OR_RETURN(int64_t m, MatchCount(b, lkey, l));
      return Flip(b, lid, l, true, m, key && lkey == *key ? w : 0, before, after);
    }));
    PGT_RETURN_IF_ERROR(left_null_.ForEachAll(b, [&](const std::string&, const std::string& lid, const Row& l) -> Status {
      return Flip(b, lid, l, false, 0, 0, before, after);
    }));
  } else if (key) {   // only the left rows this right row matches
    std::vector<std::pair<std::string, Row>> ls;
    PGT_RETURN_IF_ERROR(left_.ForEach(b, *key, [&](const std::string& lid, const Row& l, bool*) -> Status {
      PGT_ASSIGN_OR_RETURN(bool ok, Matches(l, row));
      if (ok) ls.emplace_back(lid, l);
      return Status::Ok();
    }));
    for (auto& [lid, l] : ls) {
      PGT_ASSIGN_OR_RETURN(int64_t m, MatchCount(b, *key, l));
      PGT_RETURN_IF_ERROR(Flip(b, lid, l, true, m, w, before, after));
    }
  }
  if (key) {
    if (w > 0) right_.Insert(b, *key, id, row);
    else right_.Erase(b, *key, id);
  }
  return Status::Ok();
}

}  // namespace pgt::engine
