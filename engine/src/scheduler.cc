// Merge scheduling and crash-safe merges (DESIGN §5 "Merge", §6 invariant 4).
//
// Before the primary transaction the engine durably records an in-flight header {F -> P}.
// After it, one RocksDB commit removes the merged pending rows, the header, and records P as
// the table's merged frontier. If the outcome is unknown (the engine died, or the connection
// broke around COMMIT), the header stays and the primary decides later: frontier = P -> the
// merge landed, so P becomes our merged frontier; = F -> it did not. Either way pending is
// kept: it holds final row values, so merging it again is harmless, while deleting it could drop
// rows that changed after P (batches keep being committed while the outcome is unknown).
//
// Bounded memory (merge_pending.h): the merge thread streams the pending rows from the job's
// RocksDB snapshot into the COPY a chunk at a time; the snapshot is kept until FinishMerge, which
// walks it again to remove the rows still unchanged. The frontier and the header's removal are
// written with the first of those deletions, never after one: a deletion durable without the
// frontier P would lose rows if the primary later reported the merge as not landed.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine_impl.h"
#include "log.h"
#include "merge_pending.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);
std::string InflightKey(int64_t id);

namespace {
int TierRank(const std::string& tier) { return tier == "critical" ? 0 : tier == "standard" ? 1 : 2; }
}  // namespace

// Settles an in-flight header left by a merge whose outcome is unknown. Returns Conflict if the
// primary's frontier is neither end of it.
Status Engine::Impl::SettleInflight(TableRuntime& t, MergeWriter* writer) {
  if (writer == nullptr) writer = merger.get();
  TableMeta& m = t.table->meta();
  PGT_ASSIGN_OR_RETURN(auto raw, store->Get(Cf::kMeta, InflightKey(m.id)));
  if (!raw) return Status::Ok();
  auto j = nlohmann::json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.contains("to")) return Status::Corruption("damaged in-flight merge header of " + m.name);
  Lsn to = j["to"].get<Lsn>();
  PGT_ASSIGN_OR_RETURN(auto primary_frontier, writer->ReadFrontier(m.id));
  if (primary_frontier == std::optional<Lsn>(to)) {
    PGT_LOG_INFO("merge of ", m.name, " to ", FormatLsn(to), " had landed");
    m.merged_frontier = to;
    m.has_merged = true;
  } else {
    PGT_LOG_INFO("merge of ", m.name, " to ", FormatLsn(to), " had not landed; it will be redone");
  }
  Batch b(store.get());
  b.Put(Cf::kMeta, TableMetaKey(m.id), m.Encode());
  b.Delete(Cf::kMeta, InflightKey(m.id));
  return store->Commit(&b);
}

Status Engine::Impl::ReconcileInflight() {
  // A rewind (divergence.cc) cut short by a crash: frontiers ahead of the restored ones are the
  // merges the new primary kept, adopted as RewindToCheckpoint does.
  const bool after_rewind = CheckpointSet::RewindNotReconciled(opts.state_dir);
  for (auto& [id, t] : tables) {
    if (failed.count(id)) continue;
    Status st = SettleInflight(t);
    if (st.code() == Status::Code::kNotFound) continue;   // dropped: the catalog poll cleans up
    PGT_RETURN_IF_ERROR(st);
    const TableMeta& m = t.table->meta();
    std::optional<Lsn> ours;
    if (m.has_merged) ours = m.merged_frontier;
    auto primary_frontier = merger->ReadFrontier(id);
    if (!primary_frontier.ok()) {
      if (primary_frontier.status().code() == Status::Code::kNotFound) continue;
      return primary_frontier.status();
    }
    if (*primary_frontier == ours) continue;
    auto moved = GenerationMovedOnPrimary(id);
    if (moved.ok() && *moved) continue;   // re-planned: FollowGenerations bootstraps it again
    if (after_rewind && *primary_frontier && (!ours || *ours < **primary_frontier)) {
      t.table->meta().merged_frontier = **primary_frontier;
      t.table->meta().has_merged = true;
      Batch b(store.get());
      PGT_RETURN_IF_ERROR(SaveTableMeta(&b, t));
      PGT_RETURN_IF_ERROR(store->Commit(&b));
      continue;
    }
    if (*primary_frontier && (!ours || **primary_frontier < *ours)) {
      // The primary lacks a merge the engine made (lost with asynchronous replication in a
      // failover, or the primary was restored): the rows of that merge are no longer pending.
      // Bootstrap the table again (from the shared source mirrors, valid at the applied
      // position, when they cover it); its next merge replaces the contents from that frontier.
      NoteRebuild(t, "the primary's frontier " + FormatLsn(**primary_frontier) + " is behind the engine's " +
                         (ours ? FormatLsn(*ours) : std::string("NULL")) + " (its last merge was lost on this primary)");
      t.table->meta().needs_rebootstrap = true;
      t.table->meta().merged_frontier = **primary_frontier;
      t.table->meta().has_merged = true;
      Batch b(store.get());
      PGT_RETURN_IF_ERROR(SaveTableMeta(&b, t));
      PGT_RETURN_IF_ERROR(store->Commit(&b));
      continue;
    }
    MarkError(id, Status::Conflict("frontier on the primary (" +
                                   (*primary_frontier ? FormatLsn(**primary_frontier) : std::string("NULL")) +
                                   ") differs from the engine's (" + (ours ? FormatLsn(*ours) : std::string("NULL")) +
                                   "): another engine or a restore changed it; re-create the stream table"));
  }
  if (after_rewind) CheckpointSet::MarkRewindReconciled(opts.state_dir);
  return Status::Ok();
}

