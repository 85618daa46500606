// Divergence after a failover with asynchronous replication (issue 8; DESIGN §6 invariant 5):
// the new timeline forked at S, before WAL the engine already applied (applied_upto > S). State
// derived from WAL past S must never reach the new primary.
//
// Detection: the newest timeline known (standby, archive, stream, primary) and its history; the
// span of the timeline the engine applied ends at S < applied_upto. Checked before every decoder
// (re)start, when the stream changes timeline, while the stream has a problem, and when a
// primary is resolved (CheckLineage kDiverged).
//
// Recovery, first choice: rewind to a RocksDB checkpoint (state/checkpoints.h) taken at or before
// S, and replay from its restart position on the new timeline. Per table, the restored merged
// frontier f0 is compared with the new primary's frontier F: F == f0 fine; F > f0 (merges after
// the checkpoint that the new primary kept) -> F is adopted, since pending holds the final values
// of every row changed since f0, so merging it over the table at F is exact; F < f0 (a merge the
// new primary lost) -> the rows of that merge are no longer pending: that table is re-snapshotted.
// The checkpoint chosen is the newest at or before S under which no table is ahead of F, else
// the newest at or before S.
// Last resort (no checkpoint at or before S): re-snapshot every stream table from the standby on
// the new timeline (logged "re-snapshot of <table>: <reason>" and counted); the shared source
// mirrors hold WAL past S, so they are dropped and rebuilt by those snapshots. Decoding restarts
// fresh at the standby's position, each table's next merge replaces its contents, and the
// frontier CAS starts from the frontier found on the new primary.
// In both cases WAL of the old timeline past S is never applied again (fork_limit).
#include <thread>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);
std::string InflightKey(int64_t id);
std::string RelfileKey(Oid relid);

Status Engine::Impl::CheckDivergence() {
  if (ckpt.tli == 0 || divergence) return Status::Ok();
  last_divergence_check = Clock::now();
  FollowedLineage f = Followed(true);
  if (primary && f.newest_known > primary_tli && primary_tli != 0)
    LosePrimary("timeline " + std::to_string(f.newest_known) + " (seen on " + f.newest_known_from +
                ") is newer than the primary's " + std::to_string(primary_tli));
  if (f.newest_known <= ckpt.tli || f.newest_history.empty()) return Status::Ok();
  PrimaryLineage newest;
  newest.system_id = f.system_id;
  newest.tli = f.newest_known;
  newest.history = f.newest_history;
  LineageVerdict v = CheckLineage(f, newest);
  if (v.kind == LineageKind::kDiverged) {
    fstats.divergences++;
    PGT_LOG_WARN("divergence: timeline ", newest.tli, " (seen on ", f.newest_known_from, "): ", v.reason,
                 "; decoding stops until the engine's state is recovered");
    divergence = v;
  } else if (v.kind == LineageKind::kStale) {
    Condition("history", "the newest timeline " + std::to_string(newest.tli) + " does not continue the WAL the engine "
                         "applied: " + v.reason);
  } else if (const TimelineSpan* s = FindTimeline(f.newest_history, ckpt.tli);
             !fork_limit && s != nullptr && s->end != kEndOfTime) {
    // Not diverged, but the timeline the engine follows has ended: a source still serving it
    // (a standby not yet following the new one, an engine restarted after a rewind) must not
    // be read past its end. WalLineageHolds lifts the limit once the source moves on.
    fork_limit = std::make_pair(ckpt.tli, s->end);
  }
  return Status::Ok();
}

Status Engine::Impl::TakeStateCheckpoint() {
  PGT_RETURN_IF_ERROR(CommitBatch());
  CheckpointInfo info;
  info.applied_upto = StateUpto();   // a transaction applied in part counts whole (its marker is in the copy)
  info.restart_lsn = ckpt.restart_lsn;
  info.tli = ckpt.tli;
  for (auto& [id, t] : tables) {
    const TableMeta& m = t.table->meta();
    info.merged[id] = m.has_merged ? std::optional<Lsn>(m.merged_frontier) : std::nullopt;
  }
  return ckpts->Take(store.get(), std::move(info));
}

