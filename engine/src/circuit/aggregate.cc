// Aggregate operator; the delta equation is in aggregate.h.
#include "circuit/aggregate.h"

#include "values/codec.h"
#include "values/decimal.h"
#include "values/expr.h"

namespace pgt::engine {

using values::Decimal;

// Per-group state. Sums are exact decimals (no intermediate overflow); `scales` counts the
// non-NULL numeric inputs per display scale so SUM/AVG print the scale PostgreSQL would use for
// the rows present now (max dscale of the present inputs), even after the widest one is deleted.
// MIN/MAX keep `extreme`, the multiset's current first/last value (NULL when it is empty or, in
// a record written before the cache existed, unknown: then `extreme_known` is false).
struct AggregateState::GroupState {
  Row keys;
  int64_t n = 0;
  struct PerAgg {
    int64_t count = 0;
    Decimal sum;
    std::map<int32_t, int64_t> scales;
    Value extreme;
    bool extreme_known = false;
  };
  std::vector<PerAgg> aggs;
};

// A group touched in this batch: its state now, whether its output row existed and what it was
// before the batch, and per MIN/MAX the batch's delta of the multiset M (ordered key -> weight,
// with the first value seen for the key). The delta is hashed, not ordered: FlushMinMax visits
// every entry once whatever the order (the best added value by comparison, the writes sorted
// by the batch's commit), and a group of a wide MIN/MAX collects thousands of values per batch,
// where the ordered map's string comparisons cost ~10 % of apply_bench's CPU.
struct AggregateState::Dirty {
  GroupState st;
  std::optional<Row> old_out;
  struct MinMaxDelta { int64_t w = 0; Value v; };
  std::vector<std::unordered_map<std::string, MinMaxDelta>> minmax;
};

namespace {
// Keys of the `scales` map below 0 count the non-finite inputs, which a running sum cannot
// retract (NaN - NaN is NaN): SUM is NaN if any NaN (or both infinities) is present, else ±Inf.
constexpr int32_t kNaNKey = -1, kPosInfKey = -2, kNegInfKey = -3;

std::string EncodeScales(const std::map<int32_t, int64_t>& m) {
  std::string s;
  for (auto& [d, c] : m) s += std::to_string(d) + ":" + std::to_string(c) + ",";
  return s;
}

std::map<int32_t, int64_t> DecodeScales(const std::string& s) {
  std::map<int32_t, int64_t> m;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t colon = s.find(':', pos), comma = s.find(',', pos);
    m[std::stoi(s.substr(pos, colon - pos))] = std::stoll(s.substr(colon + 1, comma - colon - 1));
    pos = comma + 1;
  }
  return m;
}

Decimal WithScale(const Decimal& d, int32_t dscale) {
  if (!d.is_finite() || d.dscale() == dscale) return d;
  if (dscale > d.dscale()) return Decimal(d.unscaled() * values::Pow10(dscale - d.dscale()), dscale);
  // Only trailing zeros are dropped here (the scale map guarantees it).
  return Decimal(d.unscaled() / values::Pow10(d.dscale() - dscale), dscale);
}

// The sum of the present inputs at the display scale PostgreSQL would print.
Decimal SumOf(const AggregateState::GroupState::PerAgg& pa) {
  bool nan = pa.scales.count(kNaNKey), pinf = pa.scales.count(kPosInfKey), ninf = pa.scales.count(kNegInfKey);
  if (nan || (pinf && ninf)) return Decimal::NaN();
  if (pinf) return Decimal::PosInf();
  if (ninf) return Decimal::NegInf();
  int32_t dscale = pa.scales.empty() ? pa.sum.dscale() : std::max(0, pa.scales.rbegin()->first);
  return WithScale(pa.sum, dscale);
}

Result<Decimal> ToDecimal(const Value& v) {
  switch (v.type) {
    case TypeId::kInt2: case TypeId::kInt4: case TypeId::kInt8: return Decimal::FromInt64(v.i);
    case TypeId::kNumeric: return Decimal::Parse(v.s);
    default: return Status::Unsupported(std::string("SUM/AVG over type ") + TypeName(v.type));
  }
}
}  // namespace

