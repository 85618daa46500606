// The snapshot bootstrap's thread, its catch-up log and its completion; see bootstrap_job.h.
#include "bootstrap_job.h"

#include "bulk/bootstrap_loader.h"
#include "bulk/copy_binary.h"
#include "engine_impl.h"
#include "log.h"
#include "values/codec.h"
#include "values/text_io.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);

std::string CatchupPrefix(int64_t id) { return TablePrefix(id) + "\x03"; }

namespace {
constexpr size_t kReplayChunk = 10000;

// Record: type ('C' change of a mirror being built, 'R' rows of an existing mirror), kind,
// BE32 relid, BE64 lsn, then the old and the new row, each a flag byte and, if present,
// BE32 length + EncodeRow.
void PutOptRow(std::string* out, const std::optional<Row>& r) {
  out->push_back(r ? 1 : 0);
  if (!r) return;
  std::string enc;
  values::EncodeRow(*r, &enc);
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<char>((enc.size() >> s) & 0xff));
  out->append(enc);
}

Result<std::optional<Row>> GetOptRow(std::string_view* in) {
  if (in->empty()) return Status::Corruption("catch-up log record truncated");
  bool present = (*in)[0];
  in->remove_prefix(1);
  if (!present) return std::optional<Row>();
  if (in->size() < 4) return Status::Corruption("catch-up log record truncated");
  size_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>((*in)[static_cast<size_t>(i)]);
  in->remove_prefix(4);
  if (in->size() < n) return Status::Corruption("catch-up log record truncated");
  PGT_ASSIGN_OR_RETURN(Row r, values::DecodeRow(in->substr(0, n)));
  in->remove_prefix(n);
  return std::optional<Row>(std::move(r));
}

struct Record {
  char type;
  Change change;   // relid, kind, lsn; rows as recorded
};

Result<Record> DecodeRecord(std::string_view in) {
  if (in.size() < 14) return Status::Corruption("catch-up log record too short");
  Record rec;
  rec.type = in[0];
  rec.change.kind = static_cast<ChangeKind>(in[1]);
  rec.change.relid = 0;
  for (size_t i = 2; i < 6; ++i) rec.change.relid = (rec.change.relid << 8) | static_cast<uint8_t>(in[i]);
  rec.change.lsn = ReadBE64(in.substr(6, 8));
  in.remove_prefix(14);
  PGT_ASSIGN_OR_RETURN(rec.change.old_row, GetOptRow(&in));
  PGT_ASSIGN_OR_RETURN(rec.change.new_row, GetOptRow(&in));
  if (!in.empty()) return Status::Corruption("catch-up log record has trailing bytes");
  return rec;
}

std::string EncodeRecord(char type, const Change& c, const std::optional<Row>& old_row, const std::optional<Row>& new_row) {
  std::string v;
  v.push_back(type);
  v.push_back(static_cast<char>(c.kind));
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<char>((c.relid >> s) & 0xff));
  AppendBE64(&v, c.lsn);
  PutOptRow(&v, old_row);
  PutOptRow(&v, new_row);
  return v;
}

// The sources' row estimate (reltuples, replicated from the primary's ANALYZE), for progress.
Result<int64_t> ExpectedRows(PgConn* snap, const std::vector<SourceRead>& reads) {
  std::string oids;
  for (const auto& rd : reads) oids += (oids.empty() ? "" : ",") + std::to_string(rd.spec->relid);
  PGT_ASSIGN_OR_RETURN(PgRows r, snap->QueryParams(
      "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM pg_class WHERE oid = ANY($1::oid[])",
      {"{" + oids + "}"}));
  return std::stoll(r.at(0, 0).value_or("0"));
}

