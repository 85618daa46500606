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
}  // namespace

std::string TableMetaKey(int64_t id) { return "table/" + TablePrefix(id); }
std::string InflightKey(int64_t id) { return "inflight/" + TablePrefix(id); }

std::string Checkpoint::Encode() const {
  return nlohmann::json({{"restart_lsn", restart_lsn}, {"applied_upto", applied_upto},
                         {"consistent", consistent}, {"tli", tli}}).dump();
}

Result<Checkpoint> Checkpoint::Decode(std::string_view s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("checkpoint record is not JSON");
  Checkpoint c;
  c.restart_lsn = j.value("restart_lsn", Lsn{0});
  c.applied_upto = j.value("applied_upto", Lsn{0});
  c.consistent = j.value("consistent", false);
  c.tli = j.value("tli", TimeLineId{0});
  return c;
}

Engine::Engine() : impl_(std::make_unique<Impl>()) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& opts) {
  auto e = std::unique_ptr<Engine>(new Engine());
  e->impl_->opts = opts;
  PGT_ASSIGN_OR_RETURN(e->impl_->store, StateStore::Open(opts.state_dir));
  e->impl_->batch = std::make_unique<Batch>(e->impl_->store.get());
  return e;
}

Status Engine::Run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  Status st = m.Startup();
  while (!st.ok() && st.code() == Status::Code::kUnavailable && !stop) {
    PGT_LOG_WARN(st.message(), " (retrying in 2 s)");
    for (int i = 0; i < 20 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = m.Startup();
  }
  if (stop) return Status::Ok();
  PGT_RETURN_IF_ERROR(st);
  return m.Loop(stop);
}

Status Engine::Impl::ConnectPrimary() {
  PGT_ASSIGN_OR_RETURN(primary, PgConn::Connect(opts.primary_conninfo, "primary"));
  merger = std::make_unique<MergeWriter>(primary.get());
  auto r = primary->Query("UPDATE pgtrickle.pgt_engine SET epoch = epoch + 1, heartbeat_at = now() "
                          "WHERE id = 1 RETURNING epoch");
  if (!r.ok())
    return Status::Unavailable("primary: pg_trickle catalog not readable (is CREATE EXTENSION pg_trickle done?): " +
                               r.status().message());
  if (r->rows.empty()) return Status::Unavailable("primary: pgtrickle.pgt_engine has no row");
  epoch = std::stoll(*r->at(0, 0));
  PGT_LOG_INFO("connected to the primary; engine epoch ", epoch);
  return Status::Ok();
}

Status Engine::Impl::ConnectStandby() {
  PGT_ASSIGN_OR_RETURN(standby, PgConn::Connect(opts.standby_conninfo, "standby"));
  PGT_ASSIGN_OR_RETURN(PgRows rec, standby->Query("SELECT pg_is_in_recovery()"));
  if (rec.at(0, 0).value_or("f") != "t")
    PGT_LOG_WARN("the --standby server is not in recovery; bootstrap snapshots need a hot standby");
  PGT_ASSIGN_OR_RETURN(resolver, SqlCatalogResolver::Connect(opts.standby_conninfo));
  // The physical slot lives on the standby; create it if missing so WAL is retained for us.
  PGT_RETURN_IF_ERROR(standby->QueryParams(
      "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS "
      "(SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", {opts.slot}).status());
  StreamOptions so;
  so.conninfo = opts.standby_conninfo;
  so.slot = opts.slot;
  PGT_ASSIGN_OR_RETURN(source, OpenStreamSource(so));
  decoder = std::make_unique<Decoder>(source.get(), resolver.get(), DecoderOptions{resolver->database_oid()});
  return Status::Ok();
}