AggregateState::AggregateState(const AggregateOp* op, std::string prefix) : op_(op), prefix_(std::move(prefix)) {}
AggregateState::~AggregateState() = default;

std::string AggregateState::GroupKeyPrefix(const std::string& gkey) const {
  return prefix_ + gkey;
}

// Record: group keys, n, then per aggregate (count, sum, scales, extreme).
Result<bool> AggregateState::Load(Batch* batch, const std::string& gkey, GroupState* st) {
  GroupState::PerAgg empty;
  empty.extreme_known = true;   // a group without a record has empty multisets
  st->aggs.assign(op_->aggs.size(), empty);
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kAgg, GroupKeyPrefix(gkey)));
  if (!raw) return false;
  PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(*raw));
  const size_t nk = op_->group_by.size(), na = op_->aggs.size();
  // 3 values per aggregate: a record written before MIN/MAX extremes were cached.
  const size_t per = r.size() == nk + 1 + 4 * na ? 4 : 3;
  if (r.size() != nk + 1 + per * na) return Status::Corruption("aggregate state: bad group record");
  st->keys.assign(r.begin(), r.begin() + static_cast<long>(nk));
  st->n = r[nk].i;
  for (size_t a = 0; a < na; ++a) {
    Value* base = &r[nk + 1 + per * a];
    auto& pa = st->aggs[a];
    pa.count = base[0].i;
    PGT_ASSIGN_OR_RETURN(pa.sum, Decimal::Parse(base[1].s));
    pa.scales = DecodeScales(base[2].s);
    pa.extreme = per == 4 ? std::move(base[3]) : Value::Null(TypeId::kUnknown);
    pa.extreme_known = per == 4 && (pa.count == 0 || !pa.extreme.is_null);
  }
  return true;
}

void AggregateState::Store(Batch* batch, const std::string& gkey, const GroupState& st) {
  if (st.n == 0 && !op_->group_by.empty()) {
    batch->Delete(Cf::kAgg, GroupKeyPrefix(gkey));
    return;
  }
  Row r = st.keys;
  r.reserve(r.size() + 1 + 4 * st.aggs.size());
  r.push_back(Value::Int(TypeId::kInt8, st.n));
  for (const auto& a : st.aggs) {
    r.push_back(Value::Int(TypeId::kInt8, a.count));
    r.push_back(Value::Str(TypeId::kNumeric, a.sum.ToString()));
    r.push_back(Value::Str(TypeId::kText, EncodeScales(a.scales)));
    r.push_back(a.extreme_known ? a.extreme : Value::Null(TypeId::kUnknown));
  }
  std::string enc;
  values::EncodeRow(r, &enc);
  batch->Put(Cf::kAgg, GroupKeyPrefix(gkey), enc);
}

void AggregateState::CheckBatch(Batch* batch) {
  if (batch->serial() == batch_serial_) return;
  dirty_.clear();   // left by a batch that was dropped: its changes never happened
  batch_serial_ = batch->serial();
}

// The group's batch state, loaded (and its output before the batch computed) on first touch.
Result<AggregateState::Dirty*> AggregateState::Touch(Batch* batch, const std::string& gkey, const Row* keys) {
  auto it = dirty_.find(gkey);
  if (it != dirty_.end()) return it->second.get();
  auto d = std::make_unique<Dirty>();
  PGT_ASSIGN_OR_RETURN(bool stored, Load(batch, gkey, &d->st));
  // The output row exists: a group with rows, or the global group once its record was stored
  // (Flush stores it, so its first emission is remembered).
  if (op_->group_by.empty() ? stored : d->st.n > 0) { PGT_ASSIGN_OR_RETURN(d->old_out, Output(batch, gkey, &d->st)); }
  if (d->st.keys.empty() && keys) d->st.keys = *keys;
  d->minmax.resize(op_->aggs.size());
  Dirty* raw = d.get();
  dirty_.emplace(gkey, std::move(d));
  return raw;
}

