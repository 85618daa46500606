// Stream tables over stream tables (a DAG of stream tables).
//
// A downstream table D reads an upstream U's storage table like any source: U's merges are
// ordinary primary transactions, so their row changes reach the engine through the WAL, are
// applied to U's shared source mirror and, as (old, new), to D's circuit — no circuit
// composition, no special apply path. The same merge transaction also updates U's row in
// pgtrickle.pgt_stream_tables (frontier), so at every WAL position the storage table holds
// exactly U's query at the frontier written in that row (row locks serialize the updates).
//
// What this file adds:
//  - while any table reads a stream table, pgt_stream_tables itself is tracked by the decoder;
//    each decoded update of an upstream's row records (commit end LSN E, frontier F);
//  - D's merge frontier (`MergeFrontier`) is the oldest F over its upstreams of the newest
//    update D has applied (bootstrap_lsn(D) < E <= applied(D)), capped by D's applied position.
//    For a table reading only stream tables that is the exact base-table cut its state reflects
//    (one upstream: D = D's query over U's query at F); it never passes an upstream's frontier.
//    Unknown (no such update yet, after a bootstrap or a restart) = D waits for its upstreams'
//    next merge, which every merge cycle of theirs writes;
//  - a failed upstream (ERROR) marks its dependants ERROR naming it; others go on.
#include <cstring>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

namespace {
constexpr size_t kSeenKept = 8;   // a few: merges may run while newer updates are decoded

int AttrIndex(const RelationDesc& d, const char* name) {
  for (size_t i = 0; i < d.attrs.size(); ++i)
    if (!d.attrs[i].dropped && d.attrs[i].name == name) return static_cast<int>(i);
  return -1;
}

bool ReadsStreamTable(const TableRuntime& t) {
  for (const SourceSpec& s : t.table->plan().sources)
    if (s.stream_table_id != 0) return true;
  return false;
}
}  // namespace

Status Engine::Impl::FollowUpstreamCatalog() {
  bool needed = false;
  for (const auto& [id, t] : tables) needed |= !failed.count(id) && ReadsStreamTable(t);
  if (!needed) {
    if (upstreams.catalog_relid != 0) {
      resolver->Untrack(upstreams.catalog_relid);
      upstreams.catalog_relid = 0;
    }
    return Status::Ok();
  }
  if (upstreams.catalog_relid != 0 && resolver->LookupByOid(upstreams.catalog_relid) != nullptr) return Status::Ok();
  if (!standby) return Status::Ok();
  PGT_ASSIGN_OR_RETURN(auto r, standby->Query("SELECT 'pgtrickle.pgt_stream_tables'::regclass::oid::text"));
  if (r.rows.size() != 1 || !r.at(0, 0)) return Status::Internal("pgtrickle.pgt_stream_tables not found");
  Oid relid = static_cast<Oid>(std::stoul(*r.at(0, 0)));
  PGT_RETURN_IF_ERROR(resolver->Track(relid, kInvalidLsn));
  const RelationDesc* d = resolver->LookupByOid(relid);
  if (d == nullptr || AttrIndex(*d, "id") < 0 || AttrIndex(*d, "frontier") < 0)
    return Status::Internal("pgtrickle.pgt_stream_tables has no id/frontier columns");
  upstreams.catalog_relid = relid;
  PGT_LOG_INFO("following pgtrickle.pgt_stream_tables (relation ", relid,
               ") in the WAL: stream tables read stream tables");
  return Status::Ok();
}

bool Engine::Impl::IsUpstreamCatalogChange(const Change& c) const {
  return upstreams.catalog_relid != 0 && c.relid == upstreams.catalog_relid;
}

void Engine::Impl::NoteUpstreamCatalogRow(const Transaction& txn, const Change& c) {
  if (!c.new_row) return;   // a deleted row: the upstream was dropped (its dependants first)
  const RelationDesc* d = resolver->LookupByOid(c.relid);
  if (d == nullptr) return;
  int id_at = AttrIndex(*d, "id"), frontier_at = AttrIndex(*d, "frontier");
  const Row& row = *c.new_row;
  if (id_at < 0 || frontier_at < 0 || static_cast<size_t>(std::max(id_at, frontier_at)) >= row.size()) return;
  const Value& idv = row[static_cast<size_t>(id_at)];
  const Value& fv = row[static_cast<size_t>(frontier_at)];
  if (idv.is_null) return;
  UpstreamSeen seen;
  seen.end_lsn = txn.end_lsn;
  if (!fv.is_null && fv.s.size() == sizeof(uint64_t)) {   // pg_lsn: a uint64 by value
    uint64_t lsn;
    std::memcpy(&lsn, fv.s.data(), sizeof lsn);
    seen.frontier = lsn;
  }
  std::lock_guard<std::mutex> lock(upstreams.mu);
  auto& q = upstreams.seen[idv.i];
  if (!q.empty() && q.back().end_lsn >= seen.end_lsn) return;   // re-decoded after a restart
  q.push_back(seen);
  while (q.size() > kSeenKept) q.pop_front();
}

std::optional<Lsn> Engine::Impl::MergeFrontier(const TableRuntime& t) {
  const Lsn applied = TableApplied(t);
  Lsn to = applied;
  std::lock_guard<std::mutex> lock(upstreams.mu);
  for (const SourceSpec& s : t.table->plan().sources) {
    if (s.stream_table_id == 0) continue;
    auto it = upstreams.seen.find(s.stream_table_id);
    if (it == upstreams.seen.end()) return std::nullopt;
    const UpstreamSeen* found = nullptr;
    for (auto r = it->second.rbegin(); r != it->second.rend(); ++r)
      if (r->end_lsn <= applied) { found = &*r; break; }
    // Older than the table's bootstrap: its snapshot may hold later upstream merges.
    if (found == nullptr || found->end_lsn <= t.table->meta().bootstrap_lsn || !found->frontier) return std::nullopt;
    to = std::min(to, *found->frontier);
  }
  return to;
}

void Engine::Impl::StopDependantsOfFailed() {
  for (bool changed = true; changed;) {   // to a fixpoint: dependants of dependants
    changed = false;
    for (auto& [id, t] : tables) {
      if (failed.count(id)) continue;
      for (const SourceSpec& s : t.table->plan().sources) {
        if (s.stream_table_id == 0 || !failed.count(s.stream_table_id)) continue;
        MarkError(id, Status::Unavailable("upstream stream table " + s.schema + "." + s.name +
                                          " is in ERROR; its dependants stop with it"));
        changed = true;
        break;
      }
    }
  }
}

void Engine::Impl::ForgetUpstreamFrontiers() {
  std::lock_guard<std::mutex> lock(upstreams.mu);
  upstreams.seen.clear();
}

}  // namespace pgt::engine
