// Oracle test: replays data/oracle.tsv (results computed by a real PostgreSQL 15 server, see
// data/README.md) through the value layer and requires identical text or error message.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "values/compare.h"
#include "values/decimal.h"
#include "values/expr.h"
#include "values/text_io.h"

#ifndef PGT_VALUES_TEST_DATA
#define PGT_VALUES_TEST_DATA "engine/tests/values/data"
#endif

namespace pgt::values {
namespace {

std::string Render(const Result<Value>& r) {
  if (!r.ok()) return "ERROR: " + r.status().message();
  return r->is_null ? "NULL" : FormatText(r.value());
}

TypeId IntType(std::string_view kind) {
  if (kind.starts_with("int2")) return TypeId::kInt2;
  if (kind.starts_with("int4")) return TypeId::kInt4;
  return TypeId::kInt8;
}

OpFn OpOf(std::string_view name) {
  static const std::map<std::string_view, OpFn> kOps = {
      {"add", OpFn::kAdd}, {"sub", OpFn::kSub}, {"mul", OpFn::kMul},
      {"div", OpFn::kDiv}, {"mod", OpFn::kMod}};
  return kOps.at(name);
}

// Computes what the oracle line asks for, as text (or "ERROR: ...").
std::string Compute(const std::string& kind, const std::string& a, const std::string& b) {
  auto parse = [](TypeId t, const std::string& s) { return ParseText(t, s); };
  if (kind.starts_with("num_") && kind != "num_in" && !kind.starts_with("num_to_")) {
    auto x = parse(TypeId::kNumeric, a), y = parse(TypeId::kNumeric, b);
    if (!x.ok()) return Render(x);
    if (!y.ok()) return Render(y);
    if (kind == "num_cmp") {
      auto c = CompareValues(x.value(), y.value());
      return c.ok() ? std::to_string(c.value()) : "ERROR: " + c.status().message();
    }
    return Render(Arith(OpOf(kind.substr(4)), x.value(), y.value(), TypeId::kNumeric));
  }
  if (kind == "num_in") return Render(parse(TypeId::kNumeric, a));
  if (kind == "num_to_float4") {
    auto x = parse(TypeId::kNumeric, a);
    if (!x.ok()) return Render(x);
    return Render(CastValue(x.value(), TypeId::kFloat4));
  }
  if (kind.starts_with("float8_to_int")) {
    auto x = parse(TypeId::kFloat8, a);
    if (!x.ok()) return Render(x);
    return Render(CastValue(x.value(), IntType(kind.substr(10))));
  }
  if (kind == "date_in") return Render(parse(TypeId::kDate, a));
  if (kind == "ts_in") return Render(parse(TypeId::kTimestamp, a));
  if (kind == "tstz_in") return Render(parse(TypeId::kTimestamptz, a));
  if (kind == "time_in") return Render(parse(TypeId::kTime, a));
  if (kind == "int4_in") return Render(parse(TypeId::kInt4, a));
  if (kind.starts_with("num_to_")) {
    auto x = parse(TypeId::kNumeric, a);
    if (!x.ok()) return Render(x);
    TypeId to = kind == "num_to_int2" ? TypeId::kInt2 : kind == "num_to_int4" ? TypeId::kInt4
              : kind == "num_to_int8" ? TypeId::kInt8 : TypeId::kFloat8;
    return Render(CastValue(x.value(), to));
  }
  if (kind.starts_with("int") && kind != "int4_in") {
    TypeId t = IntType(kind);
    auto x = parse(t, a), y = parse(t, b);
    if (!x.ok()) return Render(x);
    if (!y.ok()) return Render(y);
    return Render(Arith(OpOf(kind.substr(5)), x.value(), y.value(), t));
  }
  if (kind == "float8_out") return Render(parse(TypeId::kFloat8, a));
  if (kind == "float4_out") return Render(parse(TypeId::kFloat4, a));
  if (kind == "float8_to_numeric") {
    auto x = parse(TypeId::kFloat8, a);
    if (!x.ok()) return Render(x);
    return Render(CastValue(x.value(), TypeId::kNumeric));
  }
  if (kind == "date_out") return Render(Value::Int(TypeId::kDate, std::stoll(a)));
  if (kind == "timestamp_out") return Render(Value::Int(TypeId::kTimestamp, std::stoll(a)));
  if (kind == "timestamptz_out") return Render(Value::Int(TypeId::kTimestamptz, std::stoll(a)));
  return "UNKNOWN KIND " + kind;
}

TEST(Oracle, MatchesPostgres15) {
  std::ifstream in(std::string(PGT_VALUES_TEST_DATA) + "/oracle.tsv");
  ASSERT_TRUE(in.good()) << "missing " << PGT_VALUES_TEST_DATA << "/oracle.tsv";
  std::string line;
  int lines = 0, failures = 0;
  std::map<std::string, int> per_kind;
  while (std::getline(in, line)) {
    auto fields = SplitCopyTextLine(line);
    ASSERT_TRUE(fields.ok() && fields->size() == 4) << line;
    const std::string kind = *(*fields)[0], a = *(*fields)[1], b = *(*fields)[2];
    const std::string want = *(*fields)[3];
    std::string got = Compute(kind, a, b);
    // Date/time lines are also parsed back from PostgreSQL's text.
    if (got == want && (kind == "date_out" || kind.starts_with("timestamp"))) {
      TypeId t = kind == "date_out" ? TypeId::kDate
                 : kind == "timestamp_out" ? TypeId::kTimestamp : TypeId::kTimestamptz;
      auto back = ParseText(t, want);
      if (!back.ok() || back->i != std::stoll(a)) got = "PARSE-BACK MISMATCH for " + want;
    }
    lines++;
    per_kind[kind]++;
    if (got != want) {
      if (++failures <= 40) ADD_FAILURE() << kind << "(" << a << ", " << b << "): want [" << want
                                          << "] got [" << got << "]";
    }
  }
  EXPECT_EQ(failures, 0) << "of " << lines << " lines";
  EXPECT_GT(lines, 10000);
  EXPECT_GE(per_kind.size(), 30u);
}

}  // namespace
}  // namespace pgt::values
