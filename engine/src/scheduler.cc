// Merge scheduling and crash-safe merges (DESIGN §5 "Merge", §6 invariant 4).
//
// Before the primary transaction the engine durably records an in-flight header {F -> P}.
// After it, one RocksDB commit removes the merged pending rows, the header, and records P as
// the table's merged frontier. If the outcome is unknown (the engine died, or the connection
// broke around COMMIT), the header stays and the primary decides later: frontier = P -> the
// merge landed, so P becomes our merged frontier; = F -> it did not. Either way pending is
// kept: it holds final row values, so merging it again is harmless, while deleting it could drop
// rows that changed after P (batches keep being committed while the outcome is unknown).
#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine_impl.h"
#include "log.h"
#include "values/codec.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);
std::string InflightKey(int64_t id);

namespace {
int TierRank(const std::string& tier) { return tier == "critical" ? 0 : tier == "standard" ? 1 : 2; }

Status FinishMerge(StateStore* store, TableRuntime& t, const std::vector<std::string>& keys, Lsn to) {
  Batch b(store);
  for (const auto& k : keys) b.Delete(Cf::kPending, k);
  t.table->meta().merged_frontier = to;
  t.table->meta().has_merged = true;
  t.table->meta().replace_on_merge = false;
  b.Put(Cf::kMeta, TableMetaKey(t.table->meta().id), t.table->meta().Encode());
  b.Delete(Cf::kMeta, InflightKey(t.table->meta().id));
  return store->Commit(&b);
}
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

Status Engine::Impl::RunDueMerges(bool force_all) {
  // control.cc: pg_trickle.enabled, paused tables and refresh requests from the primary.
  Status control = PollControl();
  if (control.code() == Status::Code::kInvalidArgument) return control;   // unsupported extension version
  if (!control.ok()) PGT_LOG_DEBUG("control poll: ", control.message());
  if (!merges_enabled) return Status::Ok();
  StopDependantsOfFailed();   // upstreams.cc
  std::vector<TableRuntime*> due;
  auto now = Clock::now();
  for (auto& [id, t] : tables) {
    if (failed.count(id) || t.table->meta().needs_rebootstrap || paused.count(id)) continue;
    if (force_all || now - t.last_merge >= std::chrono::milliseconds(t.schedule_ms) || MergeRequested(t))
      due.push_back(&t);
  }
  if (due.empty()) return Status::Ok();
  if (!PrimaryReady()) return Status::Ok();   // merges wait for a primary that passed the lineage check
  CheckPrimaryCurrent();
  // Nothing is merged while the state holds WAL past a divergence's switch point.
  if (!primary || divergence) return Status::Ok();
  std::stable_sort(due.begin(), due.end(), [](auto* a, auto* b) { return TierRank(a->sla_tier) < TierRank(b->sla_tier); });
  PGT_RETURN_IF_ERROR(CommitBatch());   // merge exactly what is committed
  // merge_pool.cc: at most pg_trickle.max_parallel_workers at once, in tier order.
  obs.hub.live().StepStarted();   // long merges are progress for /healthz
  std::vector<Status> results = RunMerges(due);
  obs.hub.live().StepEnded();
  for (size_t i = 0; i < due.size(); ++i) {
    TableRuntime* t = due[i];
    Status st = results[i];
    t->last_merge = Clock::now();
    if (st.ok()) {   // engine-wide bookkeeping on the main thread (MergeTable runs on merge threads)
      OnMerged(t->table->meta().id);
      ClearCondition("merge:" + t->table->meta().name);
      NoteMerged();
      continue;
    }
    NoteMerge(t->table->meta().id, false, 0, 0);
    if (st.code() == Status::Code::kConflict && st.message().find("fenced") != std::string::npos)
      return st;   // a newer engine owns the tables: stop, write nothing more
    if (st.code() == Status::Code::kUnavailable) {
      if (!primary->healthy() || st.message().rfind("lineage guard", 0) == 0) {   // re-resolved with backoff by PrimaryReady(); one line per loss
        LosePrimary("merge of " + t->table->meta().name + ": " + st.message());
        return Status::Ok();
      }
      Condition("merge:" + t->table->meta().name, "merge of " + t->table->meta().name + " failed, will retry: " + st.message());
      continue;
    }
    if (st.code() == Status::Code::kConflict) {
      auto moved = GenerationMovedOnPrimary(t->table->meta().id);
      if (moved.ok() && *moved) {   // re-planned meanwhile: the catalog poll bootstraps it again
        PGT_LOG_INFO("merge of ", t->table->meta().name, " skipped: the stream table was re-planned");
        continue;
      }
    }
    MarkError(t->table->meta().id, st);
  }
  return Status::Ok();
}

// Runs on a merge thread (merge_pool.cc) with its own primary connection `conn` and `writer`;
// touches only `t`, the state store (thread-safe) and read-only engine fields.
Status Engine::Impl::MergeTable(TableRuntime& t, PgConn* conn, MergeWriter* writer) {
  PGT_RETURN_IF_ERROR(SettleInflight(t, writer));   // an earlier attempt's outcome was unknown
  TableMeta& m = t.table->meta();
  // upstreams.cc: a table reading stream tables merges at its upstreams' frontier, once known.
  std::optional<Lsn> frontier = MergeFrontier(t);
  if (!frontier) return Status::Ok();
  Lsn to = *frontier;
  std::optional<Lsn> from = m.has_merged ? std::optional<Lsn>(m.merged_frontier) : std::nullopt;
  if (from && to < *from) return Status::Ok();   // e.g. re-snapshot after a failover: replay first
  MergeRequest req;
  req.table_id = m.id;
  req.columns = &t.table->plan().output;
  req.expected_frontier = from;
  req.new_frontier = to;
  req.epoch = epoch;
  req.replace = m.replace_on_merge;
  std::vector<std::string> keys;
  Status decode_st;
  PGT_RETURN_IF_ERROR(store->Scan(Cf::kPending, t.table->PendingPrefix(), [&](std::string_view k, std::string_view v) {
    keys.emplace_back(k);
    PendingRow pr;
    pr.row_id = std::string(k.substr(8));
    if (!v.empty() && v[0] == 'U') {
      auto row = values::DecodeRow(v.substr(1));
      if (!row.ok()) { decode_st = row.status(); return false; }
      pr.row = std::move(row).value();
    }
    req.rows.push_back(std::move(pr));
    return true;
  }));
  PGT_RETURN_IF_ERROR(decode_st);
  // New rows at an unchanged frontier: only a table reading stream tables (its upstreams have
  // not merged past it yet); it waits, so every merge of it moves its frontier.
  if (from && *from == to && to != TableApplied(t) && (!req.rows.empty() || req.replace)) return Status::Ok();
  if (req.rows.empty() && !req.replace && from && *from == to) {
    // Nothing new decoded: only freshness moves (and only while we are the current engine).
    return conn->QueryParams("UPDATE pgtrickle.pgt_stream_tables SET last_refresh_at = now(), "
                                "rows_changed_last_cycle = 0 WHERE id = $1 AND frontier = $2::pg_lsn AND "
                                "(SELECT epoch FROM pgtrickle.pgt_engine WHERE id = 1) = $3",
                                {std::to_string(m.id), FormatLsn(to), std::to_string(epoch)}).status();
  }
  {
    Batch b(store.get());
    nlohmann::json j = {{"to", to}, {"from", from ? nlohmann::json(*from) : nlohmann::json(nullptr)}};
    b.Put(Cf::kMeta, InflightKey(m.id), j.dump());
    PGT_RETURN_IF_ERROR(store->Commit(&b));
  }
  auto res = writer->Merge(req);
  if (!res.ok()) {
    if (res.status().code() == Status::Code::kNotFound) return Status::Ok();   // dropped; the poll cleans up
    return res.status();   // the header stays: SettleInflight() decides next time
  }
  PGT_RETURN_IF_ERROR(FinishMerge(store.get(), t, keys, to));
  t.source_changes_since_merge = 0;
  t.oldest_pending_commit_us = 0;
  NoteMerge(m.id, true, res->rows_changed, res->duration_ms / 1000.0);
  if (res.ok() && res->rows_changed > 0)
    PGT_EVENT(kInfo, "merged",
              (LogFields{{"table", m.name}, {"rows", res->rows_changed}, {"lsn", FormatLsn(to)},
                         {"duration_ms", res->duration_ms}}),
              "merged ", m.name, ": ", res->rows_changed, " row(s), frontier ", FormatLsn(to), " in ",
              static_cast<int64_t>(res->duration_ms), " ms");
  return Status::Ok();
}

}  // namespace pgt::engine
