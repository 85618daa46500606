// Notices new and dropped stream tables by polling the replicated catalog on the standby.
#include <nlohmann/json.hpp>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

std::string TableMetaKey(int64_t id);
std::string InflightKey(int64_t id);

Status Engine::Impl::PollCatalog() {
  PGT_RETURN_IF_ERROR(ResumeReplayIfWePaused());   // retried until it succeeds
  PGT_RETURN_IF_ERROR(PollBootstrapJob());         // bootstrap_job.cc: a finished load is registered
  if (!standby || !standby->healthy()) {
    auto c = PgConn::Connect(opts.standby_conninfo, "standby");
    if (!c.ok()) {
      Condition("standby", "no standby for catalog reads: " + c.status().message() +
                               " (new stream tables wait; decoding continues from any WAL source)");
      return Status::Ok();
    }
    standby = std::move(c).value();
    ClearCondition("standby", "catalog reads from the standby " + HostsLabel(opts.standby_conninfo) + " again");
  }
  PGT_RETURN_IF_ERROR(FollowGenerations());        // control.cc: re-planned tables start over
  auto r = standby->Query(
      "SELECT id, name, plan::text, (EXTRACT(EPOCH FROM schedule) * 1000)::bigint, sla_tier, status "
      "FROM pgtrickle.pgt_stream_tables ORDER BY id");
  if (!r.ok()) return r.status();   // e.g. extension not created yet: keep what we have
  std::set<int64_t> present;
  for (const auto& row : r->rows) {
    int64_t id = std::stoll(*row[0]);
    present.insert(id);
    auto it = tables.find(id);
    if (it != tables.end()) {
      it->second.schedule_ms = row[3] ? std::max<int64_t>(std::stoll(*row[3]), 1) : 5000;
      it->second.sla_tier = row[4].value_or("standard");
      continue;
    }
    if (failed.count(id)) continue;
    if (row[5] && *row[5] == "RESTORING") continue;   // restored, not re-planned yet (extension restore.c)
    if (!decoder->consistent()) {
      if (waiting_logged.insert(id).second)
        PGT_LOG_INFO("stream table ", *row[1], " waits for the WAL decoder to reach a consistent point "
                     "(every transaction open when decoding started must end first)");
      continue;
    }
    TableMeta meta;
    meta.id = id;
    meta.name = *row[1];
    meta.plan_json = row[2].value_or("");
    // The storage table may hold rows already (restored by pg_restore, or kept by a re-plan):
    // the first merge replaces its contents.
    meta.replace_on_merge = true;
    Status st = Bootstrap(std::move(meta));
    if (!st.ok()) {
      if (st.code() == Status::Code::kUnavailable) {   // logged once per reason, retried each poll
        Condition("bootstrap:" + *row[1], "bootstrap of " + *row[1] + " postponed: " + st.message());
        continue;
      }
      ClearCondition("bootstrap:" + *row[1]);
      MarkError(id, st.WithContext("bootstrap of " + *row[1]));
      continue;
    }
    auto nt = tables.find(id);
    if (nt != tables.end()) {
      nt->second.schedule_ms = row[3] ? std::max<int64_t>(std::stoll(*row[3]), 1) : 5000;
      nt->second.sla_tier = row[4].value_or("standard");
    }
  }
  for (auto& [id, t] : tables) {
    if (failed.count(id) || !t.table->meta().needs_rebootstrap || !decoder->consistent()) continue;
    Status st = Rebootstrap(t);
    if (!st.ok()) {
      if (st.code() == Status::Code::kUnavailable)
        Condition("bootstrap:" + t.table->meta().name, "re-bootstrap of " + t.table->meta().name + " postponed: " + st.message());
      else MarkError(id, st.WithContext("re-bootstrap of " + t.table->meta().name));
    }
  }
  if (boot_job && !present.count(boot_job->id)) StopBootstrapJob("the stream table was dropped");
  std::vector<int64_t> gone;
  for (auto& [id, t] : tables) if (!present.count(id)) gone.push_back(id);
  for (int64_t id : failed) if (!present.count(id)) gone.push_back(id);
  for (int64_t id : gone) PGT_RETURN_IF_ERROR(DropTable(id));
  return FollowUpstreamCatalog();   // upstreams.cc
}

// A table whose state cannot be continued (TRUNCATE or rewrite of a source: its mirror was
// dropped; a merge lost on a new primary; state of an older format): bootstrap it again — from
// the mirrors when they all exist, else from a standby snapshot (bootstrap.cc). The next merge
// replaces the stream table's contents; its frontier continues from the last merge.
Status Engine::Impl::Rebootstrap(TableRuntime& t) {
  WaitForMerge(t.table->meta().id);   // its outcome first: the bootstrap rewrites pending
  TableMeta meta = t.table->meta();
  meta.needs_rebootstrap = false;
  meta.replace_on_merge = true;
  meta.bootstrap_lsn = 0;
  return Bootstrap(std::move(meta));
}

Status Engine::Impl::DropTable(int64_t id) {
  WaitForMerge(id);
  if (boot_job && boot_job->id == id) StopBootstrapJob("the stream table was dropped or re-planned");
  PGT_RETURN_IF_ERROR(CommitBatch());
  std::vector<Oid> relids;
  auto it = tables.find(id);
  if (it != tables.end()) {
    relids = it->second.table->source_relids();
    PGT_LOG_INFO("stream table ", it->second.table->meta().name, " was dropped; removing its state");
    tables.erase(it);
  }
  failed.erase(id);
  Status st;
  StreamTable::ForEachStatePrefix(id, [&](Cf cf, const std::string& prefix) {
    if (st.ok()) st = store->DeletePrefix(cf, prefix);
  });
  PGT_RETURN_IF_ERROR(st);
  Batch b(store.get());
  b.Delete(Cf::kMeta, TableMetaKey(id));
  b.Delete(Cf::kMeta, InflightKey(id));
  b.Delete(Cf::kMeta, "generation/" + TablePrefix(id));   // control.cc
  PGT_RETURN_IF_ERROR(store->Commit(&b));
  for (Oid relid : relids) PGT_RETURN_IF_ERROR(DropMirrorIfUnused(relid));
  return Status::Ok();
}

}  // namespace pgt::engine
