// Engine startup, the decode loop, batches and the heartbeat. See engine_impl.h for the
// invariants and the other parts of Engine::Impl.
#include "engine_impl.h"

#include <thread>

#include <nlohmann/json.hpp>

#include "log.h"

namespace pgt::engine {

namespace {
constexpr char kCheckpointKey[] = "checkpoint";
constexpr size_t kMaxBatchTxns = 2000;
// How often a table's pending rows are counted for pgt_stream_tables.pending_change_rows.
constexpr auto kPendingCountPeriod = std::chrono::seconds(10);
}  // namespace

std::string TableMetaKey(int64_t id) { return "table/" + TablePrefix(id); }
std::string InflightKey(int64_t id) { return "inflight/" + TablePrefix(id); }

std::string Checkpoint::Encode() const {
  return nlohmann::json({{"restart_lsn", restart_lsn}, {"applied_upto", applied_upto},
                         {"consistent", consistent}, {"tli", tli}, {"system_id", system_id}}).dump();
}

Result<Checkpoint> Checkpoint::Decode(std::string_view s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("checkpoint record is not JSON");
  Checkpoint c;
  c.restart_lsn = j.value("restart_lsn", Lsn{0});
  c.applied_upto = j.value("applied_upto", Lsn{0});
  c.consistent = j.value("consistent", false);
  c.tli = j.value("tli", TimeLineId{0});
  c.system_id = j.value("system_id", std::string());
  return c;
}

Engine::Engine() : impl_(std::make_unique<Impl>()) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& opts) {
  auto e = std::unique_ptr<Engine>(new Engine());
  e->impl_->opts = opts;
  PGT_RETURN_IF_ERROR(CheckpointSet::FinishInterruptedRestore(opts.state_dir));   // a rewind cut short
  PGT_ASSIGN_OR_RETURN(e->impl_->store, StateStore::Open(opts.state_dir));
  e->impl_->ckpts = std::make_unique<CheckpointSet>(opts.state_dir, opts.checkpoint_keep);
  e->impl_->batch = std::make_unique<Batch>(e->impl_->store.get());
  PGT_RETURN_IF_ERROR(e->impl_->StartObservability());   // --http-listen: bind errors exit 2
  return e;
}

Status Engine::Run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  Status st = m.Startup();
  Backoff backoff(std::chrono::milliseconds(500), std::chrono::milliseconds(5000));
  while (!st.ok() && st.code() == Status::Code::kUnavailable && !stop) {
    m.Condition("startup", "cannot start yet: " + st.message() + " (retrying with backoff up to 5 s)");
    m.obs.hub.live().Beat();   // alive, not ready: /healthz ok, /readyz not
    auto until = Clock::now() + backoff.Next();
    while (Clock::now() < until && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    st = m.Startup();
  }
  if (stop) return Status::Ok();
  PGT_RETURN_IF_ERROR(st);
  m.ClearCondition("startup");
  return m.Loop(stop);
}

// The primary is resolved host by host with the lineage check (reattach.cc).
Status Engine::Impl::ConnectPrimary() {
  if (PrimaryReady()) return Status::Ok();
  if (fatal) return *fatal;
  auto it = conditions.find("primary");
  return Status::Unavailable(it != conditions.end() ? it->second : "no primary yet");
}

Status Engine::Impl::ConnectStandby() {
  PGT_ASSIGN_OR_RETURN(standby, PgConn::Connect(opts.standby_conninfo, "standby"));
  PGT_ASSIGN_OR_RETURN(PgRows rec, standby->Query("SELECT pg_is_in_recovery()"));
  if (rec.at(0, 0).value_or("f") != "t")
    PGT_LOG_WARN("the --standby server is not in recovery (a promoted standby?): decoding continues from it, "
                 "bootstrap snapshots wait for a hot standby");
  PGT_ASSIGN_OR_RETURN(resolver, SqlCatalogResolver::Connect(opts.standby_conninfo));
  // The physical slot lives on the standby, inactive: it retains WAL from our restart position
  // while that standby lives (AdvanceSlot). Without it (no permission, CNPG dropped it) the
  // archive is the retention.
  if (!opts.slot.empty()) {
    auto r = standby->QueryParams(
        "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS "
        "(SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", {opts.slot});
    if (!r.ok()) Condition("slot", "cannot create slot " + opts.slot + " on the standby: " + r.status().message() +
                                       " (WAL retention then relies on the archive)");
  }
  PGT_RETURN_IF_ERROR(OpenWalSource());
  DecoderOptions dopts{resolver->database_oid()};
  dopts.collect_invalidations = true;   // source DDL (source_ddl.cc)
  lookup = std::make_unique<MissRecordingResolver>(resolver.get());   // source_ddl.cc
  decoder = std::make_unique<Decoder>(source.get(), lookup.get(), dopts);
  return Status::Ok();
}

