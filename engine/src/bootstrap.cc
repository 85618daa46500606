// Bootstrap of a new stream table (DESIGN §6 invariant 3), with an exact LSN cut:
//
//  1. Commit the current batch; decoding has processed everything up to D0 = decoded_upto.
//  2. Track the source from D0 on: the catalog resolver waits until the standby replayed D0.
//  3. Pause replay on the standby, open a REPEATABLE READ snapshot there and read
//     R = pg_last_wal_replay_lsn() in its first statement, resume replay. With replay paused the
//     snapshot contains exactly the transactions whose commit record ends at or before R
//     (a hot standby makes a commit visible when it replays the record), so the cut is an LSN
//     cut from the start. (pg_current_snapshot() on a standby reports no in-progress xids, so
//     it cannot drive the cut there; pausing is also what makes R exact.) R >= D0.
//  4. Load the snapshot's rows through the circuit (weight +1) in chunks; the table is not
//     registered until the end, and any partial state of an interrupted bootstrap is wiped first.
//  5. Register the table with bootstrap_lsn = R: transactions ending <= R are skipped for it,
//     later ones applied.
//  6. Transactions still open at D0 may have touched the source before it was tracked: rewind
//     the decoder to the oldest first-LSN of open transactions, so they are decoded whole.
//     (Other tables skip what they already applied: their applied LSN only grows.)
#include <thread>

#include "engine_impl.h"
#include "log.h"
#include "values/text_io.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);

namespace {
constexpr char kPauseMarker[] = "replay_paused_by_engine";
constexpr size_t kChunkRows = 10000;

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
  PGT_RETURN_IF_ERROR(CommitBatch());
  const int64_t id = meta.id;
  const std::string name = meta.name;
  PGT_ASSIGN_OR_RETURN(auto table, StreamTable::Create(std::move(meta)));
  const SourceSpec& src = table->plan().sources[0];
  // D0: everything before it is decoded and applied. After a restart or a rewind the decoder
  // may be re-reading WAL below applied_upto; the snapshot must still not precede applied_upto.
  Lsn d0 = std::max(decoder->decoded_upto(), ckpt.applied_upto);
  PGT_EVENT(kInfo, "bootstrap_started",
            (LogFields{{"table", name}, {"table_id", id}, {"source", src.schema + "." + src.name}, {"lsn", FormatLsn(d0)}}),
            "bootstrap of ", name, " (id ", id, ") from ", src.schema, ".", src.name, ", decoded up to ", FormatLsn(d0));
  obs.hub.live().BootstrapStarted(name);
  const Oid relid = src.relid;   // `table` (and src) may be gone after the call
  bool was_tracked = resolver->LookupByOid(relid) != nullptr;
  Status st = BootstrapTracked(id, name, std::move(table), d0);
  obs.hub.live().BootstrapEnded(st.ok());
  if (!st.ok() && !was_tracked) {
    bool used = false;
    for (auto& [oid, t] : tables) used |= t.table->source_relid() == relid;
    if (!used) resolver->Untrack(relid);   // nothing reads it: do not decode it
  }
  return st;
}

