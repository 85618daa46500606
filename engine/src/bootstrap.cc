// Bootstrap of a new stream table (DESIGN §6 invariant 3) at one LSN cut for all its sources.
//
// From the mirrors: when every source already has a shared mirror (source_mirror.h) loaded at
// or before the applied position A, the mirrors at A are a consistent cut: the circuit is
// loaded from them and bootstrap_lsn = A. Nothing is read from the standby.
//
// From a snapshot, when some source has no mirror yet:
//  1. Commit the current batch; decoding has processed everything up to D0 = decoded_upto.
//  2. Track the sources from D0 on: the catalog resolver waits until the standby replayed D0.
//  3. Pause replay on the standby, open a REPEATABLE READ snapshot there and read
//     R = pg_last_wal_replay_lsn() in its first statement, resume replay. With replay paused the
//     snapshot contains exactly the transactions whose commit record ends at or before R
//     (a hot standby makes a commit visible when it replays the record), so the cut is an LSN
//     cut from the start. (pg_current_snapshot() on a standby reports no in-progress xids, so
//     it cannot drive the cut there; pausing is also what makes R exact.) R >= D0.
//  4. On the bootstrap's own thread (bootstrap_job.h), read every source in that one snapshot
//     (binary COPY) and load the rows through the circuit (weight +1) in bulk
//     (bulk/bootstrap_loader.h); rows of sources without a mirror also build their mirror.
//     Meanwhile the main loop goes on and logs the new table's source changes after R.
//     Sources that had a mirror keep it (at its own position; it applies the transactions up
//     to R that this table skips). Nothing is registered until the end, and partial state of
//     an interrupted bootstrap is wiped first.
//  5. When the load is done, replay the logged changes and register the table (and new mirrors)
//     with bootstrap_lsn = R in one commit: their state is then at the applied position.
//  6. Transactions still open at D0 may have touched a source before it was tracked: right
//     after the snapshot the decoder is rewound to the oldest first-LSN of open transactions,
//     so they are decoded whole. (Others skip what they already applied.)
#include <filesystem>
#include <thread>

#include "bulk/bootstrap_loader.h"
#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);

namespace {
constexpr char kPauseMarker[] = "replay_paused_by_engine";

Status CheckSourceMatchesPlan(const SourceSpec& spec, const RelationDesc& desc) {
  for (const auto& col : spec.columns) {
    size_t i = static_cast<size_t>(col.attnum - 1);
    if (i >= desc.attrs.size() || desc.attrs[i].dropped || desc.attrs[i].type_oid != col.typoid)
      return Status::Conflict("source " + spec.schema + "." + spec.name + " column " + col.name +
                              " changed since the stream table was created");
  }
  if (desc.key_attnums != spec.key_attnums)
    return Status::Conflict("source " + spec.schema + "." + spec.name + " has a different primary key than at creation");
  return Status::Ok();
}

// Removes what a failed earlier attempt left under `prefix` before a bulk load: a range deletion
// only when a key is there. An SST file the load ingests overlapping a range tombstone (in the
// memtable or a level) cannot go below it: it lands in L0 and is compacted during the load (a
// fresh table's prefixes are empty, and then its files go straight to the lowest level).
Status ClearForLoad(StateStore* store, Cf cf, const std::string& prefix) {
  bool any = false;
  PGT_RETURN_IF_ERROR(store->Scan(cf, prefix, [&](std::string_view, std::string_view) { any = true; return false; }));
  return any ? store->DeletePrefix(cf, prefix) : Status::Ok();
}
}  // namespace

// Resumes replay if our marker says we paused it (a bootstrap in progress, or one that crashed).
// Called at startup before anything else, after each snapshot, and on every catalog poll.
Status Engine::Impl::ResumeReplayIfWePaused() {
  PGT_ASSIGN_OR_RETURN(auto marker, store->Get(Cf::kMeta, kPauseMarker));
  if (!marker) return Status::Ok();
  if (!standby || !standby->healthy()) {
    PGT_ASSIGN_OR_RETURN(standby, PgConn::Connect(opts.standby_conninfo, "standby"));
  }
  PGT_RETURN_IF_ERROR(standby->Exec(
      "SELECT pg_wal_replay_resume() WHERE pg_is_in_recovery() AND pg_is_wal_replay_paused()"));
  Batch b(store.get());
  b.Delete(Cf::kMeta, kPauseMarker);
  return store->Commit(&b);
}

