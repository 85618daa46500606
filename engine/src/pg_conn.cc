#include "pg_conn.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "log.h"

namespace pgt::engine {

namespace {
// Errors worth retrying: connection loss (08), serialization failure / deadlock / recovery
// conflict (40), insufficient resources (53), operator intervention (57, e.g. shutdown), lock
// not available (55P03, lock_timeout). Anything else is deterministic: retrying gives the same.
bool IsTransientSqlState(const std::string& s) {
  if (s.size() != 5) return false;
  std::string cls = s.substr(0, 2);
  return cls == "08" || cls == "40" || cls == "53" || cls == "57" || s == "55P03";
}

std::string ErrorOf(PGconn* c, PGresult* r) {
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

Result<PgRows> TakeRows(PGconn* c, PGresult* r, const std::string& what) {
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string err = ErrorOf(c, r);
    const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    PQclear(r);
    std::string state = sqlstate ? sqlstate : "";
    std::string full = what + ": " + err + (state.empty() ? "" : " (SQLSTATE " + state + ")");
    if (PQstatus(c) != CONNECTION_OK || IsTransientSqlState(state)) return Status::Unavailable(full);
    return Status::IOError(full);
  }
  PgRows rows;
  int nf = PQnfields(r), nt = PQntuples(r);
  for (int f = 0; f < nf; ++f) rows.columns.emplace_back(PQfname(r, f));
  rows.rows.reserve(nt);
  for (int t = 0; t < nt; ++t) {
    std::vector<std::optional<std::string>> row;
    row.reserve(nf);
    for (int f = 0; f < nf; ++f) {
      if (PQgetisnull(r, t, f)) row.emplace_back(std::nullopt);
      else row.emplace_back(std::string(PQgetvalue(r, t, f), PQgetlength(r, t, f)));
    }
    rows.rows.push_back(std::move(row));
  }
  PQclear(r);
  return rows;
}
}  // namespace

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo, const std::string& what) {
  // connect_timeout 5 s unless the conninfo says otherwise (its own value wins): an unreachable
  // address (a deleted pod's IP) must not stall the engine's one thread for minutes.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* vals[] = {"5", conninfo.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, 1);
  if (c == nullptr) return Status::Unavailable("cannot connect to " + what + ": out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string err = ErrorOf(c, nullptr);
    PQfinish(c);
    return Status::Unavailable("cannot connect to " + what + ": " + err);
  }
  // Server notices (e.g. "terminating connection due to ...") become one log line each.
  PQsetNoticeProcessor(c, [](void*, const char* msg) { PGT_LOG_WARN("server notice: ", msg); }, nullptr);
  auto conn = std::unique_ptr<PgConn>(new PgConn(c, what));
  // Stable text forms for values we parse and write back.
  // Stable text forms for the values we parse and write back; never wait forever on a lock
  // (the engine's single thread also feeds the slot and the heartbeat).
  PGT_RETURN_IF_ERROR(conn->Exec("SET DateStyle = ISO; SET TimeZone = 'UTC'; SET extra_float_digits = 3; "
                                 "SET application_name = 'pgtrickle-engine'; SET lock_timeout = '10s'"));
  return conn;
}

PgConn::~PgConn() { PQfinish(conn_); }

bool PgConn::healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

Result<PgRows> PgConn::Query(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  return TakeRows(conn_, r, what_);
}

Result<PgRows> PgConn::QueryParams(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> vals;
  for (const auto& p : params) vals.push_back(p ? p->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(vals.size()), nullptr, vals.data(), nullptr,
                             nullptr, 0);
  return TakeRows(conn_, r, what_);
}

Result<int64_t> PgConn::CopyInStream(const std::string& copy_sql, const std::function<Status(const CopyPut&)>& produce) {
  PGresult* r = PQexec(conn_, copy_sql.c_str());
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    auto rows = TakeRows(conn_, r, what_);
    return rows.ok() ? Status::Internal(what_ + ": COPY FROM did not start") : rows.status();
  }
  PQclear(r);
  bool broken = false;
  Status produced = produce([&](std::string_view data) -> Status {
    // libpq takes an int length: send in pieces (a 2 GiB+ delta must not wrap around).
    constexpr size_t kPiece = 1 << 20;
    for (size_t off = 0; off < data.size(); off += kPiece) {
      int n = static_cast<int>(std::min(kPiece, data.size() - off));
      if (PQputCopyData(conn_, data.data() + off, n) != 1) {
        broken = true;
        return Status::Unavailable(what_ + ": COPY failed: " + ErrorOf(conn_, nullptr));
      }
    }
    return Status::Ok();
  });
  if (broken) return produced;
  // A failed producer ends the COPY with an error: the server discards what it received.
  if (PQputCopyEnd(conn_, produced.ok() ? nullptr : "aborted by the engine") != 1 && produced.ok())
    return Status::Unavailable(what_ + ": COPY failed: " + ErrorOf(conn_, nullptr));
  Status st;
  int64_t copied = -1;
  while ((r = PQgetResult(conn_)) != nullptr) {
    if (PQresultStatus(r) == PGRES_COMMAND_OK && *PQcmdTuples(r)) copied = std::stoll(PQcmdTuples(r));
    auto rows = TakeRows(conn_, r, what_);
    if (!rows.ok() && st.ok()) st = rows.status();
  }
  PGT_RETURN_IF_ERROR(produced);
  PGT_RETURN_IF_ERROR(st);
  return copied;
}

Status PgConn::CopyOutImpl(const std::string& copy_sql, void* ctx, Status (*cb)(void*, const char*, size_t),
                           bool keep_newline) {
  PGresult* r = PQexec(conn_, copy_sql.c_str());
  if (PQresultStatus(r) != PGRES_COPY_OUT) {
    auto rows = TakeRows(conn_, r, what_);
    return rows.ok() ? Status::Internal(what_ + ": COPY TO did not start") : rows.status();
  }
  PQclear(r);
  Status st;
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n == -1) break;
    if (n == -2) return Status::IOError(what_ + ": COPY TO failed: " + ErrorOf(conn_, nullptr));
    size_t len = static_cast<size_t>(n);
    if (!keep_newline && len > 0 && buf[len - 1] == '\n') --len;
    if (st.ok()) st = cb(ctx, buf, len);
    PQfreemem(buf);
  }
  while ((r = PQgetResult(conn_)) != nullptr) {
    auto rows = TakeRows(conn_, r, what_);
    if (!rows.ok() && st.ok()) st = rows.status();
  }
  return st;
}

std::string QuoteIdent(const std::string& ident) {
  std::string out = "\"";
  for (char c : ident) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace pgt::engine