Status AggregateState::Apply(Batch* batch, const Row& row, int64_t w, const EmitFn& emit) {
  CheckBatch(batch);
  Row keys;
  keys.reserve(op_->group_by.size());
  for (const auto& g : op_->group_by) {
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*g, row));
    keys.push_back(std::move(v));
  }
  std::string gkey;
  values::EncodeKeyTuple(keys, &gkey);
  if (dirty_.size() >= kMaxDirtyGroups && !dirty_.count(gkey)) PGT_RETURN_IF_ERROR(Flush(batch, emit));
  PGT_ASSIGN_OR_RETURN(Dirty* d, Touch(batch, gkey, &keys));
  GroupState& st = d->st;
  st.n += w;
  if (st.n < 0) return Status::Corruption("aggregate: group count went negative (lost or repeated change)");
  for (size_t a = 0; a < op_->aggs.size(); ++a) {
    const AggSpec& spec = op_->aggs[a];
    if (spec.fn == AggFn::kCountStar) continue;
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*spec.arg, row));
    if (v.is_null) continue;
    auto& pa = st.aggs[a];
    int64_t dw = w;
    if (spec.distinct && spec.fn != AggFn::kMin && spec.fn != AggFn::kMax) {
      // Only a value's first appearance (+1) and last disappearance (−1) count.
      PGT_ASSIGN_OR_RETURN(dw, ApplyDistinct(batch, gkey, a, v, w));
      if (dw == 0) continue;
    }
    pa.count += dw;
    if (spec.fn == AggFn::kSum || spec.fn == AggFn::kAvg) {
      PGT_ASSIGN_OR_RETURN(Decimal d, ToDecimal(v));
      int32_t scale_key = d.is_nan() ? kNaNKey : !d.is_finite() ? (d.Sign() > 0 ? kPosInfKey : kNegInfKey) : d.dscale();
      if (d.is_finite()) pa.sum = dw == 1 ? pa.sum.Add(d) : dw == -1 ? pa.sum.Sub(d) : pa.sum.Add(d.Mul(Decimal::FromInt64(dw)));
      if (v.type == TypeId::kNumeric || !d.is_finite()) {
        if ((pa.scales[scale_key] += dw) == 0) pa.scales.erase(scale_key);
      }
    } else if (spec.fn == AggFn::kMin || spec.fn == AggFn::kMax) {
      std::string vkey;
      values::EncodeOrderedKey(v, &vkey);
      auto [slot, fresh] = d->minmax[a].try_emplace(std::move(vkey));
      if (fresh) slot->second.v = std::move(v);
      slot->second.w += w;
    }
  }
  return Status::Ok();
}

// One entry of a MIN/MAX (or DISTINCT) multiset: count, then the first representation seen.
Status AggregateState::ApplyMinMax(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w) {
  std::string key = GroupKeyPrefix(gkey);
  key.push_back(static_cast<char>(agg));
  values::EncodeOrderedKey(v, &key);
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kMinMax, key));
  int64_t count = raw ? CountOf(*raw) : 0;
  count += w;
  if (count < 0) return Status::Corruption("aggregate: MIN/MAX multiset count went negative");
  if (count == 0) {
    batch->Delete(Cf::kMinMax, key);
    return Status::Ok();
  }
  std::string val;
  AppendBE64(&val, static_cast<uint64_t>(count));
  if (raw && CountOf(*raw) != 0) val.append(*raw, 8, std::string::npos);  // keep the first-seen representation
  else values::EncodeRow(Row{v}, &val);
  batch->Put(Cf::kMinMax, key, val);
  return Status::Ok();
}

