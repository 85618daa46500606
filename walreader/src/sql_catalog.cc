// SqlCatalogResolver: descriptors of tracked tables read over SQL from the (hot standby) server,
// after its replay has reached the LSN being decoded. Lookups are O(1) hash lookups by
// RelFileLocator; a miss is the negative answer (untracked) and never queries the server.
// One descriptor version per table (no LSN versioning or invalidation-driven refresh yet: the
// engine re-Tracks a table after DDL). Not thread-safe.
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "sql_util.h"
#include "walreader/catalog.h"

namespace pgt {

using internal::FirstArrayElement;
using internal::MissingValue;
using internal::PgResult;

namespace {
struct LocHash {
  size_t operator()(const RelFileLocator& l) const {
    return std::hash<uint64_t>()((uint64_t{l.spc_oid} << 40) ^ (uint64_t{l.db_oid} << 20) ^ l.rel_number);
  }
};

}  // namespace

struct SqlCatalogResolver::Impl {
  PGconn* conn = nullptr;
  Oid default_spc = 0;
  std::unordered_map<Oid, RelationDesc> tracked;
  std::unordered_map<RelFileLocator, Oid, LocHash> by_loc;
  std::unordered_map<RelFileLocator, Oid, LocHash> toast_by_loc;
  // Consecutive records mostly touch the same relation: the last hit of Lookup (reset whenever
  // the index changes).
  RelFileLocator last_loc;
  const RelationDesc* last_desc = nullptr;

  // A lost connection is re-established once per query (PQreset resolves a multi-host
  // conninfo again, so after a failover it reaches whichever server now answers).
  Result<std::unique_ptr<PgResult>> Query(const std::string& sql, const std::vector<std::string>& params) {
    if (PQstatus(conn) != CONNECTION_OK) PQreset(conn);
    auto r = internal::PgQuery(conn, sql, params);
    if (r.ok() || r.status().code() != Status::Code::kUnavailable) return r;
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) return r;
    return internal::PgQuery(conn, sql, params);
  }

  // As Query, for PgQueryBatch.
  Result<std::vector<std::unique_ptr<PgResult>>> QueryBatch(const std::string& sql) {
    if (PQstatus(conn) != CONNECTION_OK) PQreset(conn);
    auto r = internal::PgQueryBatch(conn, sql);
    if (r.ok() || r.status().code() != Status::Code::kUnavailable) return r;
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK) return r;
    return internal::PgQueryBatch(conn, sql);
  }

  void Unindex(Oid relid) {
    last_desc = nullptr;
    auto it = tracked.find(relid);
    if (it == tracked.end()) return;
    by_loc.erase(it->second.locator);
    if (it->second.toast_relid != 0) toast_by_loc.erase(it->second.toast_locator);
    tracked.erase(it);
  }
};

SqlCatalogResolver::~SqlCatalogResolver() {
  if (impl_ && impl_->conn) PQfinish(impl_->conn);
}

Result<std::unique_ptr<SqlCatalogResolver>> SqlCatalogResolver::Connect(const std::string& conninfo) {
  std::unique_ptr<SqlCatalogResolver> r(new SqlCatalogResolver());
  r->impl_ = std::make_unique<Impl>();
  r->impl_->conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(r->impl_->conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(r->impl_->conn);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::Unavailable("catalog connection failed: " + msg);
  }
  // Whether the catalog history is installed comes with the same round trip (a caller choosing
  // between the two resolvers needs no connection of its own to ask).
  PGT_ASSIGN_OR_RETURN(auto res, r->impl_->Query(
      "select oid, dattablespace, to_regclass('pgtrickle_catalog.relation_version') is not null"
      " from pg_database where datname = current_database()", {}));
  if (res->rows() != 1) return Status::Internal("current database not found in pg_database");
  r->db_oid_ = static_cast<Oid>(std::stoul(res->Get(0, 0)));
  r->impl_->default_spc = static_cast<Oid>(std::stoul(res->Get(0, 1)));
  r->history_installed_ = res->Get(0, 2) == "t";
  return r;
}

Result<RelationDesc> SqlCatalogResolver::Describe(Oid relid) {
  PGT_ASSIGN_OR_RETURN(auto ds, DescribeAll({relid}));
  return std::move(ds[0]);
}

// Three queries whatever the number of tables (pg_class, pg_attribute, pg_index), each for all of
// them, sent together (one round trip): a resolver set up for every user table used to pay three
// round trips per table.
Result<std::vector<RelationDesc>> SqlCatalogResolver::DescribeAll(const std::vector<Oid>& relids) {
  if (relids.empty()) return std::vector<RelationDesc>();
  // Inlined (digits and commas only): several statements cannot take parameters.
  std::string ids = "'{";
  for (Oid id : relids) ids += (ids.size() > 2 ? "," : "") + std::to_string(id);
  ids += "}'::oid[]";
  return DescribeWhere(ids, &relids);
}

