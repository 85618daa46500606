// DDL on sources, followed from the WAL (issue 12). The decoder reports relcache invalidations
// of tracked tables at their commit (DecoderOptions::collect_invalidations); the engine then
// describes the table again, after the standby has replayed that commit (SqlCatalogResolver::
// Track waits for replay >= the commit's end LSN), before any later record is decoded: Next()
// returns a transaction at its commit record, so the records after it are read with the new
// descriptor.
//
//  - Same relfilenode (ADD COLUMN, DROP of an unused column, renames, indexes, VACUUM, ANALYZE):
//    the new descriptor is all; no re-snapshot.
//  - New relfilenode (VACUUM FULL, CLUSTER, a rewriting ALTER TABLE, SET LOGGED): the rewriting
//    transaction may also have written rows to the new file before its commit, which were read
//    while that file was still unknown (and skipped). The engine cannot tell those rows from
//    the rewrite's own copies, so, like TRUNCATE, the stream tables reading the source are
//    bootstrapped again (the next merge replaces their contents; frontiers continue).
// The descriptor read is the standby's current one, which may already include a later DDL of
// the same table (one more invalidation follows for it): see extension/README.md.
#include <thread>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

Status Engine::Impl::FollowInvalidations() {
  for (const RelationInvalidation& inv : decoder->TakeInvalidations()) {
    const RelationDesc* before = resolver->LookupByOid(inv.relid);
    if (before == nullptr) continue;
    const RelFileLocator old_loc = before->locator;
    const size_t old_attrs = before->attrs.size();
    Status st = resolver->Track(inv.relid, inv.end_lsn);
    for (int attempt = 0; attempt < 3 && st.code() == Status::Code::kUnavailable; ++attempt) {
      PGT_LOG_WARN("re-describing table ", inv.relid, " after its DDL at ", FormatLsn(inv.commit_lsn), ": ",
                   st.message(), " (retrying)");
      st = resolver->Track(inv.relid, inv.end_lsn);
    }
    if (!st.ok()) return st.WithContext("re-describing source table " + std::to_string(inv.relid));
    const RelationDesc* now = resolver->LookupByOid(inv.relid);
    if (now == nullptr) continue;
    if (now->locator == old_loc) {
      if (now->attrs.size() != old_attrs)
        PGT_LOG_INFO("source ", now->schema, ".", now->name, " changed at ", FormatLsn(inv.commit_lsn),
                     ": ", now->attrs.size(), " attribute(s), was ", old_attrs);
      continue;
    }
    for (auto& [id, t] : tables) {
      if (failed.count(id) || t.table->meta().needs_rebootstrap || t.table->source_relid() != inv.relid) continue;
      if (inv.end_lsn <= TableApplied(t)) continue;   // already bootstrapped past the rewrite
      PGT_LOG_INFO("source of ", t.table->meta().name, " was rewritten at ", FormatLsn(inv.commit_lsn),
                   " (new relfilenode ", now->locator.rel_number, "); the stream table will be bootstrapped again");
      t.table->meta().needs_rebootstrap = true;
      PGT_RETURN_IF_ERROR(SaveTableMeta(batch.get(), t));
    }
  }
  return Status::Ok();
}

}  // namespace pgt::engine

namespace pgt::engine {

// Decoding stopped (e.g. "tuple ... has 9 attributes, descriptor has 8": a column was added and
// the decoder read the new rows before the ALTER's invalidation was taken). Describe every
// source again from the standby's current catalog before decoding restarts at the checkpoint:
// older tuples with fewer attributes decode fine with the newer descriptor (missing attributes
// take their default, as in PostgreSQL). A source whose relfilenode changed meanwhile is
// bootstrapped again, since the restart re-reads records of its old file.
Status Engine::Impl::RedescribeSources() {
  std::set<Oid> relids;
  for (auto& [id, t] : tables)
    if (!failed.count(id)) relids.insert(t.table->source_relid());
  for (Oid relid : relids) {
    const RelationDesc* before = resolver->LookupByOid(relid);
    if (before == nullptr) continue;
    const RelFileLocator old_loc = before->locator;
    PGT_RETURN_IF_ERROR(resolver->Track(relid, kInvalidLsn));
    const RelationDesc* now = resolver->LookupByOid(relid);
    if (now == nullptr || now->locator == old_loc) continue;
    Batch b(store.get());
    for (auto& [id, t] : tables) {
      if (failed.count(id) || t.table->source_relid() != relid || t.table->meta().needs_rebootstrap) continue;
      PGT_LOG_INFO("source of ", t.table->meta().name, " has a new relfilenode; the stream table will be bootstrapped again");
      t.table->meta().needs_rebootstrap = true;
      PGT_RETURN_IF_ERROR(SaveTableMeta(&b, t));
    }
    PGT_RETURN_IF_ERROR(store->Commit(&b));
  }
  return Status::Ok();
}

}  // namespace pgt::engine
