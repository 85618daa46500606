// DDL on sources, followed from the WAL (issue 12). The decoder reports relcache invalidations
// of tracked tables at their commit (DecoderOptions::collect_invalidations); the engine then
// describes the table again, after the standby has replayed that commit (SqlCatalogResolver::
// Track waits for replay >= the commit's end LSN), before any later record is decoded: Next()
// returns a transaction at its commit record, so the records after it are read with the new
// descriptor.
//
//  - Same relfilenode (ADD COLUMN, DROP of an unused column, renames, indexes, VACUUM, ANALYZE):
//    the new descriptor is all; no re-snapshot.
//  - New relfilenode with the same columns (VACUUM FULL, CLUSTER): the rewrite's own copies are
//    not row changes in the WAL (whole pages), so the rows are unchanged and the mirror stays
//    valid: the new file is mapped from the commit on, without a re-snapshot. A rewrite that
//    changes columns (ALTER TABLE ... TYPE of an unused column) re-encodes the rows into the new
//    file through logically logged inserts: re-bootstrap. Also unless a row change
//    was read for the new file before it was mapped (DML in the rewriting transaction itself, or
//    right after its commit before the invalidation was taken): MissRecordingResolver remembers
//    every relfilenode that a row change referenced while unknown, and then, like TRUNCATE, the
//    shared mirror of the source is stale: it is dropped and every stream table reading the
//    source is bootstrapped again from a standby snapshot (mirrors.cc DropStaleMirror).
//  - Crash safety: the relfilenode each mirror corresponds to is stored with the batch
//    ("relfile/<relid>"); at startup a mirrored relation found in another file than stored (a
//    rewrite whose handling was lost with an uncommitted batch) has its mirror dropped the same way.
// All of this is per source relation (its mirror), not per stream table.
// The descriptor read is the standby's current one, which may already include a later DDL of
// the same table (one more invalidation follows for it): see extension/README.md.
#include <thread>

#include "engine_impl.h"
#include "log.h"

namespace pgt::engine {

std::string RelfileKey(Oid relid) { return "relfile/" + std::to_string(relid); }

namespace {
// A rewrite that keeps every column (VACUUM FULL, CLUSTER) copies the rows unchanged; one that
// changes a column (ALTER TABLE ... TYPE) re-encodes them: the mirror must be rebuilt.
bool SameColumns(const std::vector<AttributeDesc>& a, const std::vector<AttributeDesc>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].type_oid != b[i].type_oid || a[i].dropped != b[i].dropped || a[i].attlen != b[i].attlen) return false;
  return true;
}
}  // namespace

const RelationDesc* MissRecordingResolver::Lookup(const RelFileLocator& loc, Lsn lsn) {
  const RelationDesc* d = inner_->Lookup(loc, lsn);
  if (d == nullptr && loc.db_oid == inner_->database_oid() && !overflowed_) {
    if (missed_.size() >= 100000) overflowed_ = true;   // then every rewrite re-bootstraps
    else missed_.insert(loc.rel_number);
  }
  return d;
}

const RelationDesc* MissRecordingResolver::LookupToastOwner(const RelFileLocator& loc, Lsn lsn) {
  const RelationDesc* d = inner_->LookupToastOwner(loc, lsn);
  if (d == nullptr && loc.db_oid == inner_->database_oid() && !overflowed_ && missed_.size() < 100000)
    missed_.insert(loc.rel_number);
  return d;
}

bool MissRecordingResolver::MissedAny(Oid rel, Oid toast_rel) const {
  return overflowed_ || missed_.count(rel) || (toast_rel != 0 && missed_.count(toast_rel));
}

// At startup, after the mirrored relations are tracked: a mirror whose relation is in another file
// than the one its rows were built on (stored with the batches) is stale.
Status Engine::Impl::CheckSourceFiles() {
  Batch b(store.get());
  std::vector<Oid> relids;
  for (auto& [relid, m] : mirrors) relids.push_back(relid);   // DropStaleMirror erases from mirrors
  for (Oid relid : relids) {
    const RelationDesc* d = resolver->LookupByOid(relid);
    if (d == nullptr) continue;
    const std::string now = std::to_string(d->locator.rel_number);
    PGT_ASSIGN_OR_RETURN(auto stored, store->Get(Cf::kMeta, RelfileKey(relid)));
    if (stored && *stored != now) DropStaleMirror(&b, relid, "is in a new file since the last checkpoint");
    b.Put(Cf::kMeta, RelfileKey(relid), now);
    relfile_recorded.insert(relid);
  }
  return store->Commit(&b);
}

