#include "stream_table.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "values/codec.h"
#include "values/expr.h"
#include "values/row_id.h"

namespace pgt::engine {

std::string TableMeta::Encode() const {
  nlohmann::json j = {{"id", id}, {"name", name}, {"plan", plan_json}, {"bootstrap_lsn", bootstrap_lsn},
                      {"merged_frontier", merged_frontier}, {"has_merged", has_merged},
                      {"needs_rebootstrap", needs_rebootstrap}, {"replace_on_merge", replace_on_merge},
                      {"status", status == TableStatus::kActive ? "active" : "error"}, {"error", error}};
  return j.dump();
}

Result<TableMeta> TableMeta::Decode(std::string_view s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded()) return Status::Corruption("table registry entry is not JSON");
  TableMeta m;
  try {
    m.id = j.at("id").get<int64_t>();
    m.name = j.at("name").get<std::string>();
    m.plan_json = j.at("plan").get<std::string>();
    m.bootstrap_lsn = j.at("bootstrap_lsn").get<Lsn>();
    m.merged_frontier = j.at("merged_frontier").get<Lsn>();
    m.has_merged = j.at("has_merged").get<bool>();
    m.needs_rebootstrap = j.value("needs_rebootstrap", false);
    m.replace_on_merge = j.value("replace_on_merge", false);
    m.status = j.at("status").get<std::string>() == "active" ? TableStatus::kActive : TableStatus::kError;
    m.error = j.at("error").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("table registry entry: ") + e.what());
  }
  return m;
}

std::string RowIdOf(std::string_view encoded_key) {
  values::RowId id = values::RowIdFromEncodedKey(encoded_key);
  return std::string(reinterpret_cast<const char*>(id.bytes), sizeof id.bytes);
}

std::string FormatRowIdUuid(std::string_view id16) {
  values::RowId id;
  std::memcpy(id.bytes, id16.data(), std::min(id16.size(), sizeof id.bytes));
  return values::FormatUuid(id);
}

Result<std::unique_ptr<StreamTable>> StreamTable::Create(TableMeta meta) {
  PGT_ASSIGN_OR_RETURN(auto plan, ParsePlan(meta.plan_json));
  return std::unique_ptr<StreamTable>(new StreamTable(std::move(meta), std::move(plan)));
}

StreamTable::StreamTable(TableMeta meta, std::unique_ptr<Plan> plan) : meta_(std::move(meta)), plan_(std::move(plan)) {
  if (plan_->aggregate) agg_ = std::make_unique<AggregateState>(&*plan_->aggregate, meta_.id);
}

void StreamTable::ForEachStatePrefix(int64_t id, const std::function<void(Cf, const std::string&)>& fn) {
  for (Cf cf : {Cf::kMirror, Cf::kAgg, Cf::kMinMax, Cf::kPending}) fn(cf, TablePrefix(id));
}

// Scan rows have exactly natts values (columns added to the source later are cut off; the
// plan does not read them).
Row StreamTable::Normalize(Row row) const {
  row.resize(static_cast<size_t>(plan_->sources[0].natts), Value::Null(TypeId::kUnknown));
  return row;
}

std::string StreamTable::MirrorKey(const Row& r) const {
  Row key;
  for (int16_t a : plan_->sources[0].key_attnums) key.push_back(r.at(static_cast<size_t>(a - 1)));
  std::string k = TablePrefix(meta_.id);
  values::EncodeKeyTuple(key, &k);
  return k;
}

Result<std::optional<Row>> StreamTable::MirrorGet(Batch* batch, const std::string& key) {
  PGT_ASSIGN_OR_RETURN(auto raw, batch->Get(Cf::kMirror, key));
  if (!raw) return std::optional<Row>();
  PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(*raw));
  return std::optional<Row>(std::move(r));
}

Status StreamTable::ApplySnapshotRow(Batch* batch, Row row) {
  row = Normalize(std::move(row));
  std::string enc;
  values::EncodeRow(row, &enc);
  batch->Put(Cf::kMirror, MirrorKey(row), enc);
  return Push(batch, row, +1);
}