Result<bool> Engine::Impl::RewindToCheckpoint(const LineageVerdict& v,
                                             const std::map<int64_t, std::optional<Lsn>>& frontiers) {
  PGT_ASSIGN_OR_RETURN(auto all, ckpts->List());
  const CheckpointInfo* pick = nullptr;
  for (const auto& c : all) {
    if (c.applied_upto > v.switch_point || c.restart_lsn > v.switch_point) continue;
    if (!pick) pick = &c;
    bool behind_all = true;
    for (auto& [id, f] : c.merged) {
      auto it = frontiers.find(id);
      if (it != frontiers.end() && f && (!it->second || *f > *it->second)) behind_all = false;
    }
    if (behind_all) { pick = &c; break; }
  }
  if (!pick) return false;
  CheckpointInfo cp = *pick;
  // Close the state, swap the files in, reopen.
  batch.reset();
  store.reset();
  Status rs = CheckpointSet::Restore(opts.state_dir, cp);
  PGT_ASSIGN_OR_RETURN(store, StateStore::Open(opts.state_dir));
  batch = std::make_unique<Batch>(store.get());
  batch_txns = 0;
  PGT_RETURN_IF_ERROR(rs);
  PGT_RETURN_IF_ERROR(LoadState());
  ForgetUpstreamFrontiers();   // seen past the restored position, maybe on the abandoned timeline
  fstats.rewinds++;
  PGT_LOG_WARN("rewound state to checkpoint at ", FormatLsn(cp.applied_upto), " (timeline ", cp.tli, ", restart ",
               FormatLsn(cp.restart_lsn), "): divergence at ", FormatLsn(v.switch_point), "; replaying on timeline ",
               v.switch_to ? std::to_string(v.switch_to) : std::string("?"));
  // The restored checkpoint holds the mirrors as of its position (LoadState reloaded them).
  for (auto& [relid, m] : mirrors) PGT_RETURN_IF_ERROR(resolver->Track(relid, 0));
  for (auto& [id, t] : tables) {
    Status st = SettleInflight(t);
    if (!st.ok() && st.code() != Status::Code::kNotFound) return st;
    TableMeta& m = t.table->meta();
    auto it = frontiers.find(id);
    if (it == frontiers.end()) continue;   // dropped since: the catalog poll cleans up
    std::optional<Lsn> ours = m.has_merged ? std::optional<Lsn>(m.merged_frontier) : std::nullopt;
    if (it->second == ours) continue;
    if (it->second && (!ours || *ours < *it->second)) {
      m.merged_frontier = *it->second;   // merges the new primary kept: pending covers them
      m.has_merged = true;
    } else {
      NoteRebuild(t, "its merge to " + (ours ? FormatLsn(*ours) : std::string("NULL")) +
                         " was lost on the new primary (frontier " +
                         (it->second ? FormatLsn(*it->second) : std::string("NULL")) +
                         ") and no checkpoint goes back that far");
      m.needs_rebootstrap = true;
      m.has_merged = it->second.has_value();
      m.merged_frontier = it->second.value_or(0);
    }
    Batch b(store.get());
    PGT_RETURN_IF_ERROR(SaveTableMeta(&b, t));
    PGT_RETURN_IF_ERROR(store->Commit(&b));
  }
  CheckpointSet::MarkRewindReconciled(opts.state_dir);
  return true;
}

// A table's merged frontier F can be ahead of the engine's committed position: after a rewind
// the engine adopts the frontier the new primary kept (merges replicated before the failover),
// and replays the WAL up to F again. The table's storage then holds the state at F, while the
// batch's caches compare with the state at the batch's start: source deltas consolidated per key
// (apply_path.cc), aggregate groups emitted only when their row differs from the batch's start
// (circuit/aggregate.cc), pending output per row. A row inserted before F and deleted after F
// in one batch would net to "no change", and the row merged at F would stay in storage forever.
// So a batch never spans F: it is committed before the first transaction that ends past F
// (every transaction ending at or before F is in it: they commit in end order). The batch after
// starts at the state at F, which is what the storage holds. Costs a commit per adopted frontier
// (only during the replay after a rewind).
Status Engine::Impl::CutAtAdoptedFrontier(const Transaction& header) {
  if (batch_txns == 0) return Status::Ok();
  std::optional<Lsn> cut;
  for (auto& [id, t] : tables) {
    const TableMeta& m = t.table->meta();
    if (!m.has_merged || m.merged_frontier <= ckpt.applied_upto || header.end_lsn <= m.merged_frontier) continue;
    if (batch_last_end > m.merged_frontier) continue;   // the batch started past F (its first transaction did)
    cut = cut ? std::min(*cut, m.merged_frontier) : m.merged_frontier;
  }
  if (!cut) return Status::Ok();
  PGT_LOG_DEBUG("batch committed before transaction ", header.xid, " (end ", FormatLsn(header.end_lsn),
                "): it would span the adopted frontier ", FormatLsn(*cut));
  // Every transaction ending before this one is applied; this one (ending past F) is not, and a
  // restart decodes it again (restart at or before its first record).
  return CommitState(header.commit_lsn, std::min(decoder->restart_lsn(), header.first_lsn));
}