// Local state: the checkpoint and the registry of maintained tables.
Status Engine::Impl::LoadState() {
  PGT_ASSIGN_OR_RETURN(auto raw, store->Get(Cf::kMeta, kCheckpointKey));
  ckpt = Checkpoint{};
  if (raw) { PGT_ASSIGN_OR_RETURN(ckpt, Checkpoint::Decode(*raw)); }
  if (system_id.empty()) system_id = ckpt.system_id;
  tables.clear();
  failed.clear();
  Status load;
  PGT_RETURN_IF_ERROR(store->Scan(Cf::kMeta, "table/", [&](std::string_view, std::string_view v) {
    auto meta = TableMeta::Decode(v);
    if (!meta.ok()) { load = meta.status(); return false; }
    if (meta->status == TableStatus::kError) { failed.insert(meta->id); return true; }
    auto t = StreamTable::Create(std::move(meta).value());
    if (!t.ok()) { load = t.status(); return false; }
    int64_t id = (*t)->meta().id;
    tables[id].table = std::move(t).value();
    return true;
  }));
  PGT_RETURN_IF_ERROR(load);
  PGT_RETURN_IF_ERROR(LoadPartial());   // large_txn.cc: a transaction applied in part
  return LoadMirrors();   // mirrors.cc; also after a rewind, the restored checkpoint holds them
}

Status Engine::Impl::Startup() {
  PGT_RETURN_IF_ERROR(LoadState());
  // A bootstrap that died with standby replay paused: resume it before anything that could wait.
  PGT_RETURN_IF_ERROR(ResumeReplayIfWePaused());
  PGT_RETURN_IF_ERROR(ConnectPrimary());
  PGT_RETURN_IF_ERROR(CheckExtensionVersion());   // control.cc: refuses a mismatched extension
  PGT_RETURN_IF_ERROR(ConnectStandby());
  // Divergence first: after one, HandleDivergence compares the frontiers (not ReconcileInflight).
  PGT_RETURN_IF_ERROR(CheckDivergence());
  if (!divergence) PGT_RETURN_IF_ERROR(ReconcileInflight());
  // The mirrors (loaded with the state) are what decoding applies to: track their relations.
  for (auto& [relid, m] : mirrors) PGT_RETURN_IF_ERROR(resolver->Track(relid, 0));
  PGT_RETURN_IF_ERROR(CheckSourceFiles());   // source_ddl.cc: a rewrite lost with a batch
  if (divergence) {
    restart_decoder = true;   // the loop handles the divergence first
  } else {
    PGT_RETURN_IF_ERROR(StartDecoder());
  }
  PGT_EVENT(kInfo, "engine_started",
            (LogFields{{"tables", static_cast<int64_t>(tables.size())}, {"lsn", FormatLsn(ckpt.restart_lsn)},
                       {"timeline", static_cast<int64_t>(ckpt.tli)}, {"consistent", ckpt.consistent}}),
            "engine started: ", tables.size(), " stream table(s), decoding from ", FormatLsn(ckpt.restart_lsn),
            ckpt.consistent ? "" : " (waiting for a consistent point)");
  return Status::Ok();
}

