// Catalog resolver: which relation a record touches and how its tuples are laid out.
//
// walreader decodes tuples only for *tracked* relations; every other relfilenode is skipped
// through a negative cache. Descriptors are read over SQL from the hot standby, gated on
// pg_last_wal_replay_lsn() >= the LSN being decoded, so the catalog matches the WAL (DESIGN §3).
// Not thread-safe: one decoder thread owns it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "walreader/lsn.h"
#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt {

struct RelFileLocator {
  Oid spc_oid = 0;
  Oid db_oid = 0;
  Oid rel_number = 0;
  bool operator==(const RelFileLocator&) const = default;
};

struct AttributeDesc {
  int16_t attnum = 0;
  std::string name;
  Oid type_oid = 0;
  TypeId type = TypeId::kUnknown;
  int16_t attlen = 0;       // >0 fixed, -1 varlena, -2 cstring
  char attalign = 'c';      // c s i d
  bool attbyval = false;
  bool dropped = false;
  bool has_missing = false;
  Value missing;            // attmissingval when has_missing
  // Added: non-empty when has_missing but the value's type cannot be decoded yet: decoding a
  // tuple formed before the column was added is then an Unsupported error with this text.
  std::string missing_error;
};

struct RelationDesc {
  Oid relid = 0;
  std::string schema;
  std::string name;
  RelFileLocator locator;
  std::vector<AttributeDesc> attrs;     // index = attnum - 1
  std::vector<int16_t> key_attnums;     // primary key / replica identity index columns
  Lsn valid_from = kInvalidLsn;         // LSN at which this version was read
  // Added for TOAST chunk reassembly: the table's TOAST relation (0 = none).
  Oid toast_relid = 0;                  // pg_class.reltoastrelid
  RelFileLocator toast_locator;         // where its chunks are stored
};

class CatalogResolver {
 public:
  virtual ~CatalogResolver() = default;
  // Descriptor for the relation stored in `loc`, as of `lsn`; nullptr if untracked (cheap).
  virtual const RelationDesc* Lookup(const RelFileLocator& loc, Lsn lsn) = 0;
  // Descriptor by table OID (for TRUNCATE, which names OIDs); nullptr if untracked.
  virtual const RelationDesc* LookupByOid(Oid relid) = 0;
  // Added: descriptor of the tracked table whose TOAST relation is stored in `loc` (chunks of
  // its out-of-line values); nullptr if none. The default knows no TOAST relations, in which case
  // external values in INSERTs are reported as errors (never as wrong bytes).
  virtual const RelationDesc* LookupToastOwner(const RelFileLocator& loc, Lsn lsn) {
    (void)loc;
    (void)lsn;
    return nullptr;
  }
  // Added: descriptor of `relid` as it was at `lsn` (versioned resolvers; TRUNCATE and output
  // formatting use the version valid at the change's LSN). Default: LookupByOid.
  virtual const RelationDesc* LookupByOidAt(Oid relid, Lsn lsn) {
    (void)lsn;
    return LookupByOid(relid);
  }
  // Added: a lookup that could not be answered (e.g. lost catalog connection) makes this non-OK;
  // the decoder stops with it instead of treating the relation as untracked.
  virtual Status status() const { return Status::Ok(); }
  // Added: non-OK (once, then reset) when the last Lookup met a relfilenode that may hold rows of
  // a decoded table but whose table cannot be known at that LSN (see catalog_history.h). The
  // decoder then fails the transaction that wrote the record if, and only if, it commits.
  virtual Status TakeUnresolved() { return Status::Ok(); }
};

// Resolver backed by SQL on the standby (libpq). Track() reads the descriptor of a table once
// the standby has replayed up to `at_lsn`.
class SqlCatalogResolver : public CatalogResolver {
 public:
  static Result<std::unique_ptr<SqlCatalogResolver>> Connect(const std::string& standby_conninfo);
  ~SqlCatalogResolver() override;

  Status Track(Oid relid, Lsn at_lsn);
  // Added: Track of each of `relids` (as Track, but three catalog queries in all instead of
  // three per table). On an error (e.g. one of them does not exist) none of them is tracked.
  Status TrackAll(const std::vector<Oid>& relids, Lsn at_lsn);
  void Untrack(Oid relid);
  Result<RelationDesc> Describe(Oid relid) ;   // current descriptor, without tracking
  // Added: Describe of each of `relids`, in that order (three queries in all).
  Result<std::vector<RelationDesc>> DescribeAll(const std::vector<Oid>& relids);
  // Added: OIDs of the database's ordinary tables outside pg_catalog/information_schema, or of
  // the comma-separated `names` (resolved with regclass) when not empty.
  Result<std::vector<Oid>> UserTables(const std::string& names);
  // Added: TrackAll(UserTables(""), kInvalidLsn) in one round trip instead of two (the CLI's
  // start: the catalog read is on its critical path).
  Status TrackUserTables();
  const RelationDesc* Lookup(const RelFileLocator& loc, Lsn lsn) override;
  const RelationDesc* LookupByOid(Oid relid) override;
  const RelationDesc* LookupToastOwner(const RelFileLocator& loc, Lsn lsn) override;
  Oid database_oid() const { return db_oid_; }
  // Added: the database had the catalog history (walreader/sql/catalog_history.sql) when
  // Connect ran, i.e. HistoryCatalogResolver::Open would not answer NotFound.
  bool catalog_history_installed() const { return history_installed_; }

 private:
  SqlCatalogResolver() = default;
  Result<std::vector<RelationDesc>> DescribeWhere(const std::string& ids,
                                                  const std::vector<Oid>* relids);
  void Index(std::vector<RelationDesc> ds, Lsn at_lsn);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Oid db_oid_ = 0;
  bool history_installed_ = false;
};

}  // namespace pgt