// The multiset of a DISTINCT aggregate's values (same layout as MIN/MAX's): returns +1 when v
// appears, −1 when its last copy goes, 0 otherwise.
Result<int64_t> AggregateState::ApplyDistinct(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w) {
  std::string key = GroupKeyPrefix(gkey);
  key.push_back(static_cast<char>(agg));
  values::EncodeOrderedKey(v, &key);
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kMinMax, key));
  int64_t before = raw ? CountOf(*raw) : 0;
  PGT_RETURN_IF_ERROR(ApplyMinMax(batch, gkey, agg, v, w));
  int64_t after = before + w;
  return before == 0 && after > 0 ? 1 : before > 0 && after == 0 ? -1 : 0;
}

// The first (MIN) or last (MAX) element of M, by a seek.
Result<Value> AggregateState::SeekMinMax(Batch* batch, const std::string& gkey, size_t agg, bool max) {
  std::string prefix = GroupKeyPrefix(gkey);
  prefix.push_back(static_cast<char>(agg));
  std::optional<std::string> found;
  bool negative = false;
  auto take = [&](std::string_view, std::string_view v) {
    const int64_t count = CountOf(v);
    if (count == 0) return true;   // a value gone (entries at count 0 wait for compaction)
    negative = count < 0;
    found = std::string(v);
    return false;
  };
  PGT_RETURN_IF_ERROR(max ? batch->ScanReverse(Cf::kMinMax, prefix, take) : batch->Scan(Cf::kMinMax, prefix, take));
  if (negative) return Status::Corruption("aggregate: MIN/MAX multiset count went negative");
  if (!found) return Value::Null(op_->aggs[agg].result_type);
  PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(std::string_view(*found).substr(8)));
  return r.at(0);
}

// Writes the batch's delta of M for one MIN/MAX and sets the new extreme. Each changed value's
// count delta is a merge operand (Batch::MergeCount: no read). The new extreme is the best of the
// old one (unless its last copy went) and the values added in this batch: a value with a
// positive delta is present now; one with a negative delta was present before, so it cannot beat
// a still present old extreme. Reads: the old extreme's count when it loses copies, the winning
// added value's stored representation, and a seek only when the old extreme went (or was not
// cached).
Status AggregateState::FlushMinMax(Batch* batch, const std::string& gkey, size_t agg, Dirty* d) {
  const bool max = op_->aggs[agg].fn == AggFn::kMax;
  auto& pa = d->st.aggs[agg];
  std::string old_key;
  bool old_valid = pa.extreme_known && !pa.extreme.is_null;
  if (old_valid) values::EncodeOrderedKey(pa.extreme, &old_key);
  const std::string* best = nullptr;   // the best value added in this batch (ordered key)
  std::string key = GroupKeyPrefix(gkey);
  key.push_back(static_cast<char>(agg));
  const size_t base = key.size();
  std::string payload;
  for (auto& [vkey, delta] : d->minmax[agg]) {
    if (delta.w == 0) continue;
    key.resize(base);
    key += vkey;
    if (delta.w < 0 && old_valid && vkey == old_key) {   // did the extreme's last copy go?
      PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kMinMax, key));
      int64_t count = (raw ? CountOf(*raw) : 0) + delta.w;
      if (count < 0) return Status::Corruption("aggregate: MIN/MAX multiset count went negative");
      if (count == 0) {
        batch->Delete(Cf::kMinMax, key);
        old_valid = false;
      } else {
        batch->Put(Cf::kMinMax, key, CountedEntry(count, std::string_view(*raw).substr(8)));
      }
      continue;
    }
    payload.clear();
    values::EncodeRow(Row{delta.v}, &payload);
    PGT_RETURN_IF_ERROR(batch->MergeCount(Cf::kMinMax, key, delta.w, payload));
    if (delta.w > 0 && (!best || (max ? vkey > *best : vkey < *best))) best = &vkey;
  }
  const bool best_wins = best && (old_valid ? (max ? *best > old_key : *best < old_key)
                                            : pa.extreme_known && pa.extreme.is_null);   // M was empty
  if (pa.count == 0) {
    pa.extreme = Value::Null(op_->aggs[agg].result_type);
  } else if (best_wins) {   // the stored representation: the first one seen of this value
    key.resize(base);
    key += *best;
    PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kMinMax, key));
    if (!raw || CountOf(*raw) <= 0) return Status::Corruption("aggregate: MIN/MAX multiset count went negative");
    PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(std::string_view(*raw).substr(8)));
    pa.extreme = std::move(r.at(0));
  } else if (!old_valid) {
    PGT_ASSIGN_OR_RETURN(pa.extreme, SeekMinMax(batch, gkey, agg, max));
  }
  d->minmax[agg].clear();
  pa.extreme_known = true;
  return Status::Ok();
}