// Reads one source in the snapshot into the loader (and `mirror`): binary COPY, decoded straight
// into values (bulk/copy_binary.h); text COPY when a column's type has no binary decoder (its
// text input then names the type). Returns whether binary was used.
Result<bool> CopySource(PgConn* snap, const SourceRead& rd, SourceMirror* mirror, BootstrapLoader* loader) {
  const SourceSpec& src = *rd.spec;
  bool binary = true;
  std::vector<TypeId> types;
  for (const auto& [slot, type] : rd.slots) {
    types.push_back(type);
    binary &= BinaryCopySupports(type);
  }
  Row row(static_cast<size_t>(src.natts), Value::Null(TypeId::kUnknown));
  const std::string select = "COPY (SELECT " + rd.cols + " FROM ONLY " + rd.qualified + ") TO STDOUT";
  if (binary) {
    BinaryCopyReader reader(types);
    auto on_row = [&](Row& vals) -> Status {
      // Swapped, not copied: both sides keep their string capacity for the next row.
      for (size_t i = 0; i < rd.slots.size(); ++i) std::swap(row[rd.slots[i].first], vals[i]);
      return loader->Add(src.relid, mirror, row);
    };
    PGT_RETURN_IF_ERROR(snap->CopyOut(select + " WITH (FORMAT binary)",
                                      [&](std::string_view msg) { return reader.Feed(msg, on_row); }, /*keep_newline=*/true));
    PGT_RETURN_IF_ERROR(reader.Finish());
    return true;
  }
  PGT_RETURN_IF_ERROR(snap->CopyOut(select, [&](std::string_view line) -> Status {
    PGT_ASSIGN_OR_RETURN(auto fields, values::SplitCopyTextLine(line));
    if (fields.size() != rd.slots.size()) return Status::Corruption("snapshot row with wrong column count");
    for (size_t i = 0; i < rd.slots.size(); ++i) {
      if (!fields[i]) { row[rd.slots[i].first] = Value::Null(rd.slots[i].second); continue; }
      PGT_ASSIGN_OR_RETURN(row[rd.slots[i].first], values::ParseText(rd.slots[i].second, *fields[i]));
    }
    return loader->Add(src.relid, mirror, row);
  }));
  return false;
}

// The thread: every source in the one snapshot, through the circuit (bulk/bootstrap_loader.h).
// Touches only the job, the store (RocksDB is thread-safe; the keys are the new table's and
// the new mirrors', which nothing else reads or writes meanwhile) and the live counters.
void RunJob(BootstrapJob* job, StateStore* store, LiveProgress* live, std::string bulk_dir) {
  Status st = [&]() -> Status {
    BootstrapLoader loader(store, job->table.get(), bulk_dir, live, job->expected_rows);
    loader.set_cancel(&job->cancel);
    for (const auto& rd : job->reads) {
      const SourceSpec& src = *rd.spec;
      // The relation read in the snapshot must be the one tracked (not renamed or re-created since).
      PGT_ASSIGN_OR_RETURN(PgRows same, job->snap->QueryParams("SELECT to_regclass($1)::oid = $2::oid",
                                                               {rd.qualified, std::to_string(src.relid)}));
      if (same.at(0, 0).value_or("f") != "t")
        return Status::Conflict("source " + rd.qualified + " is no longer relation " + std::to_string(src.relid));
      std::optional<SourceMirror> mirror;
      if (rd.build_mirror)
        mirror.emplace(MirrorMeta{src.relid, src.schema + "." + src.name, src.key_attnums, src.natts, job->cut});
      PGT_ASSIGN_OR_RETURN(bool bin, CopySource(job->snap.get(), rd, mirror ? &*mirror : nullptr, &loader));
      job->binary &= bin;
    }
    PGT_RETURN_IF_ERROR(job->snap->Exec("COMMIT"));
    PGT_RETURN_IF_ERROR(loader.Finish());
    job->rows = loader.rows();
    job->seconds = loader.seconds();
    return Status::Ok();
  }();
  job->snap.reset();   // ends the snapshot (also after an error)
  job->result = st;
  job->done = true;
}
}  // namespace

