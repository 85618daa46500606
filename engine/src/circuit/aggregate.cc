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
struct AggregateState::GroupState {
  Row keys;
  int64_t n = 0;
  struct PerAgg {
    int64_t count = 0;
    Decimal sum;
    std::map<int32_t, int64_t> scales;
  };
  std::vector<PerAgg> aggs;
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

std::string AggregateState::GroupKeyPrefix(const std::string& gkey) const {
  return prefix_ + gkey;
}

Result<AggregateState::GroupState> AggregateState::Load(Batch* batch, const std::string& gkey) {
  GroupState st;
  st.aggs.resize(op_->aggs.size());
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kAgg, GroupKeyPrefix(gkey)));
  if (!raw) return st;
  PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(*raw));
  size_t nk = op_->group_by.size();
  if (r.size() != nk + 1 + 3 * op_->aggs.size()) return Status::Corruption("aggregate state: bad group record");
  st.keys.assign(r.begin(), r.begin() + static_cast<long>(nk));
  st.n = r[nk].i;
  for (size_t a = 0; a < op_->aggs.size(); ++a) {
    const Row::value_type* base = &r[nk + 1 + 3 * a];
    st.aggs[a].count = base[0].i;
    PGT_ASSIGN_OR_RETURN(st.aggs[a].sum, Decimal::Parse(base[1].s));
    st.aggs[a].scales = DecodeScales(base[2].s);
  }
  return st;
}

Status AggregateState::Store(Batch* batch, const std::string& gkey, const GroupState& st) {
  if (st.n == 0 && !op_->group_by.empty()) {
    batch->Delete(Cf::kAgg, GroupKeyPrefix(gkey));
    return Status::Ok();
  }
  Row r = st.keys;
  r.push_back(Value::Int(TypeId::kInt8, st.n));
  for (const auto& a : st.aggs) {
    r.push_back(Value::Int(TypeId::kInt8, a.count));
    r.push_back(Value::Str(TypeId::kNumeric, a.sum.ToString()));
    r.push_back(Value::Str(TypeId::kText, EncodeScales(a.scales)));
  }
  std::string enc;
  values::EncodeRow(r, &enc);
  batch->Put(Cf::kAgg, GroupKeyPrefix(gkey), enc);
  return Status::Ok();
}

Status AggregateState::Apply(Batch* batch, const WeightedRow& in) {
  Row keys;
  for (const auto& g : op_->group_by) {
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*g, in.row));
    keys.push_back(std::move(v));
  }
  std::string gkey;
  values::EncodeKeyTuple(keys, &gkey);
  PGT_ASSIGN_OR_RETURN(GroupState st, Load(batch, gkey));
  if (!dirty_.count(gkey)) {   // first touch in this batch: remember the output before it
    std::optional<Row> old;
    PGT_ASSIGN_OR_RETURN(bool existed, Exists(batch, gkey, st));
    if (existed) { PGT_ASSIGN_OR_RETURN(old, Output(batch, gkey, st)); }
    dirty_[gkey] = std::move(old);
  }
  if (st.keys.empty()) st.keys = keys;
  st.n += in.weight;
  if (st.n < 0) return Status::Corruption("aggregate: group count went negative (lost or repeated change)");
  for (size_t a = 0; a < op_->aggs.size(); ++a) {
    const AggSpec& spec = op_->aggs[a];
    if (spec.fn == AggFn::kCountStar) continue;
    PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*spec.arg, in.row));
    if (v.is_null) continue;
    auto& pa = st.aggs[a];
    int64_t w = in.weight;
    if (spec.distinct && spec.fn != AggFn::kMin && spec.fn != AggFn::kMax) {
      // Only a value's first appearance (+1) and last disappearance (−1) count.
      PGT_ASSIGN_OR_RETURN(w, ApplyDistinct(batch, gkey, a, v, in.weight));
      if (w == 0) continue;
    }
    pa.count += w;
    if (spec.fn == AggFn::kSum || spec.fn == AggFn::kAvg) {
      PGT_ASSIGN_OR_RETURN(Decimal d, ToDecimal(v));
      int32_t scale_key = d.is_nan() ? kNaNKey : !d.is_finite() ? (d.Sign() > 0 ? kPosInfKey : kNegInfKey) : d.dscale();
      if (d.is_finite()) pa.sum = pa.sum.Add(d.Mul(Decimal::FromInt64(w)));
      if (v.type == TypeId::kNumeric || !d.is_finite()) {
        if ((pa.scales[scale_key] += w) == 0) pa.scales.erase(scale_key);
      }
    } else if (spec.fn == AggFn::kMin || spec.fn == AggFn::kMax) {
      PGT_RETURN_IF_ERROR(ApplyMinMax(batch, gkey, a, v, in.weight));
    }
  }
  return Store(batch, gkey, st);
}