Status Engine::Impl::Bootstrap(TableMeta meta) {
  if (boot_job && boot_job->id == meta.id) return Status::Ok();   // loading (bootstrap_job.cc)
  PGT_RETURN_IF_ERROR(CommitBatch());
  const int64_t id = meta.id;
  const std::string name = meta.name;
  meta.state_version = 2;
  PGT_ASSIGN_OR_RETURN(auto table, StreamTable::Create(std::move(meta)));
  std::vector<Oid> relids = table->source_relids();
  std::vector<Oid> unmirrored;
  for (Oid r : relids) if (!mirrors.count(r)) unmirrored.push_back(r);
  std::string sources;   // for logs and events: every source, comma-separated
  for (const SourceSpec& src : table->plan().sources) sources += (sources.empty() ? "" : ",") + src.schema + "." + src.name;
  if (unmirrored.empty()) return BootstrapFromMirrors(id, name, sources, std::move(table));
  if (boot_job) return Status::Unavailable("waiting for the bootstrap of " + boot_job->name + " to finish");
  // D0: everything before it is decoded and applied. After a restart or a rewind the decoder
  // may be re-reading WAL below applied_upto; the snapshot must still not precede applied_upto.
  Lsn d0 = std::max(decoder->decoded_upto(), ckpt.applied_upto);
  PGT_EVENT(kInfo, "bootstrap_started",
            (LogFields{{"table", name}, {"table_id", id}, {"source", sources}, {"lsn", FormatLsn(d0)}}),
            "bootstrap of ", name, " (id ", id, ") from a standby snapshot of ", sources, ", decoded up to ", FormatLsn(d0));
  obs.hub.live().BootstrapStarted(name);
  Status st = BootstrapTracked(id, name, std::move(table), d0);
  if (!st.ok()) {
    obs.hub.live().BootstrapEnded(false);
    for (Oid r : unmirrored)
      if (!mirrors.count(r) && !SourceInUse(r)) resolver->Untrack(r);   // nothing reads it: do not decode it
  }
  return st;
}

namespace {
// Columns added after a mirror was loaded are NULL in its older rows: exact only when the added
// column has no default (no attmissingval).
Status CheckMirrorCovers(const SourceSpec& spec, const SourceMirror& m, const RelationDesc* desc) {
  for (const auto& col : spec.columns) {
    if (col.attnum <= m.meta().natts) continue;
    size_t i = static_cast<size_t>(col.attnum - 1);
    if (!desc || i >= desc->attrs.size() || desc->attrs[i].has_missing)
      return Status::Unsupported("column " + col.name + " of " + spec.schema + "." + spec.name +
                                 " was added with a default after its mirror was loaded; drop every stream "
                                 "table over it (the mirror is then rebuilt) or re-create this one later");
  }
  return Status::Ok();
}
}  // namespace

Status Engine::Impl::BootstrapFromMirrors(int64_t id, const std::string& name, const std::string& sources,
                                          std::unique_ptr<StreamTable> table) {
  const Lsn cut = ckpt.applied_upto;
  for (const SourceSpec& src : table->plan().sources) {
    const SourceMirror& m = mirrors.at(src.relid);
    if (m.meta().bootstrap_lsn > cut)
      return Status::Unavailable("the mirror of " + m.meta().name + " was loaded at " + FormatLsn(m.meta().bootstrap_lsn) +
                                 ", ahead of the applied position " + FormatLsn(cut) + "; waiting for decoding to reach it");
    if (m.meta().key_attnums != src.key_attnums)
      return Status::Conflict("source " + src.schema + "." + src.name + " has a different key than its mirror");
    PGT_RETURN_IF_ERROR(CheckMirrorCovers(src, m, resolver->LookupByOid(src.relid)));
  }
  // Started only once the checks pass: a mirror ahead of the applied position is retried on
  // every poll and would log an event each time.
  PGT_EVENT(kInfo, "bootstrap_started",
            (LogFields{{"table", name}, {"table_id", id}, {"source", sources}, {"lsn", FormatLsn(cut)}}),
            "bootstrap of ", name, " (id ", id, ") from the shared source mirrors of ", sources, " at ", FormatLsn(cut));
  obs.hub.live().BootstrapStarted(name);
  Status st = LoadFromMirrors(id, cut, table.get());
  obs.hub.live().BootstrapEnded(st.ok());
  PGT_RETURN_IF_ERROR(st);
  TableRuntime& rt = tables[id];
  rt.table = std::move(table);
  rt.last_merge = Clock::now() - std::chrono::hours(1);   // first merge right away
  return Status::Ok();
}

// Loads the table's circuit from the mirrors at `cut` and registers it in the store.
Status Engine::Impl::LoadFromMirrors(int64_t id, Lsn cut, StreamTable* table) {
  const std::string& name = table->meta().name;
  Status st;
  StreamTable::ForEachStatePrefix(id, [&](Cf cf, const std::string& p) { if (st.ok()) st = ClearForLoad(store.get(), cf, p); });
  PGT_RETURN_IF_ERROR(st);
  BootstrapLoader loader(store.get(), table, BulkDir(id), &obs.hub.live(), 0);
  for (const SourceSpec& src : table->plan().sources) {
    PGT_RETURN_IF_ERROR(mirrors.at(src.relid).ForEachRow(store.get(), [&](const Row& row) -> Status {
      return loader.Add(src.relid, nullptr, row);
    }));
  }
  PGT_RETURN_IF_ERROR(loader.Finish());
  Batch b(store.get());
  table->meta().bootstrap_lsn = cut;
  b.Put(Cf::kMeta, TableMetaKey(id), table->meta().Encode());
  PGT_RETURN_IF_ERROR(store->Commit(&b));
  const int64_t nrows = loader.rows();
  PGT_EVENT(kInfo, "bootstrap_done",
            (LogFields{{"table", name}, {"rows", nrows}, {"lsn", FormatLsn(cut)},
                       {"rewind_lsn", FormatLsn(ckpt.restart_lsn)}, {"seconds", loader.seconds()},
                       {"rows_per_s", static_cast<int64_t>(static_cast<double>(nrows) / std::max(loader.seconds(), 1e-3))}}),
            "bootstrap of ", name, ": ", nrows, " mirror rows at ", FormatLsn(cut), " in ", loader.seconds(), " s");
  return Status::Ok();
}