Status Engine::Impl::StartBootstrapJob(std::unique_ptr<BootstrapJob> job) {
  PGT_ASSIGN_OR_RETURN(job->expected_rows, ExpectedRows(job->snap.get(), job->reads));
  for (const auto& rd : job->reads) {
    job->relids.insert(rd.spec->relid);
    if (rd.build_mirror) job->building.insert(rd.spec->relid);
  }
  // Transactions still open at the start may have touched a source before it was tracked:
  // decode them again from their first record (step 6 in bootstrap.cc). Their changes ending
  // after the cut are captured for the new table; the others skip what they applied.
  job->rewind = decoder->restart_lsn();
  if (job->rewind < decoder->decoded_upto()) {
    Status rs = decoder->Start(job->rewind, 0, true);
    if (!rs.ok()) {   // restarts from the committed checkpoint, which is not past the rewind
      PGT_LOG_ERROR("rewinding the decoder failed: ", rs.message());
      restart_decoder = true;
    }
  }
  BootstrapJob* raw = job.get();
  raw->pg_cancel = PQgetCancel(raw->snap->raw());
  boot_job = std::move(job);
  raw->thread = std::thread(RunJob, raw, store.get(), &obs.hub.live(), BulkDir(raw->id));
  return Status::Ok();
}

void Engine::Impl::CaptureForBootstrap(const Transaction& txn, const Change& c, const Status* mirror_status,
                                       const std::optional<Row>* old_row, const std::optional<Row>* new_row) {
  BootstrapJob* job = boot_job.get();
  if (!job || !job->relids.count(c.relid) || txn.end_lsn <= std::max(job->cut, ckpt.applied_upto)) return;
  if (mirror_status && !mirror_status->ok()) {   // the new table could not apply it either
    if (job->cancel_reason.empty()) job->cancel_reason = "error:" + mirror_status->message();
    job->Cancel();
    return;
  }
  if (!mirror_status && !job->building.count(c.relid)) return;   // no mirror, and not one built here
  std::string k = CatchupPrefix(job->id);
  AppendBE64(&k, job->next_seq++);
  batch->Put(Cf::kMirror, k, mirror_status ? EncodeRecord('R', c, *old_row, *new_row)
                                           : EncodeRecord('C', c, c.old_row, c.new_row));
  ++job->logged;
}

void Engine::Impl::CancelBootstrapReading(Oid relid, const std::string& why, Lsn end_lsn) {
  if (!boot_job || !boot_job->relids.count(relid)) return;
  if (end_lsn <= std::max(boot_job->cut, ckpt.applied_upto)) return;   // in the snapshot already
  if (boot_job->cancel_reason.empty()) boot_job->cancel_reason = why;
  boot_job->Cancel();
}

// Stops the job (if any) and forgets it; nothing of it was registered.
void Engine::Impl::StopBootstrapJob(const std::string& why) {
  if (!boot_job) return;
  boot_job->Cancel();
  if (boot_job->thread.joinable()) boot_job->thread.join();
  PGT_LOG_INFO("bootstrap of ", boot_job->name, " stopped: ", why, "; it starts over at a later catalog poll");
  DiscardBootstrapJob();
}

void Engine::Impl::DiscardBootstrapJob() {
  std::unique_ptr<BootstrapJob> job = std::move(boot_job);
  obs.hub.live().BootstrapEnded(false);
  for (Oid r : job->building)
    if (!mirrors.count(r) && !SourceInUse(r)) resolver->Untrack(r);   // nothing reads it: do not decode it
}

// Called on every catalog poll: completes a finished job (replay, register) or handles its end.
Status Engine::Impl::PollBootstrapJob() {
  if (!boot_job || !boot_job->done) return Status::Ok();
  boot_job->thread.join();
  BootstrapJob& job = *boot_job;
  Status st = job.result;   // a cancelled job's result is whatever the cancel made the COPY say
  if (job.cancel) {
    const std::string& why = job.cancel_reason;
    st = why.rfind("error:", 0) == 0 ? Status::Corruption(why.substr(6))
                                     : Status::Unavailable(why.empty() ? "cancelled" : why);
  }
  if (st.ok()) st = CompleteBootstrapJob();
  if (st.ok()) return Status::Ok();
  const int64_t id = job.id;
  const std::string name = job.name;
  DiscardBootstrapJob();
  if (st.code() == Status::Code::kUnavailable) {
    PGT_LOG_INFO("bootstrap of ", name, " will start over: ", st.message());
    return Status::Ok();
  }
  MarkError(id, st.WithContext("bootstrap of " + name));
  return Status::Ok();
}