Status Engine::Impl::StartDecoder() {
  if (ckpt.restart_lsn == 0) {
    // First start: begin at the standby's current position; consistency comes from
    // XLOG_RUNNING_XACTS records (asked for below with CHECKPOINT on the primary).
    PGT_ASSIGN_OR_RETURN(ServerIdentity id, IdentifyServer(opts.standby_conninfo));
    TimeLineId tli = id.tli;
    Lsn pos = id.xlogpos;
    if (system_id.empty()) system_id = id.system_id;
    ckpt.restart_lsn = pos & ~Lsn{8191};
    ckpt.applied_upto = ckpt.restart_lsn;
    ckpt.tli = tli;
    ckpt.consistent = false;
  }
  seen_source_tli = 0;
  // Timeline 0: the source picks the timeline holding restart_lsn from its server's history (a
  // walsender serves a position only on the timeline whose files hold it).
  return decoder->Start(ckpt.restart_lsn, 0, ckpt.consistent);
}

// One record stream, one thread: decode -> apply (change by change, large_txn.cc) -> commit
// batches -> merges started on merge threads and finished here (scheduler.cc) -> heartbeat.
Status Engine::Impl::Loop(const std::atomic<bool>& stop) {
  stop_flag = &stop;
  large_txn_sink = MakeStreamSink();
  Status st = LoopBody(stop);
  FinishMerges(true);   // no merge thread outlives the loop
  return st;
}

