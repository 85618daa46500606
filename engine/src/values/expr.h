// Expressions of the plan format (docs/plan-format.md "Expressions"): compiled once from JSON
// into an Expr tree, then evaluated per row with SQL semantics (NULL propagation, three-valued
// AND/OR/NOT, PostgreSQL's overflow and division errors, exact numeric).
//
// An Expr is immutable after CompileExpr; Eval is thread-safe on a shared Expr.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::values {

enum class ExprKind : uint8_t { kCol, kConst, kOp, kBool, kNullTest, kCoalesce, kCase, kNullIf, kMinMax, kText };
enum class OpFn : uint8_t { kAdd, kSub, kMul, kDiv, kMod, kNeg, kEq, kNe, kLt, kLe, kGt, kGe,
                            kCast };
enum class BoolFn : uint8_t { kAnd, kOr, kNot };

struct Expr {
  ExprKind kind = ExprKind::kConst;
  TypeId type = TypeId::kUnknown;   // result type
  Oid typoid = 0;
  int col = -1;                     // kCol
  Value constant;                   // kConst (parsed once)
  OpFn op = OpFn::kAdd;             // kOp
  BoolFn bool_fn = BoolFn::kAnd;    // kBool
  bool negated = false;             // kNullTest: IS NOT NULL; kMinMax: true = LEAST
  // kCase: args = cond0, then0, cond1, then1, ..., [else]; has_else says whether the last is ELSE.
  bool has_else = false;
  uint8_t text_fn = 0;              // kText: a values::TextFn
  std::string pg_fn;                // kOp: PostgreSQL function name, for messages
  std::vector<std::unique_ptr<Expr>> args;
};

// Validates and compiles one expression node (recursively). Unknown kind/fn/type, wrong arity,
// argument types an operator does not accept, or casts not supported -> InvalidArgument naming
// the offender.
Result<std::unique_ptr<Expr>> CompileExpr(const nlohmann::json& j);

// Evaluates against a row (values indexed by column position). A column index beyond the row
// is an InvalidArgument error. Evaluation errors carry PostgreSQL's messages
// ("integer out of range", "division by zero", ...).
Result<Value> Eval(const Expr& e, const Row& row);

// true only for a non-NULL TRUE; errors if the result is not boolean.
Result<bool> EvalPredicate(const Expr& e, const Row& row);

inline TypeId ResultType(const Expr& e) { return e.type; }

// Casting a non-NULL value to `target` (the cast node's semantics); exposed for aggregates.
Result<Value> CastValue(const Value& v, TypeId target);
// Whether CastValue supports from -> to.
bool CastSupported(TypeId from, TypeId to);

// Arithmetic on two non-NULL values with result type `result` (op in add..mod).
Result<Value> Arith(OpFn op, const Value& a, const Value& b, TypeId result);
Result<Value> Negate(const Value& a, TypeId result);

}  // namespace pgt::values