Status Engine::Impl::FollowInvalidations() {
  // The file each mirror is built on goes with the batch (see CheckSourceFiles).
  for (auto& [relid, m] : mirrors) {
    if (relfile_recorded.count(relid)) continue;
    if (const RelationDesc* d = resolver->LookupByOid(relid)) {
      batch->Put(Cf::kMeta, RelfileKey(relid), std::to_string(d->locator.rel_number));
      relfile_recorded.insert(relid);
    }
  }
  for (const RelationInvalidation& inv : decoder->TakeInvalidations()) {
    const RelationDesc* before = resolver->LookupByOid(inv.relid);
    if (before == nullptr) continue;
    const RelFileLocator old_loc = before->locator;
    const size_t old_attrs = before->attrs.size();
    const std::vector<AttributeDesc> old_desc = before->attrs;
    Status st = resolver->Track(inv.relid, inv.end_lsn);
    for (int attempt = 0; attempt < 3 && st.code() == Status::Code::kUnavailable; ++attempt) {
      PGT_LOG_WARN("re-describing table ", inv.relid, " after its DDL at ", FormatLsn(inv.commit_lsn), ": ",
                   st.message(), " (retrying)");
      st = resolver->Track(inv.relid, inv.end_lsn);
    }
    if (st.code() == Status::Code::kNotFound) {
      // Dropped (its readers were dropped in the same transaction, e.g. a stream table dropped
      // with its dependants): no row of it can follow; the catalog poll drops its mirror.
      PGT_LOG_INFO("source table ", inv.relid, " was dropped at ", FormatLsn(inv.commit_lsn));
      continue;
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
    batch->Put(Cf::kMeta, RelfileKey(inv.relid), std::to_string(now->locator.rel_number));
    relfile_recorded.insert(inv.relid);
    auto m = mirrors.find(inv.relid);
    if (m == mirrors.end()) continue;   // already dropped, e.g. by the TRUNCATE that made this file
    if (!lookup->MissedAny(now->locator.rel_number, now->toast_locator.rel_number) &&
        SameColumns(old_desc, now->attrs)) {
      PGT_LOG_INFO("source ", now->schema, ".", now->name, " was rewritten at ", FormatLsn(inv.commit_lsn),
                   " (new relfilenode ", now->locator.rel_number, "): followed without a re-snapshot");
      continue;
    }
    if (inv.end_lsn <= MirrorApplied(m->second)) continue;   // mirror loaded after the rewrite
    DropStaleMirror(batch.get(), inv.relid, "was rewritten at " + FormatLsn(inv.commit_lsn) + " (new relfilenode " +
                                                std::to_string(now->locator.rel_number) + ")");
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
// bootstrapped again (its mirror is dropped), since the restart re-reads records of its old file.
Status Engine::Impl::RedescribeSources() {
  std::vector<Oid> relids;
  for (auto& [relid, m] : mirrors) relids.push_back(relid);
  for (Oid relid : relids) {
    const RelationDesc* before = resolver->LookupByOid(relid);
    if (before == nullptr) continue;
    const RelFileLocator old_loc = before->locator;
    PGT_RETURN_IF_ERROR(resolver->Track(relid, kInvalidLsn));
    const RelationDesc* now = resolver->LookupByOid(relid);
    if (now == nullptr || now->locator == old_loc) continue;
    Batch b(store.get());
    b.Put(Cf::kMeta, RelfileKey(relid), std::to_string(now->locator.rel_number));
    DropStaleMirror(&b, relid, "has a new relfilenode");
    PGT_RETURN_IF_ERROR(store->Commit(&b));
  }
  return Status::Ok();
}

}  // namespace pgt::engine