// The user tables of UserTables(""), as an oid[] expression.
constexpr const char* kUserTablesSql =
    "select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace"
    " where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')"
    " and n.nspname not like 'pg\\_toast%' and n.nspname <> 'pgtrickle_catalog'";

Status SqlCatalogResolver::TrackUserTables() {
  PGT_ASSIGN_OR_RETURN(std::vector<RelationDesc> ds,
                       DescribeWhere(std::string("array(") + kUserTablesSql + ")", nullptr));
  Index(std::move(ds), kInvalidLsn);
  return Status::Ok();
}

// `ids`: an oid[] SQL expression; `relids`: its value when known (then the result follows its
// order and a missing relation is an error), else null (the relations found, by OID).
Result<std::vector<RelationDesc>> SqlCatalogResolver::DescribeWhere(
    const std::string& ids, const std::vector<Oid>* relids) {
  Impl& m = *impl_;
  std::vector<RelationDesc> out;
  PGT_ASSIGN_OR_RETURN(auto res, m.QueryBatch(
      "select c.oid, c.relname, n.nspname, pg_relation_filenode(c.oid), c.reltablespace,"
      " c.reltoastrelid, coalesce(pg_relation_filenode(t.oid), 0), coalesce(t.reltablespace, 0),"
      " coalesce(pg_last_wal_replay_lsn(), '0/0')::text"
      " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
      " left join pg_class t on t.oid = c.reltoastrelid where c.oid = any(" + ids + ");"
      "select attrelid, attnum, attname, atttypid, attlen, attalign, attbyval, attisdropped,"
      " atthasmissing, attmissingval::text from pg_attribute where attrelid = any(" + ids + ")"
      " and attnum > 0 order by attrelid, attnum;"
      "select distinct on (indrelid) indrelid, array_to_string(indkey::int2[], ',') from pg_index"
      " where indrelid = any(" + ids + ") and (indisprimary or indisreplident)"
      " order by indrelid, indisprimary desc"));
  if (res.size() != 3) return Status::Internal("catalog queries returned " +
                                               std::to_string(res.size()) + " results, not 3");
  const auto &rel = res[0], &atts = res[1], &keys = res[2];
  // Row ranges by relation OID.
  auto rows_of = [](const internal::PgResult& r) {
    std::unordered_map<Oid, std::pair<int, int>> at;
    for (int i = 0; i < r.rows(); i++) {
      auto [it, fresh] = at.try_emplace(static_cast<Oid>(std::stoul(r.Get(i, 0))), i, i + 1);
      if (!fresh) it->second.second = i + 1;
    }
    return at;
  };
  const auto rel_at = rows_of(*rel), att_at = rows_of(*atts), key_at = rows_of(*keys);
  auto spc = [&](const std::string& s) {
    Oid o = static_cast<Oid>(std::stoul(s));
    return o == 0 ? m.default_spc : o;
  };
  std::vector<Oid> found;
  if (relids == nullptr) {   // every relation the query found
    for (const auto& [relid, at] : rel_at) found.push_back(relid);
    std::sort(found.begin(), found.end());
    relids = &found;
  }
  out.reserve(relids->size());
  for (Oid relid : *relids) {
    auto r = rel_at.find(relid);
    if (r == rel_at.end())
      return Status::NotFound("relation with OID " + std::to_string(relid) + " does not exist");
    const int row = r->second.first;
    RelationDesc d;
    d.relid = relid;
    d.name = rel->Get(row, 1);
    d.schema = rel->Get(row, 2);
    if (rel->Null(row, 3)) return Status::Unsupported("relation " + d.name + " has no storage");
    d.locator = RelFileLocator{spc(rel->Get(row, 4)), db_oid_,
                               static_cast<Oid>(std::stoul(rel->Get(row, 3)))};
    d.toast_relid = static_cast<Oid>(std::stoul(rel->Get(row, 5)));
    if (d.toast_relid != 0)
      d.toast_locator = RelFileLocator{spc(rel->Get(row, 7)), db_oid_,
                                       static_cast<Oid>(std::stoul(rel->Get(row, 6)))};
    auto lsn = ParseLsn(rel->Get(row, 8));
    d.valid_from = lsn.ok() ? lsn.value() : kInvalidLsn;
    auto a_rows = att_at.find(relid);
    for (int i = a_rows == att_at.end() ? 0 : a_rows->second.first,
             e = a_rows == att_at.end() ? 0 : a_rows->second.second; i < e; i++) {
      AttributeDesc a;
      a.attnum = static_cast<int16_t>(std::stoi(atts->Get(i, 1)));
      if (a.attnum != static_cast<int>(d.attrs.size()) + 1)
        return Status::Internal("attnums of " + d.name + " are not dense");
      a.name = atts->Get(i, 2);
      a.type_oid = static_cast<Oid>(std::stoul(atts->Get(i, 3)));
      a.type = TypeIdFromOid(a.type_oid);
      a.attlen = static_cast<int16_t>(std::stoi(atts->Get(i, 4)));
      a.attalign = atts->Get(i, 5)[0];
      a.attbyval = atts->Get(i, 6) == "t";
      a.dropped = atts->Get(i, 7) == "t";
      a.has_missing = atts->Get(i, 8) == "t" && !atts->Null(i, 9) && !a.dropped;
      if (a.has_missing) {
        auto v = MissingValue(a, FirstArrayElement(atts->Get(i, 9)));
        if (!v.ok()) return v.status().WithContext("describing " + d.schema + "." + d.name);
        a.missing = std::move(v.value());
      }
      d.attrs.push_back(std::move(a));
    }
    auto k = key_at.find(relid);
    if (k != key_at.end()) d.key_attnums = internal::ParseAttnums(keys->Get(k->second.first, 1));
    out.push_back(std::move(d));
  }
  return out;
}