Status Engine::Impl::Startup() {
  // Local state first: the checkpoint and the registry of maintained tables.
  PGT_ASSIGN_OR_RETURN(auto raw, store->Get(Cf::kMeta, kCheckpointKey));
  if (raw) { PGT_ASSIGN_OR_RETURN(ckpt, Checkpoint::Decode(*raw)); }
  tables.clear();
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
  // A bootstrap that died with standby replay paused: resume it before anything that could wait.
  PGT_RETURN_IF_ERROR(ResumeReplayIfWePaused());
  PGT_RETURN_IF_ERROR(ConnectPrimary());
  PGT_RETURN_IF_ERROR(ConnectStandby());
  PGT_RETURN_IF_ERROR(ReconcileInflight());
  PGT_RETURN_IF_ERROR(LoadMirrors());
  for (auto& [relid, m] : mirrors) PGT_RETURN_IF_ERROR(resolver->Track(relid, 0));
  PGT_RETURN_IF_ERROR(StartDecoder());
  PGT_LOG_INFO("engine started: ", tables.size(), " stream table(s), decoding from ", FormatLsn(ckpt.restart_lsn),
               ckpt.consistent ? "" : " (waiting for a consistent point)");
  return Status::Ok();
}

Status Engine::Impl::StartDecoder() {
  if (ckpt.restart_lsn == 0) {
    // First start: begin at the standby's current position; consistency comes from
    // XLOG_RUNNING_XACTS records (asked for below with CHECKPOINT on the primary).
    TimeLineId tli = 0;
    PGT_ASSIGN_OR_RETURN(Lsn pos, IdentifySystemXLogPos(opts.standby_conninfo, &tli));
    ckpt.restart_lsn = pos & ~Lsn{8191};
    ckpt.applied_upto = ckpt.restart_lsn;
    ckpt.tli = tli;
    ckpt.consistent = false;
  }
  return decoder->Start(ckpt.restart_lsn, ckpt.tli, ckpt.consistent);
}