// A table whose output must be derived again (a merge lost on the primary): when its sources
// are all mirrored, the bootstrap reads the mirrors at the applied position (no standby
// snapshot: not a re-snapshot); otherwise it is a re-snapshot, logged and counted as such.
void Engine::Impl::NoteRebuild(const TableRuntime& t, const std::string& why) {
  bool mirrored = true;
  for (Oid r : t.table->source_relids()) mirrored &= mirrors.count(r) > 0;
  if (mirrored) {
    PGT_LOG_WARN("rebuilding ", t.table->meta().name, " from its source mirrors (no snapshot): ", why);
    return;
  }
  PGT_LOG_WARN("re-snapshot of ", t.table->meta().name, ": ", why);
  fstats.resnapshots++;
}

// Finished merges are applied, then due tables start merging on free slots: critical tier
// first, then the longest waiting. A table reading a source of a transaction applied in part
// (large_txn.cc) waits for it; other tables keep merging while it applies.
Status Engine::Impl::ScheduleMerges() {
  FinishMerges(false);
  if (fatal) return Status::Ok();
  // control.cc: pg_trickle.enabled, paused tables and refresh requests from the primary.
  Status control = PollControl();
  if (control.code() == Status::Code::kInvalidArgument) return control;   // unsupported extension version
  if (!control.ok()) PGT_LOG_DEBUG("control poll: ", control.message());
  if (!merges_enabled) return Status::Ok();
  StopDependantsOfFailed();   // upstreams.cc
  const size_t width = static_cast<size_t>(std::max(1, max_parallel));
  if (MergesRunning() >= width) return Status::Ok();
  std::vector<TableRuntime*> due;
  auto now = Clock::now();
  for (auto& [id, t] : tables) {
    if (failed.count(id) || t.table->meta().needs_rebootstrap || paused.count(id) || MergeRunning(id)) continue;
    if (BlockedByPartial(t)) continue;
    if (now - t.last_merge >= std::chrono::milliseconds(t.schedule_ms) || MergeRequested(t)) due.push_back(&t);
  }
  if (due.empty()) return Status::Ok();
  if (!PrimaryReady()) return Status::Ok();   // merges wait for a primary that passed the lineage check
  CheckPrimaryCurrent();
  // Nothing is merged while the state holds WAL past a divergence's switch point.
  if (!primary || divergence) return Status::Ok();
  std::stable_sort(due.begin(), due.end(), [](auto* a, auto* b) {
    int ra = TierRank(a->sla_tier), rb = TierRank(b->sla_tier);
    return ra != rb ? ra < rb : a->last_merge < b->last_merge;
  });
  // A merge reads the committed state: commit what was decoded so that it is included (not inside
  // a transaction being applied in chunks: its chunks commit on their own).
  if (!streaming && batch_txns > 0) PGT_RETURN_IF_ERROR(CommitBatch());
  for (TableRuntime* t : due) {
    if (MergesRunning() >= width) break;
    auto job = PrepareMerge(*t);
    if (!job) continue;
    auto slot = FreeSlot();
    if (!slot.ok()) {
      Condition("merge:" + t->table->meta().name, "merge of " + t->table->meta().name + " cannot start, will retry: " +
                                                      slot.status().message());
      t->last_merge = Clock::now();
      break;
    }
    StartMerge(*slot, std::move(job));
  }
  return Status::Ok();
}

