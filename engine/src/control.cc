// Control from the primary (extension 0.2.0, issue 12): extension version check at attach,
// pg_trickle.enabled, paused tables, refresh requests, plan generations, progress report for
// backpressure. Everything here reads the primary except FollowGenerations (the standby, like
// the rest of the catalog: a new plan must be bootstrapped from a replica that has it).
//
//  - Versions: this engine runs against extension 0.1.0 (the 0.2.0 features are off: no pause,
//    no refresh requests, no generations) and 0.2.0; anything else is refused at attach, naming
//    both versions. ALTER EXTENSION ... UPDATE while the engine runs is noticed within 100 ms.
//  - pg_trickle.enabled = off: no merges at all; decoding, state and the heartbeat continue, so
//    turning it on again merges the backlog (pending rows are final values: nothing is lost).
//  - Refresh requests: refresh_stream_table(wait => true) holds a session advisory lock
//    (classid 0x70677472, objid = table id) while it waits; wait => false sets
//    refresh_requested_at. A requested table is merged as soon as anything new is decoded.
#include <algorithm>
#include <sstream>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);

namespace {
constexpr char kRefreshLockKey[] = "1885828210";   // 0x70677472 ("pgtr"), api_refresh.c
constexpr auto kControlPeriod = std::chrono::milliseconds(100);

std::string GenerationKey(int64_t id) { return "generation/" + TablePrefix(id); }

std::set<int64_t> ParseIds(const std::optional<std::string>& csv) {
  std::set<int64_t> ids;
  if (!csv) return ids;
  std::stringstream ss(*csv);
  std::string tok;
  while (std::getline(ss, tok, ',')) if (!tok.empty()) ids.insert(std::stoll(tok));
  return ids;
}
}  // namespace

const char* EngineVersion() { return "0.2.0"; }

Status Engine::Impl::CheckExtensionVersion() {
  PGT_ASSIGN_OR_RETURN(PgRows r, primary->Query("SELECT extversion FROM pg_extension WHERE extname = 'pg_trickle'"));
  if (r.rows.empty() || !r.at(0, 0))
    return Status::Unavailable("primary: extension pg_trickle is not installed (CREATE EXTENSION pg_trickle)");
  const std::string& v = *r.at(0, 0);
  if (v != "0.1.0" && v != "0.2.0")
    return Status::InvalidArgument(std::string("pgtrickle-engine ") + EngineVersion() +
                                   " cannot run against extension pg_trickle " + v +
                                   " (this engine supports extension versions 0.1.0 and 0.2.0); "
                                   "install the engine that matches the extension, or ALTER EXTENSION pg_trickle "
                                   "UPDATE TO a supported version");
  if (v != ext_version) PGT_LOG_INFO("extension pg_trickle ", v, " on the primary (engine ", EngineVersion(), ")");
  ext_version = v;
  catalog_v2 = v == "0.2.0";
  if (catalog_v2) {
    PGT_RETURN_IF_ERROR(primary->QueryParams(
        "UPDATE pgtrickle.pgt_engine SET engine_version = $1, attached_at = now() WHERE id = 1 AND epoch = $2",
        {std::string(EngineVersion()), std::to_string(epoch)}).status());
  }
  return Status::Ok();
}

Status Engine::Impl::PollControl() {
  // No primary attached (lost, or none passed the lineage check yet): keep the last settings;
  // PrimaryReady() resolves one with backoff before anything is merged.
  if (!primary || !primary->healthy()) return Status::Ok();
  auto now = Clock::now();
  if (now - last_control < kControlPeriod) return Status::Ok();
  last_control = now;
  std::string sql =
      "SELECT current_setting('pg_trickle.enabled', true), "
      "(SELECT extversion FROM pg_extension WHERE extname = 'pg_trickle'), "
      "current_setting('pg_trickle.max_parallel_workers', true)";
  if (catalog_v2)
    sql += ", (SELECT string_agg(objid::text, ',') FROM pg_locks "
           "WHERE locktype = 'advisory' AND classid = " + std::string(kRefreshLockKey) + " AND objsubid = 2 "
           "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())), "
           "(SELECT string_agg(id::text, ',') FROM pgtrickle.pgt_stream_tables WHERE paused), "
           "(SELECT string_agg(id::text, ',') FROM pgtrickle.pgt_stream_tables WHERE refresh_requested_at IS NOT NULL), "
           "pg_current_wal_insert_lsn()::text";
  auto r = primary->Query(sql);
  if (!r.ok()) return r.status();   // the merge path notices a broken connection too
  const auto& row = r->rows.at(0);
  bool enabled = !row[0] || (*row[0] != "off" && *row[0] != "false" && *row[0] != "0");
  if (enabled != merges_enabled)
    PGT_LOG_INFO("pg_trickle.enabled = ", enabled ? "on: merging again" : "off: merges stop (decoding continues)");
  merges_enabled = enabled;
  if (row[1].value_or("") != ext_version) PGT_RETURN_IF_ERROR(CheckExtensionVersion());
  int workers = 4;
  if (row[2]) try { workers = std::clamp(std::stoi(*row[2]), 1, 1024); } catch (...) {}
  if (workers != max_parallel) PGT_LOG_INFO("pg_trickle.max_parallel_workers = ", workers);
  max_parallel = workers;
  if (catalog_v2 && row.size() >= 7) {
    refresh_requested = ParseIds(row[3]);
    paused = ParseIds(row[4]);
    // wait => false requests: served once merged past the WAL position at which we saw them
    // (every transaction committed before the request ends before it).
    auto insert_lsn = ParseLsn(row[6].value_or("0/0"));
    std::set<int64_t> recorded = ParseIds(row[5]);
    for (auto it = request_targets.begin(); it != request_targets.end();)
      it = recorded.count(it->first) ? std::next(it) : request_targets.erase(it);
    for (int64_t id : recorded) {
      refresh_requested.insert(id);
      if (insert_lsn.ok()) request_targets.emplace(id, *insert_lsn);
    }
  } else {
    refresh_requested.clear();
    paused.clear();
  }
  return Status::Ok();
}