Status Engine::Impl::Loop(const std::atomic<bool>& stop) {
  while (!stop) {
    auto now = Clock::now();
    if (now - last_poll >= std::chrono::milliseconds(opts.poll_ms)) {
      last_poll = now;
      Status st = PollCatalog();
      if (!st.ok()) PGT_LOG_WARN("catalog poll: ", st.message());
    }
    if (!decoder->consistent() && now - last_checkpoint_request >= std::chrono::seconds(2)) {
      // Each CHECKPOINT logs XLOG_RUNNING_XACTS, which the decoder needs to become consistent.
      last_checkpoint_request = now;
      auto r = primary->Exec("CHECKPOINT");
      if (!r.ok()) PGT_LOG_DEBUG("CHECKPOINT request failed (waiting for the server's own): ", r.message());
    }
    if (restart_decoder) {
      batch = std::make_unique<Batch>(store.get());
      batch_txns = 0;
      Status rs = decoder->Start(ckpt.restart_lsn, ckpt.tli, ckpt.consistent);
      if (!rs.ok()) {
        PGT_LOG_ERROR("cannot restart decoding at ", FormatLsn(ckpt.restart_lsn), ": ", rs.message(), " (retrying in 5 s)");
        for (int i = 0; i < 50 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      restart_decoder = false;
    }
    auto next = decoder->Next(std::chrono::milliseconds(50));
    if (!next.ok()) {
      Status st = next.status();
      PGT_LOG_ERROR("WAL decoding stopped: ", st.message(), "; nothing past ", FormatLsn(ckpt.applied_upto),
                    " is merged; restarting from ", FormatLsn(ckpt.restart_lsn), " in 5 s");
      batch = std::make_unique<Batch>(store.get());
      batch_txns = 0;
      for (int i = 0; i < 50 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      restart_decoder = true;   // from the committed checkpoint: the uncommitted batch is gone
      continue;
    }
    if (next->has_value()) {
      PGT_RETURN_IF_ERROR(ApplyTransaction(**next));
      ++batch_txns;
    }
    // A batch commits after kMaxBatchTxns transactions or batch_ms (CommitBatch restarts the
    // clock), whichever comes first, and only if decoding moved on.
    if (batch_txns >= kMaxBatchTxns || (Clock::now() - batch_started >= std::chrono::milliseconds(opts.batch_ms) &&
                                        decoder->decoded_upto() > ckpt.applied_upto)) {
      PGT_RETURN_IF_ERROR(CommitBatch());
    }
    PGT_RETURN_IF_ERROR(RunDueMerges(false));
    if (Clock::now() - last_progress_log >= std::chrono::seconds(10)) {
      last_progress_log = Clock::now();
      PGT_LOG_INFO("progress: decoded up to ", FormatLsn(decoder->decoded_upto()), ", applied up to ",
                   FormatLsn(ckpt.applied_upto), ", restart at ", FormatLsn(ckpt.restart_lsn), ", ",
                   decoder->open_transactions(), " open transaction(s)",
                   decoder->consistent() ? "" : ", waiting for a consistent point");
    }
    if (Clock::now() - last_heartbeat >= std::chrono::milliseconds(opts.heartbeat_ms)) {
      last_heartbeat = Clock::now();
      Status st = Heartbeat();
      if (!st.ok()) PGT_LOG_WARN("heartbeat: ", st.message());
    }
  }
  PGT_RETURN_IF_ERROR(CommitBatch());
  PGT_LOG_INFO("engine stopping; state committed at ", FormatLsn(ckpt.applied_upto));
  return Status::Ok();
}

// Each change is applied once to its source's shared mirror, then to every stream table reading
// that source (mirrors.cc), in commit order whatever tables it touches.
Status Engine::Impl::ApplyTransaction(const Transaction& txn) {
  for (const Change& c : txn.changes) {
    if (c.kind == ChangeKind::kTruncate) {
      for (Oid relid : c.truncated) TruncateSource(txn, relid);
      continue;
    }
    PGT_RETURN_IF_ERROR(ApplyChangeToSource(txn, c));
  }
  return Status::Ok();
}

Status Engine::Impl::CommitBatch() {
  for (auto& [id, t] : tables) {
    if (failed.count(id)) continue;
    Status st = t.table->FinishBatch(batch.get());
    if (!st.ok()) MarkError(id, st);
  }
  Lsn decoded = decoder->decoded_upto();
  ckpt.applied_upto = std::max(ckpt.applied_upto, decoded);
  ckpt.restart_lsn = decoder->restart_lsn();
  ckpt.consistent = decoder->consistent();
  batch->Put(Cf::kMeta, kCheckpointKey, ckpt.Encode());
  PGT_RETURN_IF_ERROR(store->Commit(batch.get()));
  batch_txns = 0;
  batch_started = Clock::now();
  source->ConfirmFlush(ckpt.restart_lsn);
  return Status::Ok();
}

Status Engine::Impl::SaveTableMeta(Batch* b, const TableRuntime& t) {
  b->Put(Cf::kMeta, TableMetaKey(t.table->meta().id), t.table->meta().Encode());
  return Status::Ok();
}

void Engine::Impl::MarkError(int64_t id, const Status& why) {
  PGT_LOG_ERROR("stream table id ", id, " stops being maintained: ", why.message());
  failed.insert(id);
  auto it = tables.find(id);
  if (it != tables.end()) {
    it->second.table->meta().status = TableStatus::kError;
    it->second.table->meta().error = why.message();
    Batch b(store.get());
    (void)SaveTableMeta(&b, it->second);
    (void)store->Commit(&b);
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
    if (failed.count(id)) continue;
    int64_t pending = 0;
    PGT_RETURN_IF_ERROR(store->Scan(Cf::kPending, t.table->PendingPrefix(), [&](std::string_view, std::string_view) {
      ++pending;
      return true;
    }));
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
  return primary->QueryParams(
      "UPDATE pgtrickle.pgt_engine SET decoded_lsn = $1::pg_lsn, heartbeat_at = now(), source_pending = "
      "(SELECT coalesce(jsonb_agg(jsonb_build_object('source_table', e->>'source_table', 'pending_rows', "
      "(e->>'pending_rows')::bigint, 'oldest_change_at', to_timestamp((e->>'oldest_change_at_unix')::float8))), '[]') "
      "FROM jsonb_array_elements($2::jsonb) e) WHERE id = 1 AND epoch = $3",
      {FormatLsn(ckpt.applied_upto), sources.dump(), std::to_string(epoch)}).status();
}

}  // namespace pgt::engine