Status Engine::Impl::BootstrapTracked(int64_t id, const std::string& name, std::unique_ptr<StreamTable> table, Lsn d0) {
  const SourceSpec& src = table->plan().sources[0];
  PGT_RETURN_IF_ERROR(resolver->Track(src.relid, d0));
  const RelationDesc* desc = resolver->LookupByOid(src.relid);
  if (!desc) return Status::NotFound("source relation " + std::to_string(src.relid) + " is not on the standby");
  PGT_RETURN_IF_ERROR(CheckSourceMatchesPlan(src, *desc));
  // Read the source by what it is now (OID -> current names), not by the names in the plan.
  const std::string qualified = QuoteIdent(desc->schema) + "." + QuoteIdent(desc->name);
  std::string cols;
  std::vector<std::pair<size_t, TypeId>> slots;
  for (const auto& c : src.columns) {
    cols += (cols.empty() ? "" : ", ") + QuoteIdent(desc->attrs[static_cast<size_t>(c.attnum - 1)].name);
    slots.emplace_back(static_cast<size_t>(c.attnum - 1), TypeIdFromOid(c.typoid));
  }

  Status st;
  StreamTable::ForEachStatePrefix(id, [&](Cf cf, const std::string& p) { if (st.ok()) st = store->DeletePrefix(cf, p); });
  PGT_RETURN_IF_ERROR(st);

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
  // The relation read in the snapshot must be the one tracked (not renamed or re-created since).
  PGT_ASSIGN_OR_RETURN(PgRows same, snap->QueryParams("SELECT to_regclass($1)::oid = $2::oid",
                                                      {qualified, std::to_string(src.relid)}));
  if (same.at(0, 0).value_or("f") != "t")
    return Status::Conflict("source " + qualified + " is no longer relation " + std::to_string(src.relid));

  // Step 4: load the snapshot through the circuit.
  std::string copy = "COPY (SELECT " + cols + " FROM ONLY " + qualified + ") TO STDOUT";
  Batch b(store.get());
  size_t nrows = 0;
  Status row_st;
  PGT_RETURN_IF_ERROR(snap->CopyOut(copy, [&](std::string_view line) -> Status {
    PGT_ASSIGN_OR_RETURN(auto fields, values::SplitCopyTextLine(line));
    if (fields.size() != slots.size()) return Status::Corruption("snapshot row with wrong column count");
    Row row(static_cast<size_t>(src.natts), Value::Null(TypeId::kUnknown));
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!fields[i]) { row[slots[i].first] = Value::Null(slots[i].second); continue; }
      PGT_ASSIGN_OR_RETURN(row[slots[i].first], values::ParseText(slots[i].second, *fields[i]));
    }
    PGT_RETURN_IF_ERROR(table->ApplySnapshotRow(&b, std::move(row)));
    if (++nrows % kChunkRows == 0) {
      PGT_RETURN_IF_ERROR(table->FinishBatch(&b));
      PGT_RETURN_IF_ERROR(store->Commit(&b));
      obs.hub.live().BootstrapRows(static_cast<int64_t>(nrows));
      if (nrows % 100000 == 0) PGT_LOG_INFO("bootstrap of ", name, ": ", nrows, " rows loaded");
    }
    return Status::Ok();
  }));
  PGT_RETURN_IF_ERROR(snap->Exec("COMMIT"));
  table->TouchGlobalGroup();
  PGT_RETURN_IF_ERROR(table->FinishBatch(&b));

  // Step 5 + 6: register and rewind in one commit.
  table->meta().bootstrap_lsn = r;
  b.Put(Cf::kMeta, TableMetaKey(id), table->meta().Encode());
  Lsn rewind = decoder->restart_lsn();
  ckpt.restart_lsn = rewind;
  b.Put(Cf::kMeta, "checkpoint", ckpt.Encode());
  PGT_RETURN_IF_ERROR(store->Commit(&b));
  TableRuntime& rt = tables[id];
  rt.table = std::move(table);
  rt.last_merge = Clock::now() - std::chrono::hours(1);   // first merge right away
  obs.hub.live().BootstrapRows(static_cast<int64_t>(nrows));
  PGT_EVENT(kInfo, "bootstrap_done",
            (LogFields{{"table", name}, {"rows", static_cast<int64_t>(nrows)}, {"lsn", FormatLsn(r)},
                       {"rewind_lsn", FormatLsn(rewind)}}),
            "bootstrap of ", name, ": ", nrows, " rows at snapshot LSN ", FormatLsn(r),
               rewind < decoder->decoded_upto() ? "; re-decoding open transactions from " + FormatLsn(rewind) : std::string());
  if (rewind < decoder->decoded_upto()) {
    Status rs = decoder->Start(rewind, 0, true);
    if (!rs.ok()) {   // the table is registered: recover through the decode-error path
      PGT_LOG_ERROR("rewinding the decoder failed: ", rs.message());
      restart_decoder = true;
    }
  }
  return Status::Ok();
}

}  // namespace pgt::engine