// Main thread: settles an earlier merge whose outcome is unknown (on the main connection), then
// copies what the merge thread needs. nullptr when there is nothing to start.
std::shared_ptr<MergeJob> Engine::Impl::PrepareMerge(TableRuntime& t) {
  TableMeta& m = t.table->meta();
  auto header = store->Get(Cf::kMeta, InflightKey(m.id));
  Status st = header.ok() ? (*header ? SettleInflight(t) : Status::Ok()) : header.status();
  if (!st.ok()) {
    t.last_merge = Clock::now();
    if (st.code() == Status::Code::kNotFound) return nullptr;   // dropped; the poll cleans up
    Condition("merge:" + m.name, "merge of " + m.name + " failed, will retry: " + st.message());
    return nullptr;
  }
  // upstreams.cc: a table reading stream tables merges at its upstreams' frontier, once known.
  std::optional<Lsn> frontier = MergeFrontier(t);
  if (!frontier) return nullptr;
  auto job = std::make_shared<MergeJob>();
  job->id = m.id;
  job->name = m.name;
  job->to = *frontier;   // TableApplied(t) (the committed ckpt: the snapshot's) unless upstreams hold it back
  job->held_by_upstreams = *frontier != TableApplied(t);
  job->from = m.has_merged ? std::optional<Lsn>(m.merged_frontier) : std::nullopt;
  if (job->from && job->to < *job->from) {   // e.g. re-snapshot after a failover: replay first
    t.last_merge = Clock::now();
    return nullptr;
  }
  job->columns = t.table->plan().output;
  job->pending_prefix = t.table->PendingPrefix();
  job->replace = m.replace_on_merge;
  job->epoch = epoch;
  job->snap = store->Snapshot();
  return job;
}

// On a merge thread: touches only `job`, its writer's connection and the state store (reads
// through the job's snapshot, writes the job's in-flight header). The snapshot stays with the
// job: FinishMerge needs it to remove the rows merged.
void Engine::Impl::RunMerge(StateStore* store, MergeJob& job, MergeWriter* writer) {
  MergeRequest req;
  req.table_id = job.id;
  req.columns = &job.columns;
  req.expected_frontier = job.from;
  req.new_frontier = job.to;
  req.epoch = job.epoch;
  req.replace = job.replace;
  auto any = AnyPending(store, *job.snap, job.pending_prefix);
  if (!any.ok()) { job.status = any.status(); return; }
  req.has_rows = *any;
  req.rows = [&](const PendingChunkFn& emit) { return ScanPendingChunks(store, *job.snap, job.pending_prefix, emit); };
  // New rows at an unchanged frontier: only a table reading stream tables (its upstreams have
  // not merged past it yet); it waits, so every merge of it moves its frontier.
  if (job.from && *job.from == job.to && job.held_by_upstreams && (req.has_rows || req.replace)) return;
  if (!req.has_rows && !req.replace && job.from && *job.from == job.to) {
    // Nothing new decoded: only freshness moves (and only while we are the current engine).
    job.status = writer->TouchFreshness(job.id, job.to, job.epoch);
    return;
  }
  {
    Batch b(store);
    nlohmann::json j = {{"to", job.to}, {"from", job.from ? nlohmann::json(*job.from) : nlohmann::json(nullptr)}};
    b.Put(Cf::kMeta, InflightKey(job.id), j.dump());
    job.status = store->Commit(&b);
    if (!job.status.ok()) return;
  }
  auto res = writer->Merge(req);
  if (!res.ok()) {
    job.status = res.status();   // the header stays: SettleInflight() decides next time
    return;
  }
  job.res = *res;
  job.wrote = true;
}