bool Engine::Impl::MergeRequested(const TableRuntime& t) {
  const TableMeta& m = t.table->meta();
  if (!refresh_requested.count(m.id)) return false;
  return !m.has_merged || std::max(decoder->decoded_upto(), TableApplied(t)) > m.merged_frontier;
}

void Engine::Impl::OnMerged(int64_t id) {
  auto target = request_targets.find(id);
  auto t = tables.find(id);
  if (!catalog_v2 || target == request_targets.end() || t == tables.end() || !primary) return;
  if (t->second.table->meta().merged_frontier < target->second) return;   // merged again later
  request_targets.erase(target);
  // A wait => false request is served by this merge; one made during it stays for the next.
  auto r = primary->QueryParams("UPDATE pgtrickle.pgt_stream_tables SET refresh_requested_at = NULL "
                                "WHERE id = $1 AND refresh_requested_at < now()", {std::to_string(id)});
  if (!r.ok()) PGT_LOG_WARN("could not clear the refresh request of table ", id, ": ", r.status().message());
}

Status Engine::Impl::ReportProgress() {
  if (!catalog_v2) return Status::Ok();
  PGT_RETURN_IF_ERROR(primary->QueryParams("SELECT pgtrickle._report_engine_lsn($1::pg_lsn)",
                                           {FormatLsn(ckpt.applied_upto)}).status());
  return primary->QueryParams(
      "UPDATE pgtrickle.pgt_engine SET timeline = $1::int, engine_version = $2 WHERE id = 1 AND epoch = $3 "
      "AND (timeline, engine_version) IS DISTINCT FROM ($1::int, $2)",
      {std::to_string(ckpt.tli), std::string(EngineVersion()), std::to_string(epoch)}).status();
}

Result<bool> Engine::Impl::GenerationMovedOnPrimary(int64_t id) {
  if (!catalog_v2) return false;
  PGT_ASSIGN_OR_RETURN(PgRows r, primary->QueryParams(
      "SELECT generation FROM pgtrickle.pgt_stream_tables WHERE id = $1", {std::to_string(id)}));
  if (r.rows.empty() || !r.at(0, 0)) return true;   // dropped: the poll cleans up
  PGT_ASSIGN_OR_RETURN(auto ours, store->Get(Cf::kMeta, GenerationKey(id)));
  return std::stoll(*r.at(0, 0)) != (ours ? std::stoll(*ours) : 1);
}

// A re-planned table (alter_stream_table(query => ...), or source DDL in rebootstrap mode):
// its state is dropped here and the catalog poll bootstraps it again from the new plan.
Status Engine::Impl::FollowGenerations() {
  if (!catalog_v2) return Status::Ok();
  auto r = standby->Query("SELECT id, generation FROM pgtrickle.pgt_stream_tables");
  if (!r.ok()) return Status::Ok();   // e.g. the standby has not replayed the update yet
  for (const auto& row : r->rows) {
    if (!row[0] || !row[1]) continue;
    int64_t id = std::stoll(*row[0]);
    const std::string& gen = *row[1];
    PGT_ASSIGN_OR_RETURN(auto ours, store->Get(Cf::kMeta, GenerationKey(id)));
    if (ours && *ours == gen) continue;
    bool known = tables.count(id) || failed.count(id);
    if (known && (ours || gen != "1")) {
      PGT_LOG_INFO("stream table id ", id, " was re-planned (generation ", ours.value_or("1"), " -> ", gen,
                   "): dropping its state, it will be bootstrapped again");
      FinishMerges(true);   // every merge connection idle: their delta tables are dropped below
      PGT_RETURN_IF_ERROR(DropTable(id));
      // The merge's temp delta table has the old output columns: drop it, forget all.
      ForEachMergeConnection([&](PgConn* c, MergeWriter* w) {
        auto r = c->Exec("DROP TABLE IF EXISTS pg_temp.pgt_delta_" + std::to_string(id));
        if (!r.ok()) PGT_LOG_WARN("dropping a stale delta table: ", r.message());
        w->ResetConnection(c);
      });
    }
    Batch b(store.get());
    b.Put(Cf::kMeta, GenerationKey(id), gen);
    PGT_RETURN_IF_ERROR(store->Commit(&b));
  }
  return Status::Ok();
}

}  // namespace pgt::engine
