// HistoryCatalogResolver: descriptor versions from pgtrickle_catalog.relation_version
// (walreader/sql/catalog_history.sql) plus the current catalog, read over SQL (catalog_history.h).
#include <map>

#include "sql_util.h"
#include "walreader/catalog_history.h"

namespace pgt {

using internal::PgQuery;
using internal::PgResult;

struct HistoryCatalogResolver::Conn {
  PGconn* pg = nullptr;
  std::unique_ptr<SqlCatalogResolver> current;   // Describe()/UserTables() of the current catalog
  ~Conn() {
    if (pg != nullptr) PQfinish(pg);
  }
  Result<std::unique_ptr<PgResult>> Query(const std::string& sql,
                                          const std::vector<std::string>& params = {}) {
    return PgQuery(pg, sql, params);
  }
};

namespace {
Oid ToOid(const std::string& s) { return static_cast<Oid>(std::stoul(s)); }

// One row of the history, without its attributes.
constexpr const char* kVersionsSql =
    "select v.id, v.lsn, v.relid, v.rewritten, v.descr->>'nspname', v.descr->>'relname',"
    " v.descr->>'relfilenode', v.descr->>'reltablespace', v.descr->>'toastrelid',"
    " v.descr->>'toastfilenode', v.descr->>'toastspc', coalesce(v.descr->>'key', '')"
    " from pgtrickle_catalog.relation_version v where v.kind <> 'install'"
    " order by v.relid, v.lsn, v.id";
constexpr const char* kAttrsSql =
    "select v.id, a.attnum, a.attname, a.atttypid, a.attlen, a.attalign, a.attbyval,"
    " a.attisdropped, a.atthasmissing, a.attmissingval"
    " from pgtrickle_catalog.relation_version v,"
    " jsonb_to_recordset(v.descr->'attrs') as a(attnum int, attname text, atttypid oid, attlen int,"
    " attalign text, attbyval bool, attisdropped bool, atthasmissing bool, attmissingval text)"
    " where v.kind <> 'install' order by v.id, a.attnum";

Result<AttributeDesc> AttrFromRow(const PgResult& r, int i, const std::string& table) {
  AttributeDesc a;
  a.attnum = static_cast<int16_t>(std::stoi(r.Get(i, 1)));
  a.name = r.Get(i, 2);
  a.type_oid = ToOid(r.Get(i, 3));
  a.type = TypeIdFromOid(a.type_oid);
  a.attlen = static_cast<int16_t>(std::stoi(r.Get(i, 4)));
  a.attalign = r.Get(i, 5)[0];
  a.attbyval = r.Get(i, 6) == "t";
  a.dropped = r.Get(i, 7) == "t";
  a.has_missing = r.Get(i, 8) == "t" && !r.Null(i, 9) && !a.dropped;
  if (a.has_missing) {
    auto v = internal::MissingValue(a, internal::FirstArrayElement(r.Get(i, 9)));
    // An unsupported type fails only a decoding that needs the value, not every Open.
    if (v.ok()) a.missing = std::move(v.value());
    else if (v.status().code() == Status::Code::kUnsupported) a.missing_error = v.status().message();
    else return v.status().WithContext("catalog history of " + table);
  }
  return a;
}
}  // namespace

HistoryCatalogResolver::~HistoryCatalogResolver() = default;

Result<std::unique_ptr<HistoryCatalogResolver>> HistoryCatalogResolver::Open(
    const std::string& conninfo, const std::string& tables, Lsn start) {
  std::unique_ptr<HistoryCatalogResolver> r(new HistoryCatalogResolver());
  r->conn_ = std::make_unique<Conn>();
  PGT_ASSIGN_OR_RETURN(r->conn_->current, SqlCatalogResolver::Connect(conninfo));
  r->conn_->pg = PQconnectdb(conninfo.c_str());
  if (PQstatus(r->conn_->pg) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(r->conn_->pg);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::Unavailable("catalog connection failed: " + msg);
  }
  r->db_oid_ = r->conn_->current->database_oid();
  PGT_RETURN_IF_ERROR(r->Load(tables, start));
  return r;
}

Status HistoryCatalogResolver::Load(const std::string& tables, Lsn start) {
  PGT_RETURN_IF_ERROR(CheckInstalled(start));
  // Everything committed before this point is visible to the queries below; a transaction
  // committed later may have recorded versions we do not read (complete_upto()).
  PGT_ASSIGN_OR_RETURN(auto pos, conn_->Query(
      "select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn()"
      " else pg_current_wal_insert_lsn() end - '0/0'::pg_lsn)::bigint"));
  complete_upto_ = std::stoull(pos->Get(0, 0));
  PGT_RETURN_IF_ERROR(LoadVersions());
  return LoadCurrentTables(tables);
}

// The history exists, covers `start` and is still being recorded.
Status HistoryCatalogResolver::CheckInstalled(Lsn start) {
  Conn& c = *conn_;
  PGT_ASSIGN_OR_RETURN(auto inst, c.Query(
      "select to_regclass('pgtrickle_catalog.relation_version') is not null,"
      " (select dattablespace from pg_database where datname = current_database())"));
  default_spc_ = ToOid(inst->Get(0, 1));
  if (inst->Get(0, 0) != "t")
    return Status::NotFound("catalog history (pgtrickle_catalog.relation_version) is not installed");
  PGT_ASSIGN_OR_RETURN(auto evt, c.Query("select pg_relation_filenode('pg_event_trigger')"));
  event_trigger_loc_ = RelFileLocator{default_spc_, db_oid_, ToOid(evt->Get(0, 0))};
  PGT_ASSIGN_OR_RETURN(auto chk, c.Query(
      "select (select min(lsn) from pgtrickle_catalog.relation_version where kind = 'install'),"
      " (select count(*) from pg_event_trigger where evtenabled <> 'D' and evtname in"
      " ('pgtrickle_catalog_ddl_end', 'pgtrickle_catalog_rewrite'))"));
  if (chk->Null(0, 0)) return Status::InvalidArgument("catalog history has no install row");
  Lsn installed = std::stoull(chk->Get(0, 0));
  if (start < installed)
    return Status::InvalidArgument("catalog history was installed at " + FormatLsn(installed) +
                                   ", after the start LSN " + FormatLsn(start) +
                                   ": DDL before it was not recorded");
  if (chk->Get(0, 1) != "2")
    return Status::InvalidArgument("catalog history event triggers pgtrickle_catalog_ddl_end/"
                                   "pgtrickle_catalog_rewrite are missing or disabled: DDL is not "
                                   "being recorded");
  return Status::Ok();
}

Status HistoryCatalogResolver::LoadVersions() {
  Conn& c = *conn_;
  PGT_ASSIGN_OR_RETURN(auto vs, c.Query(kVersionsSql));
  PGT_ASSIGN_OR_RETURN(auto as, c.Query(kAttrsSql));
  std::map<std::string, std::vector<AttributeDesc>> attrs;   // by version id
  for (int i = 0; i < as->rows(); i++) {
    PGT_ASSIGN_OR_RETURN(AttributeDesc a, AttrFromRow(*as, i, "version " + as->Get(i, 0)));
    attrs[as->Get(i, 0)].push_back(std::move(a));
  }
  auto spc = [&](const std::string& s) { return ToOid(s) == 0 ? default_spc_ : ToOid(s); };
  for (int i = 0; i < vs->rows(); i++) {
    RelationDesc d;
    d.valid_from = std::stoull(vs->Get(i, 1));
    d.relid = ToOid(vs->Get(i, 2));
    d.schema = vs->Get(i, 4);
    d.name = vs->Get(i, 5);
    d.locator = RelFileLocator{spc(vs->Get(i, 7)), db_oid_, ToOid(vs->Get(i, 6))};
    d.toast_relid = ToOid(vs->Get(i, 8));
    if (d.toast_relid != 0) d.toast_locator = RelFileLocator{spc(vs->Get(i, 10)), db_oid_, ToOid(vs->Get(i, 9))};
    d.key_attnums = internal::ParseAttnums(vs->Get(i, 11));
    d.attrs = std::move(attrs[vs->Get(i, 0)]);
    for (size_t k = 0; k < d.attrs.size(); k++)
      if (d.attrs[k].attnum != static_cast<int16_t>(k + 1))
        return Status::Internal("catalog history: attnums of " + d.name + " are not dense");
    history_.Add(std::move(d), vs->Get(i, 3) == "t");
  }
  return Status::Ok();
}

// The tables to decode, and the current descriptor of any the history lacks.
Status HistoryCatalogResolver::LoadCurrentTables(const std::string& tables) {
  Conn& c = *conn_;
  all_ = tables.empty();
  PGT_ASSIGN_OR_RETURN(auto ids, c.current->UserTables(tables));
  std::vector<Oid> unknown;
  for (Oid id : ids) {
    wanted_[id] = true;
    if (!history_.Knows(id)) unknown.push_back(id);
  }
  // Tables the history does not know (made while the triggers were off): their current
  // descriptors, valid from the start.
  PGT_ASSIGN_OR_RETURN(std::vector<RelationDesc> ds, c.current->DescribeAll(unknown));
  for (RelationDesc& d : ds) {
    d.valid_from = 0;
    history_.Add(std::move(d), false);
  }
  return Status::Ok();
}

void HistoryCatalogResolver::ResolveUnknown(const RelFileLocator& loc) {
  asked_[loc] = false;
  // pg_filenode_relation() takes 0 for the database's default tablespace.
  Oid spc = loc.spc_oid == default_spc_ ? 0 : loc.spc_oid;
  auto r = conn_->Query(
      "select c.oid, coalesce((select o.oid from pg_class o where o.reltoastrelid = c.oid"
      " and c.relkind = 't'), 0) from pg_class c where c.oid = pg_filenode_relation($1, $2)",
      {std::to_string(spc), std::to_string(loc.rel_number)});
  if (!r.ok()) {
    error_ = r.status().WithContext("resolving relfilenode " + std::to_string(loc.rel_number));
    return;
  }
  if ((*r)->rows() != 1) {   // in no catalog any more
    asked_[loc] = true;
    return;
  }
  Oid relid = ToOid((*r)->Get(0, 0));
  Oid owner = ToOid((*r)->Get(0, 1));
  bool toast = owner != 0;
  Oid table = toast ? owner : relid;
  // Every current user table was loaded by Load(); anything else (catalogs...) is untracked.
  if (history_.Knows(table)) history_.AddAlias(loc, table, toast);
}

// A user relation gets its relfilenode from the OID counter (>= FirstNormalObjectId 16384). One
// that is in neither the history nor the current catalog was created and dropped again without a
// history row: a table whose transaction rolled back (harmless: its rows are discarded), or one
// rewritten by VACUUM FULL / CLUSTER and then again (or dropped) with no DDL in between, whose
// table nothing records. The latter cannot be decoded, so a commit of such rows is an error.
void HistoryCatalogResolver::NoteUnknown(const RelFileLocator& loc, Lsn lsn) {
  constexpr Oid kFirstNormalObjectId = 16384;
  auto it = asked_.find(loc);
  if (it == asked_.end() || !it->second || loc.rel_number < kFirstNormalObjectId) return;
  if (history_.ResolveToast(loc, lsn).kind != DescriptorHistory::Resolution::Kind::kUnknown) return;
  unresolved_ = Status::Unsupported(
      "changes at " + FormatLsn(lsn) + " to relfilenode " + std::to_string(loc.rel_number) +
      " (tablespace " + std::to_string(loc.spc_oid) + ") whose relation is in neither the catalog "
      "history nor the current catalog: a table rewritten by VACUUM FULL/CLUSTER and again, or "
      "dropped, with no DDL in between cannot be identified");
}

Status HistoryCatalogResolver::TakeUnresolved() {
  Status s = unresolved_;
  unresolved_ = Status::Ok();
  return s;
}

const RelationDesc* HistoryCatalogResolver::Lookup(const RelFileLocator& loc, Lsn lsn) {
  if (loc.db_oid != db_oid_) return nullptr;
  if (loc == event_trigger_loc_) {
    // An update or delete of pg_event_trigger: the history's triggers may have been disabled or
    // dropped from here on (its inserts carry no logical data and are not looked up).
    unresolved_ = Status::Unsupported(
        "event triggers changed at " + FormatLsn(lsn) + " (ALTER/DROP EVENT TRIGGER): DDL after "
        "it may be missing from the catalog history, descriptors cannot be trusted");
    return nullptr;
  }
  auto r = history_.Resolve(loc, lsn);
  if (r.kind == DescriptorHistory::Resolution::Kind::kUnknown) {
    if (!asked_.count(loc)) {
      ResolveUnknown(loc);
      r = history_.Resolve(loc, lsn);
    }
    if (r.kind == DescriptorHistory::Resolution::Kind::kUnknown) NoteUnknown(loc, lsn);
  }
  if (r.kind != DescriptorHistory::Resolution::Kind::kDecode || r.desc == nullptr) return nullptr;
  if (!all_ && !wanted_.count(r.desc->relid)) return nullptr;
  return r.desc;
}

const RelationDesc* HistoryCatalogResolver::LookupToastOwner(const RelFileLocator& loc, Lsn lsn) {
  if (loc.db_oid != db_oid_) return nullptr;
  auto r = history_.ResolveToast(loc, lsn);
  if (r.kind == DescriptorHistory::Resolution::Kind::kUnknown && !asked_.count(loc)) {
    ResolveUnknown(loc);
    r = history_.ResolveToast(loc, lsn);
  }
  if (r.kind != DescriptorHistory::Resolution::Kind::kDecode || r.desc == nullptr) return nullptr;
  if (!all_ && !wanted_.count(r.desc->relid)) return nullptr;
  return r.desc;
}

const RelationDesc* HistoryCatalogResolver::LookupByOid(Oid relid) {
  if (!all_ && !wanted_.count(relid)) return nullptr;
  return history_.Latest(relid);
}

const RelationDesc* HistoryCatalogResolver::LookupByOidAt(Oid relid, Lsn lsn) {
  if (!all_ && !wanted_.count(relid)) return nullptr;
  return history_.At(relid, lsn);
}

}  // namespace pgt