Status SqlCatalogResolver::Track(Oid relid, Lsn at_lsn) { return TrackAll({relid}, at_lsn); }

Status SqlCatalogResolver::TrackAll(const std::vector<Oid>& relids, Lsn at_lsn) {
  Impl& m = *impl_;
  if (at_lsn != kInvalidLsn) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      PGT_ASSIGN_OR_RETURN(auto r, m.Query(
          "select case when pg_is_in_recovery() then pg_last_wal_replay_lsn()"
          " else pg_current_wal_lsn() end::text", {}));
      if (r->rows() == 1 && !r->Null(0, 0)) {
        auto lsn = ParseLsn(r->Get(0, 0));
        if (lsn.ok() && lsn.value() >= at_lsn) break;
      }
      if (std::chrono::steady_clock::now() > deadline)
        return Status::Unavailable("standby replay did not reach " + FormatLsn(at_lsn) +
                                   " within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  PGT_ASSIGN_OR_RETURN(std::vector<RelationDesc> ds, DescribeAll(relids));
  Index(std::move(ds), at_lsn);
  return Status::Ok();
}

void SqlCatalogResolver::Index(std::vector<RelationDesc> ds, Lsn at_lsn) {
  Impl& m = *impl_;
  for (RelationDesc& d : ds) {
    const Oid relid = d.relid;
    if (at_lsn != kInvalidLsn) d.valid_from = at_lsn;
    m.Unindex(relid);
    m.by_loc[d.locator] = relid;
    if (d.toast_relid != 0) m.toast_by_loc[d.toast_locator] = relid;
    m.tracked[relid] = std::move(d);
  }
}

void SqlCatalogResolver::Untrack(Oid relid) { impl_->Unindex(relid); }

const RelationDesc* SqlCatalogResolver::Lookup(const RelFileLocator& loc, Lsn) {
  Impl& m = *impl_;
  if (m.last_desc != nullptr && loc == m.last_loc) return m.last_desc;
  auto it = m.by_loc.find(loc);
  if (it == m.by_loc.end()) return nullptr;
  m.last_loc = loc;
  m.last_desc = &m.tracked[it->second];
  return m.last_desc;
}

const RelationDesc* SqlCatalogResolver::LookupByOid(Oid relid) {
  auto it = impl_->tracked.find(relid);
  return it == impl_->tracked.end() ? nullptr : &it->second;
}

const RelationDesc* SqlCatalogResolver::LookupToastOwner(const RelFileLocator& loc, Lsn) {
  auto it = impl_->toast_by_loc.find(loc);
  return it == impl_->toast_by_loc.end() ? nullptr : &impl_->tracked[it->second];
}

Result<std::vector<Oid>> SqlCatalogResolver::UserTables(const std::string& names) {
  std::vector<Oid> out;
  if (names.empty()) {
    PGT_ASSIGN_OR_RETURN(auto r, impl_->Query(std::string(kUserTablesSql) + " order by 1", {}));
    for (int i = 0; i < r->rows(); i++) out.push_back(static_cast<Oid>(std::stoul(r->Get(i, 0))));
    return out;
  }
  size_t pos = 0;
  while (pos <= names.size()) {
    size_t comma = names.find(',', pos);
    if (comma == std::string::npos) comma = names.size();
    std::string n = names.substr(pos, comma - pos);
    if (!n.empty()) {
      PGT_ASSIGN_OR_RETURN(auto r, impl_->Query("select $1::regclass::oid", {n}));
      out.push_back(static_cast<Oid>(std::stoul(r->Get(0, 0))));
    }
    pos = comma + 1;
  }
  return out;
}

}  // namespace pgt