Status Engine::Impl::BootstrapTracked(int64_t id, const std::string& name, std::unique_ptr<StreamTable> table, Lsn d0) {
  std::vector<SourceRead> reads;
  for (const SourceSpec& src : table->plan().sources) {
    PGT_RETURN_IF_ERROR(resolver->Track(src.relid, d0));
    const RelationDesc* desc = resolver->LookupByOid(src.relid);
    if (!desc) return Status::NotFound("source relation " + std::to_string(src.relid) + " is not on the standby");
    PGT_RETURN_IF_ERROR(CheckSourceMatchesPlan(src, *desc));
    // Read the source by what it is now (OID -> current names), not by the names in the plan.
    SourceRead rd{&src, QuoteIdent(desc->schema) + "." + QuoteIdent(desc->name), "", {}, !mirrors.count(src.relid)};
    for (const auto& c : src.columns) {
      rd.cols += (rd.cols.empty() ? "" : ", ") + QuoteIdent(desc->attrs[static_cast<size_t>(c.attnum - 1)].name);
      rd.slots.emplace_back(static_cast<size_t>(c.attnum - 1), TypeIdFromOid(c.typoid));
    }
    reads.push_back(std::move(rd));
  }

  Status st;
  StreamTable::ForEachStatePrefix(id, [&](Cf cf, const std::string& p) { if (st.ok()) st = ClearForLoad(store.get(), cf, p); });
  PGT_RETURN_IF_ERROR(st);
  for (const auto& rd : reads)
    if (rd.build_mirror) PGT_RETURN_IF_ERROR(ClearForLoad(store.get(), Cf::kMirror, SourceMirror::Prefix(rd.spec->relid)));

  // Snapshot with replay paused (step 3). The marker makes a crashed engine resume replay.
  PGT_ASSIGN_OR_RETURN(auto snap, PgConn::Connect(opts.standby_conninfo, "standby snapshot"));
  {
    Batch b(store.get());
    b.Put(Cf::kMeta, kPauseMarker, "1");
    PGT_RETURN_IF_ERROR(store->Commit(&b));
  }
  auto take_snapshot = [&]() -> Result<Lsn> {
    // Never pause replay on a primary (e.g. the engine's standby was promoted): wait for a hot
    // standby instead.
    PGT_ASSIGN_OR_RETURN(PgRows rec, standby->Query("SELECT pg_is_in_recovery()"));
    if (rec.at(0, 0).value_or("f") != "t")
      return Status::Unavailable("the --standby server is not in recovery (promoted?): a snapshot needs a hot standby");
    PGT_RETURN_IF_ERROR(standby->Exec("SELECT pg_wal_replay_pause()"));
    for (int i = 0;; ++i) {
      PGT_ASSIGN_OR_RETURN(PgRows s, standby->Query("SELECT pg_get_wal_replay_pause_state()"));
      if (s.at(0, 0).value_or("") == "paused") break;
      if (i > 1000) return Status::Unavailable("standby replay did not pause within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    PGT_RETURN_IF_ERROR(snap->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    PGT_ASSIGN_OR_RETURN(PgRows r, snap->Query("SELECT pg_last_wal_replay_lsn()::text"));
    return ParseLsn(r.at(0, 0).value_or(""));
  };
  auto r_lsn = take_snapshot();
  Status resumed = ResumeReplayIfWePaused();
  PGT_RETURN_IF_ERROR(r_lsn.status());
  if (!resumed.ok()) return Status::Unavailable("could not resume standby replay: " + resumed.message());
  Lsn r = *r_lsn;
  if (r < d0)   // e.g. the standby restarted and replays from further back: try again later
    return Status::Unavailable("snapshot LSN " + FormatLsn(r) + " precedes the applied position " + FormatLsn(d0));

  // No loader runs now (at most one job, and a load from the mirrors is done within its poll):
  // files left by one that crashed go.
  std::error_code ec;
  std::filesystem::remove_all(BulkDir(), ec);
  // Steps 4-6 on the bootstrap's own thread (bootstrap_job.h): the main loop goes on meanwhile.
  auto job = std::make_unique<BootstrapJob>();
  job->id = id;
  job->name = name;
  job->table = std::move(table);
  job->reads = std::move(reads);
  job->snap = std::move(snap);
  job->cut = r;
  return StartBootstrapJob(std::move(job));
}

}  // namespace pgt::engine
