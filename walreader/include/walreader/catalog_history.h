// Descriptors versioned by LSN (added to the API).
//
// test_decoding decodes every change with the catalog as it was at that point of the WAL. An
// external decoder cannot rebuild that from the WAL (catalog rows are not logically logged), so
// the DDL transactions record their descriptors in-band, in pgtrickle_catalog.relation_version
// (walreader/sql/catalog_history.sql), each stamped with the WAL insert position from which it is
// valid. DescriptorHistory answers "which descriptor, at this LSN" from those versions;
// HistoryCatalogResolver loads them over SQL and falls back to the current catalog for
// relfilenodes the history does not know (VACUUM FULL / CLUSTER). Not thread-safe.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "walreader/catalog.h"

namespace pgt {

struct RelFileLocatorHash {
  size_t operator()(const RelFileLocator& l) const {
    return std::hash<uint64_t>()((uint64_t{l.spc_oid} << 40) ^ (uint64_t{l.db_oid} << 20) ^
                                 l.rel_number);
  }
};

// Versions of table descriptors, each valid from its `valid_from` LSN to the next version's.
class DescriptorHistory {
 public:
  // What a heap record on a relfilenode is, at an LSN.
  struct Resolution {
    enum class Kind { kUnknown, kDecode, kSkipRewrite } kind = Kind::kUnknown;
    const RelationDesc* desc = nullptr;   // kDecode: the version valid at the LSN
  };

  // Appends a version of d.relid valid from d.valid_from; versions of one relation must be added
  // in increasing valid_from order. `rewritten`: the DDL that produced it rewrote the table into a
  // new relfilenode (ALTER TABLE ... TYPE, volatile DEFAULT, SET LOGGED...): the inserts that
  // filled that relfilenode before valid_from are the transient heap's and are skipped, as
  // test_decoding skips changes of relations with pg_class.relrewrite set.
  void Add(RelationDesc d, bool rewritten);
  // Makes `loc` (a relfilenode unknown to the versions, e.g. after VACUUM FULL or CLUSTER) an
  // alias of `relid`: its records use the relation's version valid at their LSN. `toast`: `loc`
  // stores the relation's TOAST chunks.
  void AddAlias(const RelFileLocator& loc, Oid relid, bool toast = false);

  // Table whose heap is (or was) stored in `loc`, and the version to decode a record at `lsn`.
  Resolution Resolve(const RelFileLocator& loc, Lsn lsn) const;
  // Same for the table's TOAST relation (chunks).
  Resolution ResolveToast(const RelFileLocator& loc, Lsn lsn) const;
  // Version of `relid` valid at `lsn` (before its first version: the first, e.g. the inserts of
  // CREATE TABLE AS); nullptr if the relation has no version.
  const RelationDesc* At(Oid relid, Lsn lsn) const;
  const RelationDesc* Latest(Oid relid) const;
  bool Knows(Oid relid) const { return versions_.count(relid) != 0; }
  std::vector<Oid> Relids() const;

 private:
  struct Version {
    const RelationDesc* desc;
    bool rewritten;
  };
  struct Owner {
    Oid relid;
    size_t first_version;   // index of the version that introduced this relfilenode
  };
  static const RelationDesc* Pick(const std::vector<Version>& vs, Lsn lsn);
  Resolution ResolveIn(const std::unordered_map<RelFileLocator, Owner, RelFileLocatorHash>& index,
                       const RelFileLocator& loc, Lsn lsn, bool toast) const;

  std::deque<RelationDesc> pool_;   // stable addresses
  std::unordered_map<Oid, std::vector<Version>> versions_;
  std::unordered_map<RelFileLocator, Owner, RelFileLocatorHash> heap_owner_;
  std::unordered_map<RelFileLocator, Owner, RelFileLocatorHash> toast_owner_;
  std::unordered_map<RelFileLocator, Oid, RelFileLocatorHash> alias_;
  std::unordered_map<RelFileLocator, Oid, RelFileLocatorHash> toast_alias_;
};

// CatalogResolver over the in-band history (pgtrickle_catalog.relation_version) plus the current
// catalog, read over SQL once at Open (the WAL range to decode must be complete by then; see
// README "Catalog history").
class HistoryCatalogResolver : public CatalogResolver {
 public:
  // `tables`: comma-separated table names to decode ("" = every table of the history and every
  // current user table). Fails with NotFound when the history is not installed in the database,
  // and with InvalidArgument when it was installed after `start` (the WAL before its install row
  // may hold DDL that nothing recorded) or its event triggers are missing or disabled.
  static Result<std::unique_ptr<HistoryCatalogResolver>> Open(const std::string& conninfo,
                                                              const std::string& tables, Lsn start);
  ~HistoryCatalogResolver() override;

  const RelationDesc* Lookup(const RelFileLocator& loc, Lsn lsn) override;
  const RelationDesc* LookupByOid(Oid relid) override;
  const RelationDesc* LookupByOidAt(Oid relid, Lsn lsn) override;
  const RelationDesc* LookupToastOwner(const RelFileLocator& loc, Lsn lsn) override;
  Status status() const override { return error_; }
  Status TakeUnresolved() override;
  Oid database_oid() const { return db_oid_; }
  const DescriptorHistory& history() const { return history_; }
  // The server's WAL position when the history was read: versions of DDL committed after it are
  // not loaded, so a transaction whose commit ends after it must not be trusted (re-Open).
  Lsn complete_upto() const { return complete_upto_; }

 private:
  HistoryCatalogResolver() = default;
  Status Load(const std::string& tables, Lsn start);
  Status CheckInstalled(Lsn start);
  Status LoadVersions();
  Status LoadCurrentTables(const std::string& tables);
  // Asks pg_filenode_relation() about a relfilenode the history does not know (cached).
  void ResolveUnknown(const RelFileLocator& loc);
  // Lookup of a heap relfilenode the history and the current catalog do not know.
  void NoteUnknown(const RelFileLocator& loc, Lsn lsn);

  struct Conn;
  std::unique_ptr<Conn> conn_;
  Oid db_oid_ = 0;
  Oid default_spc_ = 0;
  Lsn complete_upto_ = 0;
  DescriptorHistory history_;
  RelFileLocator event_trigger_loc_;       // pg_event_trigger: changes there are fatal
  std::unordered_map<Oid, bool> wanted_;   // relids to decode (empty + all_ = every one)
  bool all_ = true;
  // Relfilenodes asked about: true = in no catalog any more (dropped or rewritten again).
  std::unordered_map<RelFileLocator, bool, RelFileLocatorHash> asked_;
  Status error_;
  Status unresolved_;
};

}  // namespace pgt
