// libpq helpers shared by the SQL-backed catalog resolvers (internal).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "walreader/catalog.h"

namespace pgt::internal {

class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() { PQclear(r_); }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  std::string Get(int row, int col) const { return PQgetvalue(r_, row, col); }
  bool Null(int row, int col) const { return PQgetisnull(r_, row, col); }

 private:
  PGresult* r_;
};

// PQexecParams with text parameters; an error result becomes a Status (Unavailable when the
// connection is gone).
Result<std::unique_ptr<PgResult>> PgQuery(PGconn* conn, const std::string& sql,
                                          const std::vector<std::string>& params);

// Several statements (separated by ';', no parameters) sent at once: one round trip, one result
// per statement, each of which must return rows. Errors as PgQuery.
Result<std::vector<std::unique_ptr<PgResult>>> PgQueryBatch(PGconn* conn, const std::string& sql);

// attmissingval::text is a one-element array literal: {42}, {"a b"}, {t}.
std::string FirstArrayElement(const std::string& lit);

// The value of attmissingval (its element's text) for the supported column types.
Result<Value> MissingValue(const AttributeDesc& a, const std::string& text);

// Parses "1,3" (array_to_string of pg_index.indkey) into attnums.
std::vector<int16_t> ParseAttnums(const std::string& s);

}  // namespace pgt::internal
