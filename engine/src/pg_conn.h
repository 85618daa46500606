// PgConn: a small owning wrapper over a libpq connection with errors as values.
// One connection per PgConn; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <libpq-fe.h>

#include "walreader/status.h"

namespace pgt::engine {

// Rows of a text-format result: nullopt = SQL NULL.
struct PgRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  const std::optional<std::string>& at(size_t r, size_t c) const { return rows[r][c]; }
};

class PgConn {
 public:
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo, const std::string& what);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one or more statements; returns the rows of the last one.
  Result<PgRows> Query(const std::string& sql);
  Result<PgRows> QueryParams(const std::string& sql, const std::vector<std::optional<std::string>>& params);
  Status Exec(const std::string& sql) { return Query(sql).status(); }
  // COPY ... FROM STDIN (COPY text format), returning the rows the server copied; the data is
  // produced piece by piece: `produce` calls `put` for each piece, which
  // is sent at once (nothing accumulates here). An error from `produce` (its own or put's)
  // aborts the COPY, and is returned.
  using CopyPut = std::function<Status(std::string_view)>;
  Result<int64_t> CopyInStream(const std::string& copy_sql, const std::function<Status(const CopyPut&)>& produce);
  // COPY ... TO STDOUT: calls `on_line` for each line (without the trailing newline; with
  // `keep_newline`, each CopyData message as sent: binary COPY).
  template <typename F>
  Status CopyOut(const std::string& copy_sql, F&& on_line, bool keep_newline = false);
  bool healthy() const;
  const std::string& what() const { return what_; }
  PGconn* raw() { return conn_; }

 private:
  PgConn(PGconn* c, std::string what) : conn_(c), what_(std::move(what)) {}
  Status CopyOutImpl(const std::string& copy_sql, void* ctx, Status (*cb)(void*, const char*, size_t), bool keep_newline);
  PGconn* conn_;
  std::string what_;
};

template <typename F>
Status PgConn::CopyOut(const std::string& copy_sql, F&& on_line, bool keep_newline) {
  return CopyOutImpl(copy_sql, &on_line, [](void* ctx, const char* data, size_t len) -> Status {
    return (*static_cast<std::remove_reference_t<F>*>(ctx))(std::string_view(data, len));
  }, keep_newline);
}

// Double-quoted identifier (PostgreSQL quote_ident, always quoted).
std::string QuoteIdent(const std::string& ident);
// Single-quoted literal.
std::string QuoteLiteral(const std::string& text);

}  // namespace pgt::engine
