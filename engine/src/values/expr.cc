// Expression compilation (JSON -> Expr) and evaluation (see expr.h).
#include "values/expr.h"

#include "values/compare.h"
#include "values/text_funcs.h"
#include "values/text_io.h"

#include <optional>

namespace pgt::values {
namespace {

using json = nlohmann::json;

struct OpInfo {
  const char* name;
  OpFn fn;
  int arity;
};
constexpr OpInfo kOps[] = {
    {"add", OpFn::kAdd, 2}, {"sub", OpFn::kSub, 2}, {"mul", OpFn::kMul, 2},
    {"div", OpFn::kDiv, 2}, {"mod", OpFn::kMod, 2}, {"neg", OpFn::kNeg, 1},
    {"eq", OpFn::kEq, 2},   {"ne", OpFn::kNe, 2},   {"lt", OpFn::kLt, 2},
    {"le", OpFn::kLe, 2},   {"gt", OpFn::kGt, 2},   {"ge", OpFn::kGe, 2},
    {"cast", OpFn::kCast, 1},
};

bool IsArith(OpFn f) { return f <= OpFn::kNeg; }
bool IsCompare(OpFn f) { return f >= OpFn::kEq && f <= OpFn::kGe; }

bool Numberish(TypeId t) {
  Family f = FamilyOf(t);
  return f == Family::kInteger || f == Family::kNumeric || f == Family::kFloat;
}

Status Bad(const std::string& m) { return Status::InvalidArgument("expression: " + m); }

Result<TypeId> TypeOf(const json& j) {
  auto it = j.find("typoid");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
      it->get<int64_t>() > UINT32_MAX)
    return Bad("node without a valid \"typoid\": " + j.dump());
  Oid oid = static_cast<Oid>(it->get<int64_t>());
  TypeId t = TypeIdFromOid(oid);
  if (t == TypeId::kUnknown) return Bad("unsupported type oid " + std::to_string(oid));
  return t;
}

Result<std::vector<std::unique_ptr<Expr>>> CompileArgs(const json& j, const std::string& what) {
  auto it = j.find("args");
  if (it == j.end() || !it->is_array()) return Bad(what + " without an \"args\" array");
  std::vector<std::unique_ptr<Expr>> out;
  for (const json& a : *it) {
    PGT_ASSIGN_OR_RETURN(std::unique_ptr<Expr> e, CompileExpr(a));
    out.push_back(std::move(e));
  }
  return out;
}

Status CheckOp(const Expr& e) {
  std::string where = "op \"" + e.pg_fn + "\"";
  auto tn = [](const std::unique_ptr<Expr>& a) { return std::string(TypeName(a->type)); };
  if (IsArith(e.op)) {
    bool int_result = FamilyOf(e.type) == Family::kInteger && e.type != TypeId::kOid;
    bool float_result = FamilyOf(e.type) == Family::kFloat;
    if (!int_result && !float_result && e.type != TypeId::kNumeric)
      return Bad(where + ": arithmetic with result type " + TypeName(e.type));
    if (float_result && e.op == OpFn::kMod) return Bad(where + ": mod on floating point");
    for (const auto& a : e.args) {
      if (!Numberish(a->type) || a->type == TypeId::kOid)
        return Bad(where + ": arithmetic on " + tn(a));
      if (int_result && FamilyOf(a->type) != Family::kInteger)
        return Bad(where + ": integer result from " + tn(a));
      if (e.type == TypeId::kNumeric && FamilyOf(a->type) == Family::kFloat)
        return Bad(where + ": numeric result from " + tn(a));
    }
    return Status::Ok();
  }
  if (IsCompare(e.op)) {
    if (e.type != TypeId::kBool) return Bad(where + ": comparison must return bool");
    if (!Comparable(e.args[0]->type, e.args[1]->type))
      return Bad(where + ": cannot compare " + tn(e.args[0]) + " with " + tn(e.args[1]));
    return Status::Ok();
  }
  if (!CastSupported(e.args[0]->type, e.type))
    return Bad(where + ": unsupported cast from " + tn(e.args[0]) + " to " + TypeName(e.type));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Expr>> CompileExpr(const json& j) {
  if (!j.is_object()) return Bad("node is not an object: " + j.dump());
  auto kit = j.find("kind");
  if (kit == j.end() || !kit->is_string()) return Bad("node without \"kind\": " + j.dump());
  const std::string kind = kit->get<std::string>();
  auto e = std::make_unique<Expr>();
  PGT_ASSIGN_OR_RETURN(e->type, TypeOf(j));
  e->typoid = static_cast<Oid>(j["typoid"].get<int64_t>());
  if (kind == "col") {
    e->kind = ExprKind::kCol;
    auto c = j.find("col");
    if (c == j.end() || !c->is_number_integer() || c->get<int64_t>() < 0 ||
        c->get<int64_t>() > 100000)
      return Bad("col node without a valid \"col\": " + j.dump());
    e->col = c->get<int>();
  } else if (kind == "const") {
    e->kind = ExprKind::kConst;
    auto n = j.find("null");
    if (n != j.end() && n->is_boolean() && n->get<bool>()) {
      e->constant = Value::Null(e->type);
    } else {
      auto v = j.find("value");
      if (v == j.end() || !v->is_string()) return Bad("const without a string \"value\": " + j.dump());
      Result<Value> parsed = ParseText(e->type, v->get<std::string>());
      if (!parsed.ok()) return Bad("const: " + parsed.status().message());
      e->constant = std::move(parsed).value();
    }
  } else if (kind == "op") {
    e->kind = ExprKind::kOp;
    auto f = j.find("fn");
    if (f == j.end() || !f->is_string()) return Bad("op without \"fn\": " + j.dump());
    const std::string fn = f->get<std::string>();
    const OpInfo* info = nullptr;
    for (const auto& o : kOps)
      if (fn == o.name) info = &o;
    if (!info) return Bad("unknown op fn \"" + fn + "\"");
    e->op = info->fn;
    auto pf = j.find("pg_fn");
    e->pg_fn = pf != j.end() && pf->is_string() ? pf->get<std::string>() : fn;
    PGT_ASSIGN_OR_RETURN(e->args, CompileArgs(j, "op \"" + fn + "\""));
    if (static_cast<int>(e->args.size()) != info->arity)
      return Bad("op \"" + fn + "\" takes " + std::to_string(info->arity) + " argument(s), got " +
                 std::to_string(e->args.size()));
    PGT_RETURN_IF_ERROR(CheckOp(*e));
  } else if (kind == "bool") {
    e->kind = ExprKind::kBool;
    auto f = j.find("fn");
    std::string fn = f != j.end() && f->is_string() ? f->get<std::string>() : "";
    if (fn == "and") e->bool_fn = BoolFn::kAnd;
    else if (fn == "or") e->bool_fn = BoolFn::kOr;
    else if (fn == "not") e->bool_fn = BoolFn::kNot;
    else return Bad("unknown bool fn \"" + fn + "\"");
    PGT_ASSIGN_OR_RETURN(e->args, CompileArgs(j, "bool \"" + fn + "\""));
    if (e->args.empty() || (e->bool_fn == BoolFn::kNot && e->args.size() != 1))
      return Bad("bool \"" + fn + "\" with " + std::to_string(e->args.size()) + " argument(s)");
    for (const auto& a : e->args)
      if (a->type != TypeId::kBool) return Bad("bool \"" + fn + "\" argument of type " + TypeName(a->type));
    if (e->type != TypeId::kBool) return Bad("bool \"" + fn + "\" must return bool");
  } else if (kind == "nulltest") {
    e->kind = ExprKind::kNullTest;
    auto neg = j.find("negated");
    if (neg != j.end() && !neg->is_boolean()) return Bad("nulltest \"negated\" is not a boolean");
    e->negated = neg != j.end() && neg->get<bool>();
    auto a = j.find("arg");
    if (a == j.end()) return Bad("nulltest without \"arg\"");
    PGT_ASSIGN_OR_RETURN(std::unique_ptr<Expr> arg, CompileExpr(*a));
    e->args.push_back(std::move(arg));
    if (e->type != TypeId::kBool) return Bad("nulltest must return bool");
  } else if (kind == "coalesce" || kind == "nullif" || kind == "greatest" || kind == "least") {
    e->kind = kind == "coalesce" ? ExprKind::kCoalesce : kind == "nullif" ? ExprKind::kNullIf : ExprKind::kMinMax;
    e->negated = kind == "least";
    PGT_ASSIGN_OR_RETURN(e->args, CompileArgs(j, kind));
    if (e->args.empty() || (e->kind == ExprKind::kNullIf && e->args.size() != 2))
      return Bad(kind + " with " + std::to_string(e->args.size()) + " argument(s)");
    if (e->kind != ExprKind::kCoalesce && !Comparable(e->args[0]->type, e->args.back()->type))
      return Bad(kind + " over " + TypeName(e->args[0]->type) + " and " + TypeName(e->args.back()->type));
  } else if (kind == "func") {
    e->kind = ExprKind::kText;
    auto f = j.find("fn");
    if (f == j.end() || !f->is_string()) return Bad("func without \"fn\"");
    PGT_ASSIGN_OR_RETURN(e->args, CompileArgs(j, "func"));
    PGT_ASSIGN_OR_RETURN(TextFn tf, ParseTextFn(f->get<std::string>(), e->args.size()));
    e->text_fn = static_cast<uint8_t>(tf);
    e->pg_fn = f->get<std::string>();
    for (size_t i = 0; i < e->args.size(); ++i) {
      TypeId t = e->args[i]->type;
      bool is_int = FamilyOf(t) == Family::kInteger, is_text = t == TypeId::kText || t == TypeId::kVarchar;
      bool is_ts = t == TypeId::kTimestamp || t == TypeId::kTimestamptz;   // timestamptz: in UTC
      bool ok;
      switch (tf) {
        case TextFn::kSubstr: ok = i > 0 ? is_int : is_text; break;
        case TextFn::kExtract: ok = i == 0 ? is_text : (t == TypeId::kDate || is_ts); break;
        case TextFn::kDateTrunc: ok = i == 0 ? is_text : is_ts; break;
        case TextFn::kDateAdd: case TextFn::kDateSub: ok = i == 0 ? t == TypeId::kDate : is_int; break;
        case TextFn::kTsAddInterval: ok = i == 0 ? (t == TypeId::kDate || is_ts) : is_int; break;
        default: ok = is_text;
      }
      if (!ok) return Bad("func \"" + e->pg_fn + "\" argument " + std::to_string(i) + " of type " + TypeName(t));
    }
  } else if (kind == "case") {
    e->kind = ExprKind::kCase;
    auto w = j.find("whens");
    if (w == j.end() || !w->is_array() || w->empty()) return Bad("case without \"whens\"");
    for (const json& arm : *w) {
      if (!arm.is_object() || !arm.contains("cond") || !arm.contains("then")) return Bad("case arm without cond/then");
      PGT_ASSIGN_OR_RETURN(auto cond, CompileExpr(arm["cond"]));
      if (cond->type != TypeId::kBool) return Bad("case condition of type " + std::string(TypeName(cond->type)));
      PGT_ASSIGN_OR_RETURN(auto then, CompileExpr(arm["then"]));
      e->args.push_back(std::move(cond));
      e->args.push_back(std::move(then));
    }
    auto el = j.find("else");
    if (el != j.end() && !el->is_null()) {
      PGT_ASSIGN_OR_RETURN(auto other, CompileExpr(*el));
      e->args.push_back(std::move(other));
      e->has_else = true;
    }
  } else {
    return Bad("unknown expression kind \"" + kind + "\"");
  }
  return e;
}

namespace {
// Result values take the node's declared type (the analyzer coerced the branches to it).
Value As(Value v, TypeId t) {
  if (v.type == TypeId::kVarchar && t == TypeId::kText) v.type = t;
  if (v.is_null) v.type = t;
  return v;
}

Result<Value> EvalConditional(const Expr& e, const Row& row) {
  switch (e.kind) {
    case ExprKind::kCoalesce:   // lazily, like PostgreSQL: later arguments are not evaluated
      for (const auto& a : e.args) {
        PGT_ASSIGN_OR_RETURN(Value v, Eval(*a, row));
        if (!v.is_null) return As(std::move(v), e.type);
      }
      return Value::Null(e.type);
    case ExprKind::kNullIf: {   // NULLIF(a, b) = NULL if a = b, else a
      PGT_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0], row));
      PGT_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1], row));
      if (a.is_null || b.is_null) return As(std::move(a), e.type);
      PGT_ASSIGN_OR_RETURN(int c, CompareValues(a, b));
      return c == 0 ? Value::Null(e.type) : As(std::move(a), e.type);
    }
    case ExprKind::kMinMax: {   // GREATEST/LEAST ignore NULLs; NULL only if all are NULL
      std::optional<Value> best;
      for (const auto& a : e.args) {
        PGT_ASSIGN_OR_RETURN(Value v, Eval(*a, row));
        if (v.is_null) continue;
        if (!best) { best = std::move(v); continue; }
        PGT_ASSIGN_OR_RETURN(int c, CompareValues(v, *best));
        if (e.negated ? c < 0 : c > 0) best = std::move(v);
      }
      return best ? As(std::move(*best), e.type) : Value::Null(e.type);
    }
    default: {                  // CASE: the first arm whose condition is TRUE
      size_t arms = (e.args.size() - (e.has_else ? 1 : 0)) / 2;
      for (size_t i = 0; i < arms; ++i) {
        PGT_ASSIGN_OR_RETURN(bool hit, EvalPredicate(*e.args[2 * i], row));
        if (hit) {
          PGT_ASSIGN_OR_RETURN(Value v, Eval(*e.args[2 * i + 1], row));
          return As(std::move(v), e.type);
        }
      }
      if (!e.has_else) return Value::Null(e.type);
      PGT_ASSIGN_OR_RETURN(Value v, Eval(*e.args.back(), row));
      return As(std::move(v), e.type);
    }
  }
}
}  // namespace