// Main thread: the outcome of a merge. Landed: the pending rows merged are removed unless they
// changed since the snapshot (pending holds final values: an unchanged one is in the table
// now; a changed one is merged next time), the first of them in one write with the new frontier
// and the header's removal (merge_pending.h). The job's snapshot is released here on every path.
void Engine::Impl::FinishMerge(MergeJob& job) {
  std::unique_ptr<StoreSnapshot> snap = std::move(job.snap);
  auto it = tables.find(job.id);
  if (it == tables.end()) return;   // dropped meanwhile (DropTable waited for this merge)
  TableRuntime& t = it->second;
  TableMeta& m = t.table->meta();
  t.last_merge = Clock::now();
  Status st = job.status;
  if (st.ok() && job.wrote) {
    Batch b(store.get());
    TableMeta landed = m;
    landed.merged_frontier = job.to;
    landed.has_merged = true;
    landed.replace_on_merge = false;
    b.Put(Cf::kMeta, TableMetaKey(m.id), landed.Encode());
    b.Delete(Cf::kMeta, InflightKey(m.id));
    // Called once the frontier is durable, before the rest of the removals.
    auto landed_written = [&] {
      t.pending_rows = 0;   // as the merge wrote it; the heartbeat's next recount corrects it
      m.merged_frontier = job.to;
      m.has_merged = true;
      m.replace_on_merge = false;
      // The open batch may hold an older copy of the metadata (e.g. a TRUNCATE marked the table
      // for a re-bootstrap): this one must win when it commits.
      if (!batch->empty()) (void)SaveTableMeta(batch.get(), t);
      t.source_changes_since_merge = 0;
      t.oldest_pending_commit_us = 0;
      NoteMerge(m.id, true, job.res.rows_changed, job.res.duration_ms / 1000.0);
      obs.last_publish = {};   // /status and /metrics show a landed merge at once
      if (job.res.rows_changed > 0)
        PGT_EVENT(kInfo, "merged",
                  (LogFields{{"table", m.name}, {"rows", job.res.rows_changed}, {"lsn", FormatLsn(job.to)},
                             {"duration_ms", job.res.duration_ms}}),
                  "merged ", m.name, ": ", job.res.rows_changed, " row(s), frontier ", FormatLsn(job.to), " in ",
                  static_cast<int64_t>(job.res.duration_ms), " ms");
    };
    st = RemoveMergedPending(store.get(), *snap, job.pending_prefix, &b, landed_written);
  }
  if (st.code() == Status::Code::kNotFound) return;   // dropped on the primary; the poll cleans up
  if (st.ok()) {   // engine-wide bookkeeping on the main thread
    OnMerged(m.id);
    ClearCondition("merge:" + m.name);
    NoteMerged();
    return;
  }
  NoteMerge(m.id, false, 0, 0);
  if (st.code() == Status::Code::kConflict && st.message().find("fenced") != std::string::npos) {
    fatal = st;   // a newer engine owns the tables: stop, write nothing more
    return;
  }
  if (st.code() == Status::Code::kUnavailable) {
    if (!primary || !primary->healthy() || st.message().rfind("lineage guard", 0) == 0) {
      LosePrimary("merge of " + m.name + ": " + st.message());   // re-resolved with backoff by PrimaryReady()
      return;
    }
    Condition("merge:" + m.name, "merge of " + m.name + " failed, will retry: " + st.message());
    return;
  }
  if (st.code() == Status::Code::kConflict && (!primary || !primary->healthy())) {
    // Lost the primary meanwhile: the header stays, the next merge settles it against the primary.
    Condition("merge:" + m.name, "merge of " + m.name + " failed, will retry: " + st.message());
    return;
  }
  if (st.code() == Status::Code::kConflict) {
    auto moved = GenerationMovedOnPrimary(m.id);
    if (moved.ok() && *moved) {   // re-planned meanwhile: the catalog poll bootstraps it again
      PGT_LOG_INFO("merge of ", m.name, " skipped: the stream table was re-planned");
      return;
    }
  }
  MarkError(m.id, st);
}

}  // namespace pgt::engine
