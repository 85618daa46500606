// Shared source mirrors in the engine loop (source_mirror.h): loaded at startup, each decoded
// change applied once to its source's mirror and then, as (old, new), to every stream table
// reading the source; a TRUNCATE drops the mirror and re-bootstraps its readers; a mirror no
// stream table reads any more is dropped with its rows.
#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);
std::string RelfileKey(Oid relid);

Status Engine::Impl::LoadMirrors() {
  mirrors.clear();
  Status load;
  PGT_RETURN_IF_ERROR(store->Scan(Cf::kMeta, "mirror/", [&](std::string_view, std::string_view v) {
    auto m = MirrorMeta::Decode(v);
    if (!m.ok()) { load = m.status(); return false; }
    Oid relid = m->relid;
    mirrors.emplace(relid, SourceMirror(std::move(m).value()));
    return true;
  }));
  PGT_RETURN_IF_ERROR(load);
  // Tables registered by an engine without shared mirrors (state_version 1), or whose mirror is
  // missing, are bootstrapped again (catalog_poll.cc); their next merge replaces the contents.
  for (auto& [id, t] : tables) {
    TableMeta& m = t.table->meta();
    bool covered = m.state_version >= 2;
    for (Oid relid : t.table->source_relids()) covered &= mirrors.count(relid) > 0;
    if (!covered && !m.needs_rebootstrap) {
      PGT_LOG_INFO("stream table ", m.name, ": engine state of an older format or without its source mirror; "
                   "it will be bootstrapped again");
      m.needs_rebootstrap = true;
    }
  }
  return Status::Ok();
}

bool Engine::Impl::SourceInUse(Oid relid) const {
  if (boot_job && boot_job->relids.count(relid)) return true;   // a running bootstrap reads it
  for (const auto& [id, t] : tables)
    if (!failed.count(id) && t.table->ReadsSource(relid)) return true;
  return false;
}

Status Engine::Impl::DropMirrorIfUnused(Oid relid) {
  if (SourceInUse(relid)) return Status::Ok();
  if (mirrors.erase(relid)) PGT_LOG_INFO("no stream table reads relation ", relid, " any more; dropping its mirror");
  Batch b(store.get());   // registry entry first: rows without one are never read, only wiped
  b.Delete(Cf::kMeta, SourceMirror::MetaKey(relid));
  b.Delete(Cf::kMeta, RelfileKey(relid));   // source_ddl.cc: the file the mirror was built on
  PGT_RETURN_IF_ERROR(store->Commit(&b));
  relfile_recorded.erase(relid);
  PGT_RETURN_IF_ERROR(store->DeletePrefix(Cf::kMirror, SourceMirror::Prefix(relid)));
  resolver->Untrack(relid);
  return Status::Ok();
}

Status Engine::Impl::ApplyChangeToSource(const Transaction& txn, const Change& c) {
  if (IsUpstreamCatalogChange(c)) {   // an upstream's frontier moved (upstreams.cc)
    NoteUpstreamCatalogRow(txn, c);
    return Status::Ok();
  }
  auto it = mirrors.find(c.relid);
  if (it == mirrors.end()) {   // a source whose mirror a running bootstrap builds: logged for it
    CaptureForBootstrap(txn, c, nullptr, nullptr, nullptr);
    return Status::Ok();
  }
  if (txn.end_lsn <= MirrorApplied(it->second)) return Status::Ok();
  std::vector<ApplyPath::Reader>& readers = apply_readers;
  readers.clear();
  for (auto& [id, t] : tables) {
    if (failed.count(id) || t.table->meta().needs_rebootstrap || !t.table->ReadsSource(c.relid)) continue;
    const TableMeta& m = t.table->meta();
    // Consolidation compares with the state at the batch's start (the committed position); a
    // merged frontier past it (adopted after a divergence rewind) may fall inside the batch.
    readers.push_back(ApplyPath::Reader{id, t.table.get(), txn.end_lsn > TableApplied(t),
                                        !(m.has_merged && m.merged_frontier > ckpt.applied_upto)});
  }
  auto on_error = [&](int64_t id, const Status& why) {
    MarkError(id, why.WithContext("applying transaction " + std::to_string(txn.xid) + " at " + FormatLsn(txn.commit_lsn)));
  };
  auto capture = [&](const Status& st, const std::optional<Row>& old_row, const std::optional<Row>& new_row) {
    CaptureForBootstrap(txn, c, &st, &old_row, &new_row);   // bootstrap_job.cc: a running bootstrap's source
  };
  PGT_RETURN_IF_ERROR(apply_path.ApplyChange(batch.get(), &it->second, c, readers, ApplyReaders(), on_error, capture));
  for (const ApplyPath::Reader& r : readers) {
    if (!r.applies || failed.count(r.id)) continue;
    TableRuntime& t = tables.at(r.id);
    ++t.source_changes_since_merge;
    if (t.oldest_pending_commit_us == 0) t.oldest_pending_commit_us = txn.commit_time_us;
  }
  return Status::Ok();
}

