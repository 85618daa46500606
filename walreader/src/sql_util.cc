// libpq helpers shared by the SQL-backed catalog resolvers: see sql_util.h.
#include "sql_util.h"

#include <cstdlib>

namespace pgt::internal {

Result<std::unique_ptr<PgResult>> PgQuery(PGconn* conn, const std::string& sql,
                                          const std::vector<std::string>& params) {
  std::vector<const char*> p;
  for (const auto& s : params) p.push_back(s.c_str());
  auto r = std::make_unique<PgResult>(PQexecParams(conn, sql.c_str(), static_cast<int>(p.size()),
                                                   nullptr, p.data(), nullptr, nullptr, 0));
  if (PQresultStatus(r->get()) != PGRES_TUPLES_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable("catalog connection lost: " + msg);
    return Status::InvalidArgument("catalog query failed: " + msg);
  }
  return r;
}

Result<std::vector<std::unique_ptr<PgResult>>> PgQueryBatch(PGconn* conn, const std::string& sql) {
  auto failed = [&](std::string msg) -> Status {
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    if (PQstatus(conn) != CONNECTION_OK) return Status::Unavailable("catalog connection lost: " + msg);
    return Status::InvalidArgument("catalog query failed: " + msg);
  };
  if (PQsendQuery(conn, sql.c_str()) == 0) return failed(PQerrorMessage(conn));
  std::vector<std::unique_ptr<PgResult>> out;
  std::string error;
  // Every result is read (up to the NULL that ends the command), also after an error.
  while (PGresult* r = PQgetResult(conn)) {
    auto res = std::make_unique<PgResult>(r);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      if (error.empty()) error = PQresultErrorMessage(r);
    } else {
      out.push_back(std::move(res));
    }
  }
  if (!error.empty() || PQstatus(conn) != CONNECTION_OK)
    return failed(error.empty() ? PQerrorMessage(conn) : error);
  return out;
}

std::string FirstArrayElement(const std::string& lit) {
  if (lit.size() < 2) return lit;
  std::string body = lit.substr(1, lit.size() - 2);
  if (body.empty() || body[0] != '"') return body;
  std::string out;
  for (size_t i = 1; i < body.size() && body[i] != '"'; i++) {
    if (body[i] == '\\' && i + 1 < body.size()) i++;
    out += body[i];
  }
  return out;
}

Result<Value> MissingValue(const AttributeDesc& a, const std::string& text) {
  switch (a.type) {
    case TypeId::kBool: return Value::Bool(text == "t" || text == "true");
    case TypeId::kInt2:
    case TypeId::kInt4:
    case TypeId::kInt8:
    case TypeId::kOid: return Value::Int(a.type, std::stoll(text));
    case TypeId::kFloat4:
    case TypeId::kFloat8: {
      Value v = Value::Int(a.type, 0);
      v.f = std::strtod(text.c_str(), nullptr);
      return v;
    }
    case TypeId::kNumeric:
    case TypeId::kText:
    case TypeId::kVarchar:
    case TypeId::kBpchar:
    case TypeId::kJson: return Value::Str(a.type, text);
    default:
      return Status::Unsupported("column " + a.name + ": default for a column added later of type " +
                                 std::to_string(a.type_oid) + " is not supported yet");
  }
}

std::vector<int16_t> ParseAttnums(const std::string& s) {
  std::vector<int16_t> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(static_cast<int16_t>(std::stoi(s.substr(pos, comma - pos))));
    pos = comma + 1;
  }
  return out;
}

}  // namespace pgt::internal