Result<Row> AggregateState::Output(Batch* batch, const std::string& gkey, GroupState* st) {
  Row out = st->keys;
  if (out.empty() && !op_->group_by.empty()) return Status::Internal("aggregate: group without keys");
  for (size_t a = 0; a < op_->aggs.size(); ++a) {
    const AggSpec& spec = op_->aggs[a];
    auto& pa = st->aggs[a];
    switch (spec.fn) {
      case AggFn::kCountStar: out.push_back(Value::Int(TypeId::kInt8, st->n)); break;
      case AggFn::kCount: out.push_back(Value::Int(TypeId::kInt8, pa.count)); break;
      case AggFn::kSum:
        if (pa.count == 0) out.push_back(Value::Null(spec.result_type));
        else if (spec.result_type == TypeId::kNumeric) out.push_back(Value::Str(TypeId::kNumeric, SumOf(pa).ToString()));
        else {
          PGT_ASSIGN_OR_RETURN(int64_t x, SumOf(pa).ToInt64(spec.result_type));
          out.push_back(Value::Int(spec.result_type, x));
        }
        break;
      case AggFn::kAvg: {
        if (pa.count == 0) { out.push_back(Value::Null(TypeId::kNumeric)); break; }
        PGT_ASSIGN_OR_RETURN(Decimal avg, SumOf(pa).Div(Decimal::FromInt64(pa.count)));
        out.push_back(Value::Str(TypeId::kNumeric, avg.ToString()));
        break;
      }
      case AggFn::kMin: case AggFn::kMax: {
        if (!pa.extreme_known) {   // a record from before extremes were cached
          PGT_ASSIGN_OR_RETURN(pa.extreme, SeekMinMax(batch, gkey, a, spec.fn == AggFn::kMax));
          pa.extreme_known = true;
        }
        out.push_back(pa.extreme.is_null ? Value::Null(spec.result_type) : pa.extreme);
        break;
      }
    }
  }
  return out;
}

Status AggregateState::Flush(Batch* batch, const EmitFn& emit) {
  CheckBatch(batch);
  if (touch_global_) {
    touch_global_ = false;
    if (!dirty_.count(std::string())) {
      PGT_ASSIGN_OR_RETURN(Dirty* d, Touch(batch, std::string(), nullptr));
      d->old_out.reset();   // bootstrap: the row is emitted as new
    }
  }
  auto dirty = std::move(dirty_);   // detached: emitting reaches only nodes above this one
  dirty_.clear();
  for (auto& [gkey, d] : dirty) {
    GroupState& st = d->st;
    for (size_t a = 0; a < op_->aggs.size(); ++a) {
      AggFn fn = op_->aggs[a].fn;
      if (fn == AggFn::kMin || fn == AggFn::kMax) PGT_RETURN_IF_ERROR(FlushMinMax(batch, gkey, a, d.get()));
    }
    std::optional<Row> now;
    if (st.n > 0 || op_->group_by.empty()) { PGT_ASSIGN_OR_RETURN(now, Output(batch, gkey, &st)); }
    Store(batch, gkey, st);   // the global group's record is kept: it remembers its row exists
    if (d->old_out && now && *d->old_out == *now) continue;
    if (d->old_out) PGT_RETURN_IF_ERROR(emit(gkey, *d->old_out, -1));
    if (now) PGT_RETURN_IF_ERROR(emit(gkey, *now, +1));
  }
  return Status::Ok();
}

}  // namespace pgt::engine
