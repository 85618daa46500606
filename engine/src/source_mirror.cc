// Shared source mirrors; see source_mirror.h.
#include "source_mirror.h"

#include <nlohmann/json.hpp>

#include "values/codec.h"

namespace pgt::engine {

std::string MirrorMeta::Encode() const {
  return nlohmann::json({{"relid", relid}, {"name", name}, {"key", key_attnums}, {"natts", natts},
                         {"bootstrap_lsn", bootstrap_lsn}}).dump();
}

Result<MirrorMeta> MirrorMeta::Decode(std::string_view s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded()) return Status::Corruption("mirror registry entry is not JSON");
  MirrorMeta m;
  try {
    m.relid = j.at("relid").get<Oid>();
    m.name = j.at("name").get<std::string>();
    m.key_attnums = j.at("key").get<std::vector<int16_t>>();
    m.natts = j.at("natts").get<int>();
    m.bootstrap_lsn = j.at("bootstrap_lsn").get<Lsn>();
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(std::string("mirror registry entry: ") + e.what());
  }
  return m;
}

static std::string Be32(Oid v) {
  std::string s;
  for (int sh = 24; sh >= 0; sh -= 8) s.push_back(static_cast<char>((v >> sh) & 0xff));
  return s;
}

std::string SourceMirror::Prefix(Oid relid) { return "M" + Be32(relid); }
std::string SourceMirror::MetaKey(Oid relid) { return "mirror/" + Be32(relid); }

Row SourceMirror::Normalize(Row row) const {
  row.resize(static_cast<size_t>(meta_.natts), Value::Null(TypeId::kUnknown));
  return row;
}

// Prefix + the key columns' ordered encodings (EncodeKeyTuple of the key values).
std::string SourceMirror::Key(const Row& r) const {
  std::string k = Prefix(meta_.relid);
  for (int16_t a : meta_.key_attnums) {
    size_t i = static_cast<size_t>(a - 1);
    if (i < r.size()) values::EncodeOrderedKey(r[i], &k);
    else values::EncodeOrderedKey(Value::Null(TypeId::kUnknown), &k);
  }
  return k;
}

void SourceMirror::PutSnapshotRow(Batch* b, const Row& row) {
  thread_local std::string enc;   // reused: bootstraps put millions of rows
  enc.clear();
  values::EncodeRow(row, &enc);
  b->Put(Cf::kMirror, Key(row), enc);
}

Status SourceMirror::Apply(Batch* b, const Change& c, std::optional<Row>* old_row, std::optional<Row>* new_row,
                           std::string* old_key_out, std::string* new_key_out) {
  old_row->reset();
  new_row->reset();
  if (c.new_row) *new_row = Normalize(*c.new_row);
  // The old row's key: from the WAL's old key/tuple if present, else the new row's key.
  const std::string new_key = *new_row ? Key(**new_row) : std::string();
  std::string old_key;
  if (c.old_row) old_key = Key(*c.old_row);
  else if (*new_row && c.kind == ChangeKind::kUpdate) old_key = new_key;
  const std::string& probe = c.kind == ChangeKind::kInsert ? new_key : old_key;
  if (probe.empty()) return Status::Corruption("change without old key on " + meta_.name);
  PGT_ASSIGN_OR_RETURN(auto raw, b->Get(Cf::kMirror, probe));
  if (raw) { PGT_ASSIGN_OR_RETURN(*old_row, values::DecodeRow(*raw)); }
  if (c.kind == ChangeKind::kInsert) {
    if (*old_row)
      return Status::Corruption("INSERT of a key already in the mirror of " + meta_.name + " at LSN " + FormatLsn(c.lsn));
  } else {
    if (!*old_row)
      return Status::Corruption("source row missing from the mirror of " + meta_.name +
                                " (UPDATE/DELETE of a row the engine never saw) at LSN " + FormatLsn(c.lsn));
    if (static_cast<int>((*old_row)->size()) != meta_.natts) **old_row = Normalize(std::move(**old_row));
    if (old_key != new_key) b->Delete(Cf::kMirror, old_key);
  }
  if (*new_row) {
    Row& nr = **new_row;
    for (size_t i = 0; i < nr.size(); ++i) {
      if (nr[i].unchanged_toast) {
        if (!*old_row) return Status::Corruption("unchanged TOAST value without an old row in " + meta_.name);
        nr[i] = (**old_row)[i];
      }
    }
    std::string enc;
    values::EncodeRow(nr, &enc);
    b->Put(Cf::kMirror, new_key, enc);
  }
  const size_t prefix = 5;   // 'M' + BE32(relid)
  if (old_key_out) *old_key_out = old_key.empty() ? std::string() : old_key.substr(prefix);
  if (new_key_out) *new_key_out = new_key.empty() ? std::string() : new_key.substr(prefix);
  return Status::Ok();
}

Status SourceMirror::ForEachRow(StateStore* store, const std::function<Status(const Row&)>& fn) const {
  Status st;
  PGT_RETURN_IF_ERROR(store->Scan(Cf::kMirror, Prefix(meta_.relid), [&](std::string_view, std::string_view v) {
    auto row = values::DecodeRow(v);
    if (!row.ok()) { st = row.status(); return false; }
    st = fn(Normalize(std::move(*row)));
    return st.ok();
  }));
  return st;
}

}  // namespace pgt::engine
