#include "stream_table.h"

#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "values/codec.h"
#include "circuit/linear.h"
#include "values/expr.h"
#include "values/row_id.h"

namespace pgt::engine {

std::string TableMeta::Encode() const {
  nlohmann::json j = {{"id", id}, {"name", name}, {"plan", plan_json}, {"bootstrap_lsn", bootstrap_lsn},
                      {"merged_frontier", merged_frontier}, {"has_merged", has_merged},
                      {"needs_rebootstrap", needs_rebootstrap}, {"replace_on_merge", replace_on_merge},
                      {"status", status == TableStatus::kActive ? "active" : "error"}, {"error", error},
                      {"state_version", state_version}};
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
    m.state_version = j.value("state_version", 1);
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

// The circuit's root feeds this: the last event per identity wins (see circuit/node.h).
class StreamTable::OutputSink : public Node {
 public:
  explicit OutputSink(StreamTable* t) : t_(t) {}
  Status Push(Batch* b, int, const std::string& id, const Row& row, int64_t w) override {
    return t_->EmitOutput(b, id, w > 0 ? &row : nullptr);
  }

 private:
  StreamTable* t_;
};

namespace {
using nlohmann::json;

// Every input column an expression (or a list of them) reads.
void CollectCols(const json& e, std::set<int>* out) {
  if (e.is_object()) {
    auto k = e.find("kind"), c = e.find("col");
    if (k != e.end() && *k == "col" && c != e.end() && c->is_number_integer()) out->insert(c->get<int>());
    for (const auto& item : e.items()) CollectCols(item.value(), out);
  } else if (e.is_array()) {
    for (const auto& v : e) CollectCols(v, out);
  }
}

// Walks the operator tree in the order BuildCircuit creates scans; `need` = the columns of
// `op`'s output read above it (nullopt = all). Filters add their predicate's columns, projects
// and aggregates read only their expressions' columns; joins, DISTINCT and set operations read
// whole rows.
void ScanReads(const json& op, std::optional<std::set<int>> need, std::vector<std::optional<std::set<int>>>* out) {
  const std::string kind = op.is_object() ? op.value("op", "") : "";
  if (kind == "scan") { out->push_back(std::move(need)); return; }
  if (kind == "filter") {
    if (need) CollectCols(op["predicate"], &*need);
    return ScanReads(op["input"], std::move(need), out);
  }
  if (kind == "project" || kind == "aggregate") {
    std::set<int> n;
    for (const char* k : {"exprs", "group_by", "aggs"}) if (op.contains(k)) CollectCols(op[k], &n);
    return ScanReads(op["input"], std::move(n), out);
  }
  for (const char* k : {"input", "left", "right"}) if (op.contains(k)) ScanReads(op[k], std::nullopt, out);
  if (op.contains("inputs")) for (const auto& in : op["inputs"]) ScanReads(in, std::nullopt, out);
}
}  // namespace

Result<std::unique_ptr<StreamTable>> StreamTable::Create(TableMeta meta) {
  PGT_ASSIGN_OR_RETURN(auto plan, ParsePlan(meta.plan_json));
  auto t = std::unique_ptr<StreamTable>(new StreamTable(std::move(meta), std::move(plan)));
  std::string prefix = TablePrefix(t->meta_.id) + "\x02";
  PGT_ASSIGN_OR_RETURN(t->circuit_, BuildCircuit(*t->plan_, prefix));
  t->circuit_.root->ConnectTo(t->sink_.get(), 0);
  std::vector<std::optional<std::set<int>>> reads;
  ScanReads(*t->plan_->root, std::nullopt, &reads);
  t->scan_reads_.assign(t->circuit_.scans.size(), {});
  if (reads.size() == t->circuit_.scans.size()) {   // else: every column, for every scan
    for (size_t i = 0; i < reads.size(); ++i) {
      if (!reads[i]) continue;
      std::set<int> cols = *reads[i];
      for (int16_t a : t->plan_->sources[static_cast<size_t>(t->circuit_.scans[i]->source())].key_attnums) cols.insert(a - 1);
      t->scan_reads_[i].assign(cols.begin(), cols.end());
    }
  }
  return t;
}

StreamTable::StreamTable(TableMeta meta, std::unique_ptr<Plan> plan)
    : meta_(std::move(meta)), plan_(std::move(plan)), sink_(std::make_unique<OutputSink>(this)) {}
StreamTable::~StreamTable() = default;

void StreamTable::ForEachStatePrefix(int64_t id, const std::function<void(Cf, const std::string&)>& fn) {
  for (Cf cf : {Cf::kMirror, Cf::kAgg, Cf::kMinMax, Cf::kPending}) fn(cf, TablePrefix(id));
}

bool StreamTable::ReadsSource(Oid relid) const {
  for (const auto& s : plan_->sources) if (s.relid == relid) return true;
  return false;
}

std::vector<Oid> StreamTable::source_relids() const {
  std::vector<Oid> r;
  for (const auto& s : plan_->sources) r.push_back(s.relid);
  return r;
}

Status StreamTable::ApplySourceDelta(Batch* batch, Oid relid, const std::optional<Row>& old_row,
                                     const std::optional<Row>& new_row) {
  for (size_t i = 0; i < circuit_.scans.size(); ++i) {
    ScanNode* scan = circuit_.scans[i];
    if (plan_->sources[static_cast<size_t>(scan->source())].relid != relid) continue;
    if (old_row && new_row && Unchanged(i, *old_row, *new_row)) continue;   // nothing read here changed
    if (old_row) PGT_RETURN_IF_ERROR(scan->PushSource(batch, *old_row, -1));
    if (new_row) PGT_RETURN_IF_ERROR(scan->PushSource(batch, *new_row, +1));
  }
  return Status::Ok();
}

// Whether an UPDATE leaves every column scan `scan` contributes unchanged (same identity too).
bool StreamTable::Unchanged(size_t scan, const Row& old_row, const Row& new_row) const {
  auto at = [](const Row& r, size_t i) -> const Value* { return i < r.size() ? &r[i] : nullptr; };
  auto same = [&](size_t i) {
    const Value *a = at(old_row, i), *b = at(new_row, i);
    if (!a || !b) return (!a || a->is_null) && (!b || b->is_null);
    return *a == *b;
  };
  const auto& cols = scan_reads_[scan];
  if (cols.empty()) {
    size_t n = static_cast<size_t>(circuit_.scans[scan]->width());
    for (size_t i = 0; i < n; ++i) if (!same(i)) return false;
    return true;
  }
  for (int c : cols) if (c < 0 || !same(static_cast<size_t>(c))) return false;
  return true;
}

Status StreamTable::ApplySnapshotRow(Batch* batch, Oid relid, const Row& row) {
  // Pushed as is: through ApplySourceDelta's std::optional<Row> every snapshot row was copied.
  for (ScanNode* scan : circuit_.scans) {
    if (plan_->sources[static_cast<size_t>(scan->source())].relid != relid) continue;
    PGT_RETURN_IF_ERROR(scan->PushSource(batch, row, +1));
  }
  return Status::Ok();
}

Status StreamTable::FinishBatch(Batch* batch) {
  for (auto& n : circuit_.nodes) PGT_RETURN_IF_ERROR(n->Flush(batch));
  WritePending(batch);
  return Status::Ok();
}

void StreamTable::WritePending(Batch* batch) {
  if (pending_serial_ == batch->serial()) {
    std::string key = TablePrefix(meta_.id);
    for (const auto& [rid, val] : pending_) {
      key.resize(8);
      key += rid;
      batch->Put(Cf::kPending, key, val);
    }
  }
  pending_.clear();
  pending_serial_ = batch->serial();
}

void StreamTable::TouchGlobalGroup() {
  for (auto& n : circuit_.nodes) n->TouchGlobal();
}

Status StreamTable::EmitOutput(Batch* batch, const std::string& identity_key, const Row* row) {
  if (row && row->size() != plan_->output.size())
    return Status::Internal("output row of " + meta_.name + " has " + std::to_string(row->size()) +
                            " values, the table has " + std::to_string(plan_->output.size()) + " columns");
  if (bulk_output_) {
    values::RowId rid = values::RowIdFromEncodedKey(identity_key);
    bulk_key_ = TablePrefix(meta_.id);
    bulk_key_.append(reinterpret_cast<const char*>(rid.bytes), sizeof rid.bytes);
    bulk_val_.assign(row ? "U" : "D");
    if (row) values::EncodeRow(*row, &bulk_val_);
    batch->Put(Cf::kPending, bulk_key_, bulk_val_);
    return Status::Ok();
  }
  if (pending_serial_ != batch->serial()) {   // left by a batch that was dropped: discarded
    pending_.clear();
    pending_serial_ = batch->serial();
  }
  std::string& val = pending_[RowIdOf(identity_key)];
  val.clear();
  if (!row) {
    val = "D";
  } else {
    val = "U";
    values::EncodeRow(*row, &val);
  }
  if (pending_.size() >= kMaxPendingCache) WritePending(batch);
  return Status::Ok();
}

}  // namespace pgt::engine
