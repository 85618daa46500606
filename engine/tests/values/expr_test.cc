// Expression compilation and evaluation with SQL semantics.
#include "values/expr.h"

#include <gtest/gtest.h>

#include "values/text_io.h"

namespace pgt::values {
namespace {

using json = nlohmann::json;

json Col(int i, int typoid) { return {{"kind", "col"}, {"col", i}, {"typoid", typoid}}; }
json Const(int typoid, const char* v) { return {{"kind", "const"}, {"typoid", typoid}, {"value", v}}; }
json Null(int typoid) { return {{"kind", "const"}, {"typoid", typoid}, {"null", true}}; }
json Op(const char* fn, std::vector<json> args, int typoid) {
  return {{"kind", "op"}, {"fn", fn}, {"args", args}, {"typoid", typoid}, {"pg_fn", fn}};
}
json BoolE(const char* fn, std::vector<json> args) {
  return {{"kind", "bool"}, {"fn", fn}, {"args", args}, {"typoid", 16}};
}

// Evaluates and renders: "NULL", the text form, or "ERROR: msg".
std::string Ev(const json& j, const Row& row = {}) {
  auto e = CompileExpr(j);
  if (!e.ok()) return "COMPILE: " + e.status().message();
  auto v = Eval(*e.value(), row);
  if (!v.ok()) return "ERROR: " + v.status().message();
  return v->is_null ? "NULL" : FormatText(v.value());
}

constexpr int kInt2 = 21, kInt4 = 23, kInt8 = 20, kNum = 1700, kText = 25, kVarchar = 1043,
              kBool = 16, kDate = 1082, kTs = 1114, kFloat8 = 701, kBpchar = 1042;

TEST(Expr, IntegerArithmeticAndOverflow) {
  EXPECT_EQ(Ev(Op("add", {Const(kInt4, "2147483647"), Const(kInt4, "1")}, kInt4)),
            "ERROR: integer out of range");
  EXPECT_EQ(Ev(Op("add", {Const(kInt4, "2147483647"), Const(kInt8, "1")}, kInt8)), "2147483648");
  EXPECT_EQ(Ev(Op("mul", {Const(kInt2, "200"), Const(kInt2, "200")}, kInt2)),
            "ERROR: smallint out of range");
  EXPECT_EQ(Ev(Op("sub", {Const(kInt8, "-9223372036854775808"), Const(kInt8, "1")}, kInt8)),
            "ERROR: bigint out of range");
  EXPECT_EQ(Ev(Op("mul", {Const(kInt8, "4294967296"), Const(kInt8, "4294967296")}, kInt8)),
            "ERROR: bigint out of range");
  EXPECT_EQ(Ev(Op("div", {Const(kInt4, "-7"), Const(kInt4, "2")}, kInt4)), "-3");
  EXPECT_EQ(Ev(Op("mod", {Const(kInt4, "-7"), Const(kInt4, "2")}, kInt4)), "-1");
  EXPECT_EQ(Ev(Op("mod", {Const(kInt4, "5"), Const(kInt4, "-3")}, kInt4)), "2");
  EXPECT_EQ(Ev(Op("div", {Const(kInt4, "1"), Const(kInt4, "0")}, kInt4)), "ERROR: division by zero");
  EXPECT_EQ(Ev(Op("mod", {Const(kInt4, "1"), Const(kInt4, "0")}, kInt4)), "ERROR: division by zero");
  EXPECT_EQ(Ev(Op("div", {Const(kInt4, "-2147483648"), Const(kInt4, "-1")}, kInt4)),
            "ERROR: integer out of range");
  EXPECT_EQ(Ev(Op("mod", {Const(kInt4, "-2147483648"), Const(kInt4, "-1")}, kInt4)), "0");
  EXPECT_EQ(Ev(Op("div", {Const(kInt2, "-32768"), Const(kInt2, "-1")}, kInt2)),
            "ERROR: smallint out of range");
  EXPECT_EQ(Ev(Op("div", {Const(kInt8, "-9223372036854775808"), Const(kInt8, "-1")}, kInt8)),
            "ERROR: bigint out of range");
  EXPECT_EQ(Ev(Op("neg", {Const(kInt4, "-2147483648")}, kInt4)), "ERROR: integer out of range");
  EXPECT_EQ(Ev(Op("neg", {Const(kInt8, "5")}, kInt8)), "-5");
}

TEST(Expr, NumericArithmetic) {
  EXPECT_EQ(Ev(Op("div", {Const(kNum, "7"), Const(kNum, "3")}, kNum)), "2.3333333333333333");
  EXPECT_EQ(Ev(Op("add", {Const(kInt4, "1"), Const(kNum, "0.50")}, kNum)), "1.50");
  EXPECT_EQ(Ev(Op("mul", {Col(0, kNum), Col(1, kInt8)}, kNum),
                {Value::Str(TypeId::kNumeric, "1.25"), Value::Int(TypeId::kInt8, 4)}),
            "5.00");
  EXPECT_EQ(Ev(Op("div", {Const(kNum, "1"), Const(kNum, "0")}, kNum)), "ERROR: division by zero");
  EXPECT_EQ(Ev(Op("neg", {Const(kNum, "NaN")}, kNum)), "NaN");
}

TEST(Expr, FloatArithmetic) {
  EXPECT_EQ(Ev(Op("add", {Const(kFloat8, "0.1"), Const(kFloat8, "0.2")}, kFloat8)), "0.30000000000000004");
  EXPECT_EQ(Ev(Op("mul", {Const(kFloat8, "1e300"), Const(kFloat8, "1e300")}, kFloat8)),
            "ERROR: value out of range: overflow");
  EXPECT_EQ(Ev(Op("div", {Const(kFloat8, "1"), Const(kFloat8, "0")}, kFloat8)), "ERROR: division by zero");
}

TEST(Expr, NullPropagationAndThreeValuedLogic) {
  json n = Null(kInt4);
  EXPECT_EQ(Ev(Op("add", {n, Const(kInt4, "1")}, kInt4)), "NULL");
  EXPECT_EQ(Ev(Op("eq", {n, Const(kInt4, "1")}, kBool)), "NULL");
  EXPECT_EQ(Ev(Op("cast", {Null(kNum)}, kInt4)), "NULL");
  // Strict functions evaluate every argument: NULL + (1/0) raises as in PostgreSQL.
  EXPECT_EQ(Ev(Op("add", {n, Op("div", {Const(kInt4, "1"), Const(kInt4, "0")}, kInt4)}, kInt4)),
            "ERROR: division by zero");
  json t = Const(kBool, "t"), f = Const(kBool, "f"), u = Null(kBool);
  EXPECT_EQ(Ev(BoolE("and", {t, u})), "NULL");
  EXPECT_EQ(Ev(BoolE("and", {f, u})), "f");
  EXPECT_EQ(Ev(BoolE("and", {u, f})), "f");
  EXPECT_EQ(Ev(BoolE("and", {t, t, t})), "t");
  EXPECT_EQ(Ev(BoolE("or", {t, u})), "t");
  EXPECT_EQ(Ev(BoolE("or", {f, u})), "NULL");
  EXPECT_EQ(Ev(BoolE("or", {f, f})), "f");
  EXPECT_EQ(Ev(BoolE("not", {u})), "NULL");
  EXPECT_EQ(Ev(BoolE("not", {f})), "t");
  json isnull = {{"kind", "nulltest"}, {"negated", false}, {"arg", n}, {"typoid", 16}};
  json notnull = {{"kind", "nulltest"}, {"negated", true}, {"arg", n}, {"typoid", 16}};
  EXPECT_EQ(Ev(isnull), "t");
  EXPECT_EQ(Ev(notnull), "f");
}

TEST(Expr, Comparisons) {
  EXPECT_EQ(Ev(Op("eq", {Const(kInt4, "2"), Const(kNum, "2.00")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("lt", {Const(kInt8, "9223372036854775807"), Const(kNum, "9223372036854775807.5")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("lt", {Const(kText, "B"), Const(kText, "a")}, kBool)), "t");  // collation C
  EXPECT_EQ(Ev(Op("lt", {Const(kText, "ab"), Const(kText, "abc")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("eq", {Const(kBpchar, "ab  "), Const(kBpchar, "ab")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("eq", {Const(kVarchar, "ab"), Const(kText, "ab")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("lt", {Const(kBool, "f"), Const(kBool, "t")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("eq", {Const(kDate, "2024-01-01"), Const(kTs, "2024-01-01 00:00:00")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("lt", {Const(kDate, "2024-01-01"), Const(kTs, "2024-01-01 00:00:01")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("gt", {Const(kDate, "infinity"), Const(kTs, "294276-01-01 00:00:00")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("ge", {Const(kNum, "NaN"), Const(kNum, "Infinity")}, kBool)), "t");
  EXPECT_EQ(Ev(Op("ne", {Const(kFloat8, "NaN"), Const(kFloat8, "NaN")}, kBool)), "f");
  EXPECT_EQ(Ev(Op("eq", {Const(kText, "1"), Const(kInt4, "1")}, kBool)),
            "COMPILE: expression: op \"eq\": cannot compare text with int4");
}

TEST(Expr, Casts) {
  EXPECT_EQ(Ev(Op("cast", {Const(kNum, "2.5")}, kInt4)), "3");
  EXPECT_EQ(Ev(Op("cast", {Const(kNum, "-2.5")}, kInt4)), "-3");
  EXPECT_EQ(Ev(Op("cast", {Const(kNum, "32767.5")}, kInt2)), "ERROR: smallint out of range");
  EXPECT_EQ(Ev(Op("cast", {Const(kInt8, "2147483648")}, kInt4)), "ERROR: integer out of range");
  EXPECT_EQ(Ev(Op("cast", {Const(kInt4, "7")}, kNum)), "7");
  EXPECT_EQ(Ev(Op("cast", {Const(kDate, "2024-03-01")}, kTs)), "2024-03-01 00:00:00");
  EXPECT_EQ(Ev(Op("cast", {Const(kDate, "-infinity")}, kTs)), "-infinity");
  EXPECT_EQ(Ev(Op("cast", {Const(kVarchar, "x y")}, kText)), "x y");
  EXPECT_EQ(Ev(Op("cast", {Const(kBpchar, "ab   ")}, kText)), "ab");
  EXPECT_EQ(Ev(Op("cast", {Const(kBool, "t")}, kText)), "true");
  EXPECT_EQ(Ev(Op("cast", {Const(kInt4, "42")}, kText)), "42");
  EXPECT_EQ(Ev(Op("cast", {Const(kText, "12x")}, kInt4)), "ERROR: invalid input syntax for type integer: \"12x\"");
  EXPECT_EQ(Ev(Op("cast", {Const(kFloat8, "2.5")}, kInt4)), "2");   // rint: half to even
  EXPECT_EQ(Ev(Op("cast", {Const(kFloat8, "3.5")}, kInt4)), "4");
  EXPECT_EQ(Ev(Op("cast", {Const(kFloat8, "0.1")}, kNum)), "0.1");
  EXPECT_EQ(Ev(Op("cast", {Const(1184, "2024-01-01 00:00:00+00")}, kTs)),
            "COMPILE: expression: op \"cast\": unsupported cast from timestamptz to timestamp");
}

TEST(Expr, CompileErrorsNameTheOffender) {
  EXPECT_EQ(Ev({{"kind", "lambda"}, {"typoid", 23}}), "COMPILE: expression: unknown expression kind \"lambda\"");
  EXPECT_EQ(Ev(Op("pow", {Const(kInt4, "1"), Const(kInt4, "2")}, kInt4)),
            "COMPILE: expression: unknown op fn \"pow\"");
  EXPECT_EQ(Ev(Const(600, "(1,2)")), "COMPILE: expression: unsupported type oid 600");
  EXPECT_EQ(Ev(Const(kInt4, "x")), "COMPILE: expression: const: invalid input syntax for type integer: \"x\"");
  EXPECT_EQ(Ev(Op("add", {Const(kInt4, "1")}, kInt4)), "COMPILE: expression: op \"add\" takes 2 argument(s), got 1");
  EXPECT_EQ(Ev(Op("add", {Const(kText, "1"), Const(kInt4, "1")}, kInt4)),
            "COMPILE: expression: op \"add\": arithmetic on text");
  EXPECT_EQ(Ev(BoolE("xor", {Const(kBool, "t")})), "COMPILE: expression: unknown bool fn \"xor\"");
  EXPECT_EQ(Ev(BoolE("and", {Const(kInt4, "1")})), "COMPILE: expression: bool \"and\" argument of type int4");
  EXPECT_EQ(Ev(Col(3, kInt4), {Value::Int(TypeId::kInt4, 1)}), "ERROR: column 3 beyond row of 1 values");
}

// x ± constant interval: the plan's integer fields; timestamptz stays timestamptz (UTC).
TEST(Expr, TimestampPlusIntervalFields) {
  auto add = [](json x, const char* mon, const char* day, const char* us, int typoid) {
    return json{{"kind", "func"}, {"fn", "timestamp_add_interval"},
                {"args", {x, Const(kInt4, mon), Const(kInt4, day), Const(kInt8, us)}}, {"typoid", typoid}};
  };
  EXPECT_EQ(Ev(add(Const(kTs, "2024-01-31 10:00:00"), "1", "0", "0", kTs)), "2024-02-29 10:00:00");
  EXPECT_EQ(Ev(add(Const(kDate, "2024-03-01"), "0", "-1", "3600000000", kTs)), "2024-02-29 01:00:00");
  EXPECT_EQ(Ev(add(Const(1184, "2024-01-31 23:30:00+00"), "1", "1", "0", 1184)), "2024-03-01 23:30:00+00");
  EXPECT_EQ(Ev(add(Null(kTs), "1", "0", "0", kTs)), "NULL");
  EXPECT_EQ(Ev(add(Const(kText, "x"), "1", "0", "0", kTs)),
            "COMPILE: expression: func \"timestamp_add_interval\" argument 0 of type text");
}

TEST(Expr, PredicateAndResultType) {
  auto e = CompileExpr(Op("gt", {Col(0, kInt4), Const(kInt4, "10")}, kBool));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(ResultType(*e.value()), TypeId::kBool);
  EXPECT_TRUE(EvalPredicate(*e.value(), {Value::Int(TypeId::kInt4, 11)}).value());
  EXPECT_FALSE(EvalPredicate(*e.value(), {Value::Int(TypeId::kInt4, 10)}).value());
  EXPECT_FALSE(EvalPredicate(*e.value(), {Value::Null(TypeId::kInt4)}).value());
  Value toast = Value::Str(TypeId::kText, "");
  toast.unchanged_toast = true;
  auto c = CompileExpr(Col(0, kText));
  EXPECT_FALSE(Eval(*c.value(), {toast}).ok());
}

}  // namespace
}  // namespace pgt::values