// The maintained readers of a source, for consolidated deltas pushed at the end of a batch.
ApplyPath::ReadersFn Engine::Impl::ApplyReaders() {
  return [this](Oid relid, std::vector<ApplyPath::Reader>* out) {
    for (auto& [id, t] : tables)
      if (!failed.count(id) && !t.table->meta().needs_rebootstrap && t.table->ReadsSource(relid))
        out->push_back(ApplyPath::Reader{id, t.table.get(), true});
  };
}

// End of a batch (CommitBatch): consolidated deltas and operator caches reach the batch.
Status Engine::Impl::FinishApply() {
  std::vector<ApplyPath::Reader> all;
  for (auto& [id, t] : tables)
    if (!failed.count(id)) all.push_back(ApplyPath::Reader{id, t.table.get(), true});
  auto on_error = [&](int64_t id, const Status& why) { MarkError(id, why.WithContext("applying the batch's changes")); };
  return apply_path.Finish(batch.get(), ApplyReaders(), all, on_error);
}

// A TRUNCATE may be followed by inserts into the new relfilenode in the same transaction, which
// row decoding cannot see until the file is known: the mirror is stale (see DropStaleMirror).
void Engine::Impl::TruncateSource(const Transaction& txn, Oid relid) {
  CancelBootstrapReading(relid, "a source was truncated at " + FormatLsn(txn.commit_lsn), txn.end_lsn);
  auto it = mirrors.find(relid);
  if (it == mirrors.end() || txn.end_lsn <= MirrorApplied(it->second)) return;
  DropStaleMirror(batch.get(), relid, "was truncated at " + FormatLsn(txn.commit_lsn));
}

// The mirror no longer matches its relation (TRUNCATE, a rewrite whose rows were not followed,
// a new file found at startup): it is dropped in batch `b` and every stream table reading the
// relation is bootstrapped again; the first re-bootstrap finds the source unmirrored and takes a
// standby snapshot, which rebuilds the mirror. Its rows are wiped before that snapshot
// (bootstrap.cc) — a registry entry is what makes rows readable.
void Engine::Impl::DropStaleMirror(Batch* b, Oid relid, const std::string& what) {
  CancelBootstrapReading(relid, "a source " + what);   // its snapshot is stale too
  auto it = mirrors.find(relid);
  if (it == mirrors.end()) return;
  for (auto& [id, t] : tables) {
    if (failed.count(id) || !t.table->ReadsSource(relid) || t.table->meta().needs_rebootstrap) continue;
    PGT_LOG_INFO("source ", it->second.meta().name, " of ", t.table->meta().name, " ", what,
                 "; the stream table will be bootstrapped again");
    t.table->meta().needs_rebootstrap = true;
    (void)SaveTableMeta(b, t);
  }
  b->Delete(Cf::kMeta, SourceMirror::MetaKey(relid));
  apply_path.DropSource(relid);
  mirrors.erase(it);
}

}  // namespace pgt::engine