// Whether the group's output row exists: a group with rows, or the global group once its state
// record was stored (Flush stores it, so its first emission is remembered).
Result<bool> AggregateState::Exists(Batch* batch, const std::string& gkey, const GroupState& st) {
  if (!op_->group_by.empty()) return st.n > 0;
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kAgg, GroupKeyPrefix(gkey)));
  return raw.has_value();
}

void AggregateState::TouchGlobalGroup() {
  if (op_->group_by.empty() && !dirty_.count(std::string())) dirty_[std::string()] = std::nullopt;
}

Status AggregateState::ApplyMinMax(Batch* batch, const std::string& gkey, size_t agg, const Value& v, int64_t w) {
  std::string key = GroupKeyPrefix(gkey);
  key.push_back(static_cast<char>(agg));
  values::EncodeOrderedKey(v, &key);
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kMinMax, key));
  int64_t count = raw ? static_cast<int64_t>(ReadBE64(*raw)) : 0;
  count += w;
  if (count < 0) return Status::Corruption("aggregate: MIN/MAX multiset count went negative");
  if (count == 0) {
    batch->Delete(Cf::kMinMax, key);
    return Status::Ok();
  }
  std::string val;
  AppendBE64(&val, static_cast<uint64_t>(count));
  if (raw) val.append(*raw, 8, std::string::npos);  // keep the first-seen representation
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
  int64_t before = raw ? static_cast<int64_t>(ReadBE64(*raw)) : 0;
  PGT_RETURN_IF_ERROR(ApplyMinMax(batch, gkey, agg, v, w));
  int64_t after = before + w;
  return before == 0 && after > 0 ? 1 : before > 0 && after == 0 ? -1 : 0;
}

Result<Value> AggregateState::MinMax(Batch* batch, const std::string& gkey, size_t agg, bool max) {
  std::string prefix = GroupKeyPrefix(gkey);
  prefix.push_back(static_cast<char>(agg));
  std::optional<std::string> found;
  auto take = [&](std::string_view, std::string_view v) { found = std::string(v); return false; };
  PGT_RETURN_IF_ERROR(max ? batch->ScanReverse(Cf::kMinMax, prefix, take) : batch->Scan(Cf::kMinMax, prefix, take));
  if (!found) return Value::Null(op_->aggs[agg].result_type);
  PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(std::string_view(*found).substr(8)));
  return r.at(0);
}

Result<Row> AggregateState::Output(Batch* batch, const std::string& gkey, const GroupState& st) {
  Row out = st.keys;
  if (out.empty() && !op_->group_by.empty()) return Status::Internal("aggregate: group without keys");
  for (size_t a = 0; a < op_->aggs.size(); ++a) {
    const AggSpec& spec = op_->aggs[a];
    const auto& pa = st.aggs[a];
    Decimal sum = SumOf(pa);
    switch (spec.fn) {
      case AggFn::kCountStar: out.push_back(Value::Int(TypeId::kInt8, st.n)); break;
      case AggFn::kCount: out.push_back(Value::Int(TypeId::kInt8, pa.count)); break;
      case AggFn::kSum:
        if (pa.count == 0) out.push_back(Value::Null(spec.result_type));
        else if (spec.result_type == TypeId::kNumeric) out.push_back(Value::Str(TypeId::kNumeric, sum.ToString()));
        else {
          PGT_ASSIGN_OR_RETURN(int64_t x, sum.ToInt64(spec.result_type));
          out.push_back(Value::Int(spec.result_type, x));
        }
        break;
      case AggFn::kAvg: {
        if (pa.count == 0) { out.push_back(Value::Null(TypeId::kNumeric)); break; }
        PGT_ASSIGN_OR_RETURN(Decimal avg, sum.Div(Decimal::FromInt64(pa.count)));
        out.push_back(Value::Str(TypeId::kNumeric, avg.ToString()));
        break;
      }
      case AggFn::kMin: case AggFn::kMax: {
        PGT_ASSIGN_OR_RETURN(Value v, MinMax(batch, gkey, a, spec.fn == AggFn::kMax));
        out.push_back(std::move(v));
        break;
      }
    }
  }
  return out;
}

Status AggregateState::Flush(Batch* batch,
                             const std::function<Status(const std::string&, const Row&, int64_t)>& emit) {
  for (auto& [gkey, old] : dirty_) {
    PGT_ASSIGN_OR_RETURN(GroupState st, Load(batch, gkey));
    std::optional<Row> now;
    if (st.n > 0 || op_->group_by.empty()) {
      PGT_ASSIGN_OR_RETURN(now, Output(batch, gkey, st));
      if (op_->group_by.empty()) PGT_RETURN_IF_ERROR(Store(batch, gkey, st));   // remember it exists
    }
    if (old && now && *old == *now) continue;
    if (old) PGT_RETURN_IF_ERROR(emit(gkey, *old, -1));
    if (now) PGT_RETURN_IF_ERROR(emit(gkey, *now, +1));
  }
  dirty_.clear();
  return Status::Ok();
}

}  // namespace pgt::engine