Result<Value> Eval(const Expr& e, const Row& row) {
  switch (e.kind) {
    case ExprKind::kCol: {
      if (e.col < 0 || static_cast<size_t>(e.col) >= row.size())
        return Status::InvalidArgument("column " + std::to_string(e.col) + " beyond row of " +
                                       std::to_string(row.size()) + " values");
      const Value& v = row[e.col];
      if (v.unchanged_toast)
        return Status::Internal("column " + std::to_string(e.col) +
                                " holds an unresolved unchanged TOAST value");
      return v;
    }
    case ExprKind::kConst: return e.constant;
    case ExprKind::kOp: {
      // Strict functions: every argument is evaluated (errors surface), then NULL in -> NULL out.
      PGT_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0], row));
      if (e.args.size() == 1) {
        if (a.is_null) return Value::Null(e.type);
        return e.op == OpFn::kNeg ? Negate(a, e.type) : CastValue(a, e.type);
      }
      PGT_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1], row));
      if (a.is_null || b.is_null) return Value::Null(e.type);
      if (IsArith(e.op)) return Arith(e.op, a, b, e.type);
      PGT_ASSIGN_OR_RETURN(int c, CompareValues(a, b));
      switch (e.op) {
        case OpFn::kEq: return Value::Bool(c == 0);
        case OpFn::kNe: return Value::Bool(c != 0);
        case OpFn::kLt: return Value::Bool(c < 0);
        case OpFn::kLe: return Value::Bool(c <= 0);
        case OpFn::kGt: return Value::Bool(c > 0);
        default: return Value::Bool(c >= 0);
      }
    }
    case ExprKind::kBool: {
      if (e.bool_fn == BoolFn::kNot) {
        PGT_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0], row));
        return a.is_null ? Value::Null(TypeId::kBool) : Value::Bool(a.i == 0);
      }
      // AND: any FALSE -> FALSE, else any NULL -> NULL; OR symmetrically. Short-circuits.
      bool decisive = e.bool_fn == BoolFn::kOr;
      bool saw_null = false;
      for (const auto& arg : e.args) {
        PGT_ASSIGN_OR_RETURN(Value a, Eval(*arg, row));
        if (a.is_null) { saw_null = true; continue; }
        if ((a.i != 0) == decisive) return Value::Bool(decisive);
      }
      return saw_null ? Value::Null(TypeId::kBool) : Value::Bool(!decisive);
    }
    case ExprKind::kNullTest: {
      PGT_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0], row));
      return Value::Bool(a.is_null != e.negated);
    }
    case ExprKind::kCoalesce: case ExprKind::kCase: case ExprKind::kNullIf: case ExprKind::kMinMax:
      return EvalConditional(e, row);
    case ExprKind::kText: {   // strict: NULL in, NULL out
      std::vector<Value> args;
      args.reserve(e.args.size());
      bool null = false;
      for (const auto& a : e.args) {
        PGT_ASSIGN_OR_RETURN(Value v, Eval(*a, row));
        null |= v.is_null;
        args.push_back(std::move(v));
      }
      if (null) return Value::Null(e.type);
      return EvalTextFn(static_cast<TextFn>(e.text_fn), args, e.type);
    }
  }
  return Status::Internal("unknown expression kind");
}

Result<bool> EvalPredicate(const Expr& e, const Row& row) {
  PGT_ASSIGN_OR_RETURN(Value v, Eval(e, row));
  if (v.type != TypeId::kBool) return Status::InvalidArgument(std::string("predicate of type ") + TypeName(v.type));
  return !v.is_null && v.i != 0;
}

}  // namespace pgt::values