Status StreamTable::ApplyChange(Batch* batch, const Change& c) {
  if (c.kind == ChangeKind::kTruncate)   // handled by a re-bootstrap (engine.cc), not row by row
    return Status::Internal("TRUNCATE reached the circuit of " + meta_.name);
  std::optional<Row> old_row, new_row;
  if (c.new_row) new_row = Normalize(*c.new_row);
  // The old row's key: from the WAL's old key/tuple if present, else the new row's key.
  std::string old_key;
  if (c.old_row) old_key = MirrorKey(Normalize(*c.old_row));
  else if (new_row && c.kind == ChangeKind::kUpdate) old_key = MirrorKey(*new_row);
  if (c.kind != ChangeKind::kInsert) {
    if (old_key.empty()) return Status::Corruption("change without old key on " + meta_.name);
    PGT_ASSIGN_OR_RETURN(old_row, MirrorGet(batch, old_key));
    if (!old_row)
      return Status::Corruption("source row missing from the mirror of " + meta_.name +
                                " (UPDATE/DELETE of a row the engine never saw) at LSN " + FormatLsn(c.lsn));
    batch->Delete(Cf::kMirror, old_key);
  } else {
    PGT_ASSIGN_OR_RETURN(old_row, MirrorGet(batch, MirrorKey(*new_row)));
    if (old_row) return Status::Corruption("INSERT of a key already in the mirror of " + meta_.name + " at LSN " +
                                           FormatLsn(c.lsn));
  }
  if (new_row) {
    for (size_t i = 0; i < new_row->size(); ++i) {
      if ((*new_row)[i].unchanged_toast) {
        if (!old_row) return Status::Corruption("unchanged TOAST value without an old row in " + meta_.name);
        (*new_row)[i] = (*old_row)[i];
      }
    }
    std::string enc;
    values::EncodeRow(*new_row, &enc);
    batch->Put(Cf::kMirror, MirrorKey(*new_row), enc);
  }
  if (old_row) PGT_RETURN_IF_ERROR(Push(batch, *old_row, -1));
  if (new_row) PGT_RETURN_IF_ERROR(Push(batch, *new_row, +1));
  return Status::Ok();
}

Result<std::optional<Row>> StreamTable::RunLinear(const std::vector<LinearOp>& ops, Row row) const {
  for (const auto& op : ops) {
    if (op.kind == LinearOp::Kind::kFilter) {
      PGT_ASSIGN_OR_RETURN(bool keep, values::EvalPredicate(*op.predicate, row));
      if (!keep) return std::optional<Row>();
    } else {
      Row out;
      out.reserve(op.exprs.size());
      for (const auto& e : op.exprs) {
        PGT_ASSIGN_OR_RETURN(Value v, values::Eval(*e, row));
        out.push_back(std::move(v));
      }
      row = std::move(out);
    }
  }
  return std::optional<Row>(std::move(row));
}

// Linear part: Δσ(S) = σ(ΔS), Δπ(S) = π(ΔS). Without an aggregate the output row's identity is
// the source key; a retraction that passes becomes 'D', an insertion 'U' (the insertion of the
// same key, pushed after its retraction, overwrites it).
Status StreamTable::Push(Batch* batch, const Row& source_row, int64_t weight) {
  PGT_ASSIGN_OR_RETURN(auto row, RunLinear(plan_->pre, source_row));
  if (!row) return Status::Ok();
  if (agg_) return agg_->Apply(batch, WeightedRow{std::move(*row), weight});
  std::string id_key;
  Row key;
  for (int16_t a : plan_->sources[0].key_attnums) key.push_back(source_row.at(static_cast<size_t>(a - 1)));
  values::EncodeKeyTuple(key, &id_key);
  return EmitOutput(batch, id_key, weight > 0 ? std::optional<Row>(std::move(*row)) : std::nullopt);
}

Status StreamTable::FinishBatch(Batch* batch) {
  if (!agg_) return Status::Ok();
  return agg_->Flush(batch, [&](const std::string& gkey, std::optional<Row> row) -> Status {
    if (row) {
      PGT_ASSIGN_OR_RETURN(row, RunLinear(plan_->post, std::move(*row)));
    }
    return EmitOutput(batch, gkey, row);
  });
}

Status StreamTable::EmitOutput(Batch* batch, const std::string& identity_key, const std::optional<Row>& row) {
  std::string key = TablePrefix(meta_.id) + RowIdOf(identity_key);
  if (!row) {
    batch->Put(Cf::kPending, key, "D");
    return Status::Ok();
  }
  if (row->size() != plan_->output.size())
    return Status::Internal("output row of " + meta_.name + " has " + std::to_string(row->size()) +
                            " values, the table has " + std::to_string(plan_->output.size()) + " columns");
  std::string val = "U";
  values::EncodeRow(*row, &val);
  batch->Put(Cf::kPending, key, val);
  return Status::Ok();
}

}  // namespace pgt::engine