// Replays the catch-up log after the snapshot rows and registers the table and its new mirrors.
Status Engine::Impl::CompleteBootstrapJob() {
  BootstrapJob& job = *boot_job;
  PGT_RETURN_IF_ERROR(CommitBatch());   // every captured record is durable; applied_upto = A
  StreamTable* table = job.table.get();
  std::map<Oid, SourceMirror> built;
  for (const auto& rd : job.reads) {
    if (!rd.build_mirror) continue;
    built.emplace(rd.spec->relid, SourceMirror(MirrorMeta{rd.spec->relid, rd.spec->schema + "." + rd.spec->name,
                                                          rd.spec->key_attnums, rd.spec->natts, job.cut}));
  }
  Batch b(store.get());
  size_t n = 0;
  Status replay;
  PGT_RETURN_IF_ERROR(store->Scan(Cf::kMirror, CatchupPrefix(job.id), [&](std::string_view, std::string_view v) {
    replay = [&]() -> Status {
      PGT_ASSIGN_OR_RETURN(Record rec, DecodeRecord(v));
      std::optional<Row> old_row = std::move(rec.change.old_row), new_row = std::move(rec.change.new_row);
      if (rec.type == 'C') {
        auto it = built.find(rec.change.relid);
        if (it == built.end()) return Status::Corruption("catch-up log: a change of a source without a new mirror");
        Change c = rec.change;
        c.old_row = std::move(old_row);
        c.new_row = std::move(new_row);
        PGT_RETURN_IF_ERROR(it->second.Apply(&b, c, &old_row, &new_row));
      }
      PGT_RETURN_IF_ERROR(table->ApplySourceDelta(&b, rec.change.relid, old_row, new_row));
      if (++n % kReplayChunk == 0) {
        PGT_RETURN_IF_ERROR(table->FinishBatch(&b));
        PGT_RETURN_IF_ERROR(store->Commit(&b));
      }
      return Status::Ok();
    }();
    return replay.ok();
  }));
  PGT_RETURN_IF_ERROR(replay);
  PGT_RETURN_IF_ERROR(table->FinishBatch(&b));
  // Register (table and new mirrors) in one commit: their state is the state at applied_upto.
  table->meta().bootstrap_lsn = job.cut;
  b.Put(Cf::kMeta, TableMetaKey(job.id), table->meta().Encode());
  for (auto& [relid, m] : built) b.Put(Cf::kMeta, SourceMirror::MetaKey(relid), m.meta().Encode());
  PGT_RETURN_IF_ERROR(store->Commit(&b));
  for (auto& [relid, m] : built) {
    mirrors.erase(relid);
    mirrors.emplace(relid, std::move(m));
  }
  (void)store->DeletePrefix(Cf::kMirror, CatchupPrefix(job.id));   // a leftover is wiped with the table
  TableRuntime& rt = tables[job.id];
  rt.table = std::move(job.table);
  rt.last_merge = Clock::now() - std::chrono::hours(1);   // first merge right away
  obs.hub.live().BootstrapRows(job.rows);
  obs.hub.live().BootstrapEnded(true);
  // The loop pass that registers the table also merges it first: publish right after that
  // (as after a bootstrap on the main thread), not up to 250 ms later.
  obs.last_publish = {};
  PGT_EVENT(kInfo, "bootstrap_done",
            (LogFields{{"table", job.name}, {"rows", job.rows}, {"lsn", FormatLsn(job.cut)}, {"rewind_lsn", FormatLsn(job.rewind)},
                       {"seconds", job.seconds},
                       {"rows_per_s", static_cast<int64_t>(static_cast<double>(job.rows) / std::max(job.seconds, 1e-3))},
                       {"copy_format", job.binary ? "binary" : "text"}, {"caught_up", static_cast<int64_t>(n)},
                       {"applied_lsn", FormatLsn(ckpt.applied_upto)}}),
            "bootstrap of ", job.name, ": ", job.rows, " rows at snapshot LSN ", FormatLsn(job.cut), " in ", job.seconds,
            " s (", job.binary ? "binary" : "text", " COPY), then ", n, " source change(s) up to ",
            FormatLsn(ckpt.applied_upto), " applied from the catch-up log");
  boot_job.reset();
  return Status::Ok();
}

}  // namespace pgt::engine