Status Engine::Impl::LoopBody(const std::atomic<bool>& stop) {
  while (!stop) {
    if (fatal) return *fatal;
    auto now = Clock::now();
    if (divergence) {
      // Nothing is decoded or merged until the state no longer holds WAL past the switch point.
      if (PrimaryReady()) {
        FinishMerges(true);   // the rewind replaces the state the merges read
        Status st = HandleDivergence(*divergence);
        if (!st.ok()) Condition("divergence", "recovering from the divergence failed (retrying): " + st.message());
        else ClearCondition("divergence");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    // Not while a transaction is applied in part: a bootstrap from the mirrors would see half of it.
    if (!partial && now - last_poll >= std::chrono::milliseconds(opts.poll_ms)) {
      last_poll = now;
      Status st = PollCatalog();
      if (!st.ok()) Condition("poll", "catalog poll: " + st.message());
      else ClearCondition("poll");
    }
    if (!decoder->consistent() && now - last_checkpoint_request >= std::chrono::seconds(2)) {
      // Each CHECKPOINT logs XLOG_RUNNING_XACTS, which the decoder needs to become consistent.
      last_checkpoint_request = now;
      auto r = PrimaryReady() ? primary->Exec("CHECKPOINT") : Status::Unavailable("no primary");
      if (!r.ok()) PGT_LOG_DEBUG("CHECKPOINT request failed (waiting for the server's own): ", r.message());
    }
    if (restart_decoder) {
      DropBatch();
      PGT_RETURN_IF_ERROR(CheckDivergence());
      if (divergence) continue;
      Status rs = StartDecoder();
      if (!rs.ok()) {
        Condition("restart", "cannot restart decoding at " + FormatLsn(ckpt.restart_lsn) + ": " + rs.message() +
                                 " (retrying with backoff up to 5 s)", false);
        auto until = Clock::now() + decode_backoff.Next();
        while (Clock::now() < until && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      ClearCondition("restart", "decoding restarted at " + FormatLsn(ckpt.restart_lsn));
      restart_decoder = false;
    }
    // Periodic lineage checks; the transaction's own is made when it begins (BeginStreamed).
    PGT_ASSIGN_OR_RETURN(bool lineage_ok, WalLineageHolds(std::nullopt, stop));
    if (!lineage_ok) continue;   // the uncommitted batch was dropped
    auto next = decoder->NextStreamed(std::chrono::milliseconds(50), large_txn_sink.get());
    if (streaming) {
      // The transaction did not end: an apply error, the engine stopping (its applied part was
      // committed with the marker), or a decoding error. The rest of the batch is not committed.
      StreamedTxn s = std::move(*streaming);
      DropBatch();
      if (!s.error.ok()) return s.error;
      if (s.stopping) {
        PGT_EVENT(kInfo, "engine_stopping", (LogFields{{"lsn", FormatLsn(ckpt.applied_upto)}}),
                  "engine stopping inside a transaction; state committed at ", FormatLsn(ckpt.applied_upto));
        return Status::Ok();
      }
    }
    if (!next.ok()) {
      Status st = next.status();
      auto delay = decode_backoff.Next();
      PGT_EVENT(kError, "decoding_stopped",
                (LogFields{{"error", st.message()}, {"lsn", FormatLsn(ckpt.applied_upto)},
                           {"restart_lsn", FormatLsn(ckpt.restart_lsn)}, {"timeline", static_cast<int64_t>(ckpt.tli)}}),
                "WAL decoding stopped: ", st.message(), "; nothing past ", FormatLsn(ckpt.applied_upto),
                " is merged; restarting from ", FormatLsn(ckpt.restart_lsn), " in ",
                std::chrono::duration<double>(delay).count(), " s");
      DropBatch();
      Status rd = RedescribeSources();   // source_ddl.cc: a source may have changed (ADD COLUMN)
      if (!rd.ok()) PGT_LOG_WARN("re-describing the sources: ", rd.message());
      auto until = Clock::now() + delay;
      while (Clock::now() < until && !stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      restart_decoder = true;   // from the committed checkpoint: the uncommitted batch is gone
      continue;
    }
    if (*next) decode_backoff.Reset();
    PGT_RETURN_IF_ERROR(FollowInvalidations());   // source_ddl.cc: before the next record is read
    // A batch commits after kMaxBatchTxns transactions or batch_ms (CommitBatch restarts the
    // clock), whichever comes first, and only if decoding moved on; at once after a transaction
    // applied in chunks (its readers wait for it to merge).
    if (batch_txns >= kMaxBatchTxns || partial_dirty ||
        (Clock::now() - batch_started >= std::chrono::milliseconds(opts.batch_ms) &&
         decoder->decoded_upto() > ckpt.applied_upto)) {
      PGT_RETURN_IF_ERROR(CommitBatch());
    }
    PGT_RETURN_IF_ERROR(ScheduleMerges());
    if (opts.checkpoint_interval_s > 0 && decoder->consistent() &&
        Clock::now() - last_state_checkpoint >= std::chrono::seconds(opts.checkpoint_interval_s)) {
      last_state_checkpoint = Clock::now();
      Status st = TakeStateCheckpoint();
      if (!st.ok()) Condition("checkpoint", "state checkpoint failed: " + st.message());
      else ClearCondition("checkpoint");
    }
    LogProgressIfDue();
    PublishSnapshot();
    HeartbeatIfDue();
  }
  PGT_RETURN_IF_ERROR(CommitBatch());
  PGT_EVENT(kInfo, "engine_stopping", (LogFields{{"lsn", FormatLsn(ckpt.applied_upto)}}),
            "engine stopping; state committed at ", FormatLsn(ckpt.applied_upto));
  return Status::Ok();
}

void Engine::Impl::LogProgressIfDue() {
  if (Clock::now() - last_progress_log < std::chrono::seconds(10)) return;
  last_progress_log = Clock::now();
  PGT_EVENT(kInfo, "progress",
            (LogFields{{"lsn", FormatLsn(decoder->decoded_upto())}, {"applied_lsn", FormatLsn(ckpt.applied_upto)},
                       {"restart_lsn", FormatLsn(ckpt.restart_lsn)}, {"timeline", static_cast<int64_t>(ckpt.tli)},
                       {"consistent", decoder->consistent()}, {"merges_running", static_cast<int64_t>(MergesRunning())}}),
            "progress: decoded up to ", FormatLsn(decoder->decoded_upto()), ", applied up to ",
            FormatLsn(ckpt.applied_upto), ", restart at ", FormatLsn(ckpt.restart_lsn), ", ",
            decoder->open_transactions(), " open transaction(s), ", MergesRunning(), " merge(s) running",
            decoder->consistent() ? "" : ", waiting for a consistent point");
}

void Engine::Impl::HeartbeatIfDue() {
  if (Clock::now() - last_heartbeat < std::chrono::milliseconds(opts.heartbeat_ms)) return;
  last_heartbeat = Clock::now();
  if (!PrimaryReady() || divergence) return;
  Status st = Heartbeat();
  if (st.code() == Status::Code::kUnavailable) LosePrimary("heartbeat: " + st.message());
  else if (!st.ok()) Condition("heartbeat", "heartbeat: " + st.message());
  else WriteFailoverStatus();
}

void Engine::Impl::DropBatch() {
  batch = std::make_unique<Batch>(store.get());
  batch_txns = 0;
  partial_next = partial;
  partial_dirty = false;
  streaming.reset();
}

// Each change is applied once to its source's shared mirror, then to every stream table reading
// that source (mirrors.cc), in commit order whatever tables it touches.
Status Engine::Impl::ApplyTransaction(const Transaction& txn) {
  for (const Change& c : txn.changes) PGT_RETURN_IF_ERROR(ApplyChange(txn, c));
  return Status::Ok();
}

Status Engine::Impl::ApplyChange(const Transaction& txn, const Change& c) {
  if (c.kind == ChangeKind::kTruncate) {
    for (Oid relid : c.truncated) TruncateSource(txn, relid);
    return Status::Ok();
  }
  return ApplyChangeToSource(txn, c);
}

Status Engine::Impl::CommitBatch() {
  // The batch was dropped and decoding restarts from the committed checkpoint (a transaction
  // refused by WalLineageHolds, a decoding error): the decoder's position covers transactions
  // whose changes were thrown away with the batch. Committing it would mark them applied (the
  // rows they wrote were then missing from the mirrors on the new timeline).
  if (restart_decoder) return Status::Ok();
  if (streaming && streaming->error.ok()) return CommitChunk();   // inside a transaction: a chunk and its marker
  return CommitState(decoder->decoded_upto(), decoder->restart_lsn());
}

// One atomic, synced write: the batch, the checkpoint at (applied, restart) and the partial
// transaction marker if it changed (large_txn.cc).
Status Engine::Impl::CommitState(Lsn applied, Lsn restart) {
  // A transaction applied in part is never passed over: its marker goes with its last part.
  const std::optional<PartialTxn>& marker = partial_dirty ? partial_next : partial;
  if (marker && applied >= marker->end_lsn)
    return Status::Internal("transaction " + std::to_string(marker->xid) + " ending at " + FormatLsn(marker->end_lsn) +
                            " is applied in part, but the batch would mark everything up to " + FormatLsn(applied) +
                            " applied");
  if (fork_limit && source->timeline() <= fork_limit->first) {
    // The decoder may have read records of the abandoned timeline past its switch point
    // (records outside transactions; transactions WalLineageHolds refused). None of them is
    // applied, and the checkpoint must not say otherwise: "timeline 1 applied past S" reads as
    // a divergence (drill 4 rewound in a loop), and on the new timeline its transactions up to
    // that position would be skipped as applied.
    applied = std::min(applied, fork_limit->second);
    restart = std::min(restart, fork_limit->second);
  }
  PGT_RETURN_IF_ERROR(FinishApply());   // mirrors.cc: consolidated deltas and operator caches into the batch
  ckpt.applied_upto = std::max(ckpt.applied_upto, applied);
  ckpt.restart_lsn = restart;
  ckpt.consistent = decoder->consistent();
  if (source->timeline() != 0) ckpt.tli = source->timeline();
  ckpt.system_id = system_id;
  batch->Put(Cf::kMeta, kCheckpointKey, ckpt.Encode());
  if (partial_dirty) {
    if (partial_next) batch->Put(Cf::kMeta, PartialTxn::kKey, partial_next->Encode());
    else batch->Delete(Cf::kMeta, PartialTxn::kKey);
  }
  PGT_RETURN_IF_ERROR(store->Commit(batch.get()));
  if (partial_dirty) {
    partial = partial_next;
    partial_dirty = false;
  }
  batch_txns = 0;
  batch_started = Clock::now();
  ++obs.batches_committed;
  source->ConfirmFlush(ckpt.restart_lsn);
  AdvanceSlot();
  return Status::Ok();
}

Status Engine::Impl::SaveTableMeta(Batch* b, const TableRuntime& t) {
  b->Put(Cf::kMeta, TableMetaKey(t.table->meta().id), t.table->meta().Encode());
  return Status::Ok();
}

void Engine::Impl::MarkError(int64_t id, const Status& why) {
  PGT_EVENT(kError, "table_error", (LogFields{{"table_id", id}, {"error", why.message()}}),
            "stream table id ", id, " stops being maintained: ", why.message());
  failed.insert(id);
  auto it = tables.find(id);
  if (it != tables.end()) {
    it->second.table->meta().status = TableStatus::kError;
    it->second.table->meta().error = why.message();
    Batch b(store.get());
    (void)SaveTableMeta(&b, it->second);
    (void)store->Commit(&b);
  }
  if (!PrimaryReady()) {
    PGT_LOG_WARN("could not record the error on the primary: no primary to write to (it stays in the engine's state)");
    return;
  }
  auto r = primary->QueryParams("UPDATE pgtrickle.pgt_stream_tables SET status = 'ERROR', last_error = $2 WHERE id = $1 "
                                "AND (SELECT epoch FROM pgtrickle.pgt_engine WHERE id = 1) = $3",
                                {std::to_string(id), why.message(), std::to_string(epoch)});
  if (!r.ok()) PGT_LOG_WARN("could not record the error on the primary: ", r.status().message());
}

Status Engine::Impl::Heartbeat() {
  nlohmann::json sources = nlohmann::json::array();
  std::map<std::string, std::pair<int64_t, int64_t>> per_source;   // name -> (pending, oldest µs)
  for (auto& [id, t] : tables) {
    // A merge in flight holds the table's catalog row (FOR UPDATE) until it commits.
    if (failed.count(id) || MergeRunning(id)) continue;
    if (Clock::now() - t.pending_counted_at >= kPendingCountPeriod) {
      t.pending_counted_at = Clock::now();
      t.pending_rows = 0;
      PGT_RETURN_IF_ERROR(store->Scan(Cf::kPending, t.table->PendingPrefix(), [&](std::string_view, std::string_view) {
        ++t.pending_rows;
        return true;
      }));
    }
    const int64_t pending = t.pending_rows;
    PGT_RETURN_IF_ERROR(primary->QueryParams(
        "UPDATE pgtrickle.pgt_stream_tables SET pending_change_rows = $2 WHERE id = $1 AND pending_change_rows IS DISTINCT FROM $2",
        {std::to_string(id), std::to_string(pending)}).status());
    for (const auto& src : t.table->plan().sources) {
      auto& agg = per_source[src.schema + "." + src.name];
      agg.first = std::max(agg.first, t.source_changes_since_merge);
      if (t.oldest_pending_commit_us && (!agg.second || t.oldest_pending_commit_us < agg.second))
        agg.second = t.oldest_pending_commit_us;
    }
  }
  for (auto& [name, v] : per_source) {
    nlohmann::json e = {{"source_table", name}, {"pending_rows", v.first}};
    // µs since 2000-01-01 -> Unix seconds for to_timestamp().
    e["oldest_change_at_unix"] = v.second ? nlohmann::json(v.second / 1e6 + 946684800.0) : nlohmann::json(nullptr);
    sources.push_back(e);
  }
  PGT_RETURN_IF_ERROR(primary->QueryParams(
      "UPDATE pgtrickle.pgt_engine SET decoded_lsn = $1::pg_lsn, heartbeat_at = now(), source_pending = "
      "(SELECT coalesce(jsonb_agg(jsonb_build_object('source_table', e->>'source_table', 'pending_rows', "
      "(e->>'pending_rows')::bigint, 'oldest_change_at', to_timestamp((e->>'oldest_change_at_unix')::float8))), '[]') "
      "FROM jsonb_array_elements($2::jsonb) e) WHERE id = 1 AND epoch = $3",
      {FormatLsn(ckpt.applied_upto), sources.dump(), std::to_string(epoch)}).status());
  return ReportProgress();   // control.cc: backpressure's engine LSN, version, timeline
}

}  // namespace pgt::engine
