// The apply path of one batch; see apply_path.h.
#include "apply_path.h"

namespace pgt::engine {

void ApplyPath::CheckBatch(Batch* b) {
  if (b->serial() == batch_serial_) return;
  sources_.clear();   // a batch dropped without Finish(): its changes never happened
  keys_ = 0;
  batch_serial_ = b->serial();
}

// Folds one key's change into the source's delta: the first change of the key in the batch
// fixes its `before`, every change moves its `after`.
void ApplyPath::Note(SourceDelta* d, std::string key, std::optional<Row>* before, std::optional<Row>&& after) {
  auto [it, fresh] = d->keys.try_emplace(std::move(key));
  if (fresh) {
    it->second.before = std::move(*before);
    ++keys_;
  }
  it->second.after = std::move(after);
}

Status ApplyPath::ApplyChange(Batch* b, SourceMirror* mirror, const Change& c, const std::vector<Reader>& readers,
                              const ReadersFn& current, const ErrorFn& on_error, const MirrorFn& on_mirror) {
  CheckBatch(b);
  std::optional<Row> old_row, new_row;
  std::string old_key, new_key;
  Status st = mirror->Apply(b, c, &old_row, &new_row, &old_key, &new_key);
  if (on_mirror) on_mirror(st, old_row, new_row);
  SourceDelta& d = sources_[c.relid];
  bool consolidated = false;
  for (const Reader& r : readers) {
    if (!r.consolidate) d.one_by_one.insert(r.id);
    if (!r.applies) { d.one_by_one.insert(r.id); continue; }
    if (!st.ok()) { on_error(r.id, st); continue; }
    if (!d.one_by_one.count(r.id)) { consolidated = true; continue; }
    Status ts = r.table->ApplySourceDelta(b, c.relid, old_row, new_row);
    if (!ts.ok()) on_error(r.id, ts);
  }
  if (!st.ok() || !consolidated) return Status::Ok();
  if (old_key == new_key || !old_row || !new_row) {
    Note(&d, old_row ? std::move(old_key) : std::move(new_key), &old_row, std::move(new_row));
  } else {   // the key changed: the old key's row goes, the new key's row comes
    std::optional<Row> none;
    Note(&d, std::move(old_key), &old_row, std::nullopt);
    Note(&d, std::move(new_key), &none, std::move(new_row));
  }
  if (keys_ >= kMaxDeltaKeys) {   // bounded memory: push what the batch holds so far
    for (auto& [relid, sd] : sources_) PGT_RETURN_IF_ERROR(Push(b, relid, &sd, current, on_error));
  }
  return Status::Ok();
}

// Pushes one source's consolidated delta into the readers that take it, and empties it.
Status ApplyPath::Push(Batch* b, Oid relid, SourceDelta* d, const ReadersFn& current, const ErrorFn& on_error) {
  if (d->keys.empty()) return Status::Ok();
  scratch_.clear();
  current(relid, &scratch_);
  std::vector<Reader> take;
  for (const Reader& r : scratch_) if (!d->one_by_one.count(r.id)) take.push_back(r);
  std::set<int64_t> failed;
  for (auto& [key, kd] : d->keys) {
    if (kd.before == kd.after) continue;   // net zero (no-op update, insert then delete)
    for (const Reader& r : take) {
      if (failed.count(r.id)) continue;
      Status ts = r.table->ApplySourceDelta(b, relid, kd.before, kd.after);
      if (!ts.ok()) { failed.insert(r.id); on_error(r.id, ts); }
    }
  }
  keys_ -= d->keys.size();
  d->keys.clear();
  return Status::Ok();
}

Status ApplyPath::Finish(Batch* b, const ReadersFn& current, const std::vector<Reader>& all, const ErrorFn& on_error) {
  CheckBatch(b);
  for (auto& [relid, d] : sources_) PGT_RETURN_IF_ERROR(Push(b, relid, &d, current, on_error));
  sources_.clear();
  keys_ = 0;
  for (const Reader& r : all) {
    Status st = r.table->FinishBatch(b);
    if (!st.ok()) on_error(r.id, st);
  }
  return Status::Ok();
}

void ApplyPath::DropSource(Oid relid) {
  auto it = sources_.find(relid);
  if (it == sources_.end()) return;
  keys_ -= it->second.keys.size();
  sources_.erase(it);
}

}  // namespace pgt::engine