Status Engine::Impl::HandleDivergence(const LineageVerdict& v) {
  StopBootstrapJob("the WAL diverged");   // bootstrap_job.cc: its snapshot may be past the switch point
  DropBatch();
  fstats.last_switch_point = v.switch_point;
  fork_limit = std::make_pair(ckpt.tli, v.switch_point);
  // Frontiers on the new primary first: a failure leaves everything as it was (retried).
  // Every table, failed ones included: a rewind may bring back a state from before the failure.
  std::map<int64_t, std::optional<Lsn>> frontiers;
  for (auto& [id, t] : tables) {
    auto f = merger->ReadFrontier(id);
    if (!f.ok()) {
      if (f.status().code() == Status::Code::kNotFound) continue;   // dropped: the poll cleans up
      return f.status();
    }
    frontiers[id] = *f;
  }
  PGT_ASSIGN_OR_RETURN(bool rewound, RewindToCheckpoint(v, frontiers));
  if (rewound) {
    divergence.reset();
    restart_decoder = true;
    return Status::Ok();
  }
  Batch b(store.get());
  for (auto& [id, t] : tables) {
    auto it = frontiers.find(id);
    if (it == frontiers.end()) continue;
    TableMeta& m = t.table->meta();
    PGT_LOG_WARN("re-snapshot of ", m.name, ": divergence at ", FormatLsn(v.switch_point), " (", v.reason,
                 "); frontier on the new primary ", it->second ? FormatLsn(*it->second) : std::string("NULL"),
                 ", the engine's ", m.has_merged ? FormatLsn(m.merged_frontier) : std::string("NULL"));
    fstats.resnapshots++;
    m.needs_rebootstrap = true;
    m.has_merged = it->second.has_value();
    m.merged_frontier = it->second.value_or(0);
    PGT_RETURN_IF_ERROR(SaveTableMeta(&b, t));
    b.Delete(Cf::kMeta, InflightKey(id));
    t.source_changes_since_merge = 0;
    t.oldest_pending_commit_us = 0;
  }
  // The shared mirrors hold rows of WAL past the switch point: none of them may seed a table.
  // Dropped (registry first), so the re-bootstraps snapshot the standby on the new timeline.
  std::vector<Oid> mirrored;
  for (auto& [relid, m] : mirrors) {
    mirrored.push_back(relid);
    b.Delete(Cf::kMeta, SourceMirror::MetaKey(relid));
    b.Delete(Cf::kMeta, RelfileKey(relid));   // the file may differ on the new timeline
  }
  mirrors.clear();
  relfile_recorded.clear();
  ckpt = Checkpoint{};   // decoding restarts fresh on the new timeline (StartDecoder)
  b.Put(Cf::kMeta, "checkpoint", ckpt.Encode());
  b.Delete(Cf::kMeta, PartialTxn::kKey);   // a transaction applied in part: its tables start over
  partial.reset();
  partial_next.reset();
  PGT_RETURN_IF_ERROR(store->Commit(&b));
  for (Oid relid : mirrored) PGT_RETURN_IF_ERROR(store->DeletePrefix(Cf::kMirror, SourceMirror::Prefix(relid)));
  for (auto& [id, t] : tables)
    if (frontiers.count(id)) PGT_RETURN_IF_ERROR(store->DeletePrefix(Cf::kPending, t.table->PendingPrefix()));
  divergence.reset();
  restart_decoder = true;   // StartDecoder begins at the standby's position (restart_lsn 0)
  PGT_LOG_INFO("divergence handled without a checkpoint at or before ", FormatLsn(v.switch_point), ": ",
               frontiers.size(), " stream table(s) will be snapshotted again from the standby");
  return Status::Ok();
}

// Before a decoded transaction is applied: the WAL it came from must still be on the history
// the engine follows. A timeline switch of the source, or the periodic check, may reveal a
// divergence; a source still serving the abandoned timeline past the switch point (fork_limit)
// is not used. Returns false when the uncommitted batch was dropped (the caller starts over).
Result<bool> Engine::Impl::WalLineageHolds(const std::optional<Transaction>& next, const std::atomic<bool>& stop) {
  auto drop_batch = [&]() { DropBatch(); };
  if (source->timeline() != seen_source_tli) {
    bool first = seen_source_tli == 0;
    seen_source_tli = source->timeline();
    fstats.timeline = seen_source_tli;
    if (!first) {
      PGT_LOG_INFO("the WAL stream follows timeline ", seen_source_tli, " now");
      PGT_RETURN_IF_ERROR(CheckDivergence());
      CheckPrimaryCurrent();
      if (divergence) { drop_batch(); return false; }
    }
  }
  if (Clock::now() - last_divergence_check >= std::chrono::seconds(source->problem().empty() ? 10 : 3)) {
    PGT_RETURN_IF_ERROR(CheckDivergence());
    if (divergence) { drop_batch(); return false; }
  }
  if (next && fork_limit && next->end_lsn > fork_limit->second && source->timeline() <= fork_limit->first) {
    Condition("fork", "the WAL source still serves timeline " + std::to_string(source->timeline()) +
                          " past its switch point " + FormatLsn(fork_limit->second) +
                          ": waiting for a standby on the new timeline (or the archive)");
    drop_batch();
    restart_decoder = true;
    auto until = Clock::now() + decode_backoff.Next();
    while (Clock::now() < until && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return false;
  }
  if (fork_limit && source->timeline() > fork_limit->first) {
    fork_limit.reset();
    ClearCondition("fork", "the WAL source follows the new timeline");
  }
  return true;
}

}  // namespace pgt::engine
