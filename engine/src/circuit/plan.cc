// Plan JSON (versions 1 and 2) → circuit of Z-set operators.
#include "circuit/plan.h"

#include "circuit/aggregate.h"
#include "circuit/distinct.h"
#include "circuit/join.h"
#include "circuit/linear.h"
#include "circuit/semi_join.h"
#include "circuit/set_op.h"

namespace pgt::engine {
namespace {
using nlohmann::json;

Status Need(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return Status::InvalidArgument("plan: " + where + " lacks \"" + key + "\"");
  return Status::Ok();
}

// Largest column index an expression reads (-1 if none).
int MaxCol(const values::Expr& e) {
  int m = e.kind == values::ExprKind::kCol ? e.col : -1;
  for (const auto& a : e.args) m = std::max(m, MaxCol(*a));
  return m;
}

Result<std::unique_ptr<values::Expr>> Compile(const json& j, const std::string& where, int width) {
  auto e = values::CompileExpr(j);
  if (!e.ok()) return e.status().WithContext("plan: " + where);
  if (MaxCol(**e) >= width)
    return Status::InvalidArgument("plan: " + where + " reads column " + std::to_string(MaxCol(**e)) +
                                   " of a " + std::to_string(width) + "-column input");
  return std::move(e).value();
}

Result<AggFn> ParseAggFn(const std::string& s) {
  if (s == "count_star") return AggFn::kCountStar;
  if (s == "count") return AggFn::kCount;
  if (s == "sum") return AggFn::kSum;
  if (s == "avg") return AggFn::kAvg;
  if (s == "min") return AggFn::kMin;
  if (s == "max") return AggFn::kMax;
  return Status::Unsupported("plan: aggregate function \"" + s + "\" is not supported by this engine");
}

Result<std::unique_ptr<AggregateOp>> ParseAggregate(const json& op, int width) {
  auto agg = std::make_unique<AggregateOp>();
  PGT_RETURN_IF_ERROR(Need(op, "group_by", "aggregate"));
  PGT_RETURN_IF_ERROR(Need(op, "aggs", "aggregate"));
  size_t i = 0;
  for (const auto& g : op["group_by"]) {
    PGT_ASSIGN_OR_RETURN(auto e, Compile(g, "group key " + std::to_string(i++), width));
    agg->group_by.push_back(std::move(e));
  }
  i = 0;
  for (const auto& a : op["aggs"]) {
    AggSpec spec;
    PGT_ASSIGN_OR_RETURN(spec.fn, ParseAggFn(a.at("fn").get<std::string>()));
    spec.result_type = TypeIdFromOid(a.at("typoid").get<Oid>());
    if (spec.result_type == TypeId::kUnknown)
      return Status::Unsupported("plan: aggregate " + std::to_string(i) + " has unsupported result type");
    if (spec.fn != AggFn::kCountStar) {
      if (!a.contains("arg") || a["arg"].is_null())
        return Status::InvalidArgument("plan: aggregate " + std::to_string(i) + " lacks its argument");
      PGT_ASSIGN_OR_RETURN(spec.arg, Compile(a["arg"], "aggregate argument " + std::to_string(i), width));
      spec.arg_type = values::ResultType(*spec.arg);
      spec.distinct = a.value("distinct", false);
    }
    agg->aggs.push_back(std::move(spec));
    ++i;
  }
  return agg;
}

Result<JoinKind> ParseJoinKind(const std::string& s) {
  if (s == "inner") return JoinKind::kInner;
  if (s == "left") return JoinKind::kLeft;
  if (s == "right") return JoinKind::kRight;
  if (s == "full") return JoinKind::kFull;
  return Status::Unsupported("plan: join kind \"" + s + "\" is not supported by this engine");
}

class Builder {
 public:
  Builder(const Plan& plan, const std::string& prefix, Circuit* c) : plan_(plan), prefix_(prefix), c_(c) {}

  Result<Node*> Build(const json& op, int depth) {
    if (depth > 200) return Status::Unsupported("plan: operator tree too deep");
    PGT_RETURN_IF_ERROR(Need(op, "op", "operator"));
    std::string kind = op["op"].get<std::string>();
    if (kind == "scan") return Scan(op);
    if (kind == "join") return Join(op, depth);
    if (kind == "union_all") return UnionAll(op, depth);
    if (kind == "setop") return SetOp(op, depth);
    if (kind != "filter" && kind != "project" && kind != "aggregate" && kind != "distinct")
      return Status::Unsupported("plan: operator \"" + kind + "\" is not supported by this engine");
    PGT_RETURN_IF_ERROR(Need(op, "input", kind));
    PGT_ASSIGN_OR_RETURN(Node* in, Build(op["input"], depth + 1));
    std::unique_ptr<Node> node;
    if (kind == "filter") {
      PGT_RETURN_IF_ERROR(Need(op, "predicate", "filter"));
      PGT_ASSIGN_OR_RETURN(auto pred, Compile(op["predicate"], "filter predicate", in->width()));
      node = std::make_unique<FilterNode>(std::move(pred));
      node->set_width(in->width());
    } else if (kind == "project") {
      PGT_RETURN_IF_ERROR(Need(op, "exprs", "project"));
      std::vector<std::unique_ptr<values::Expr>> exprs;
      size_t i = 0;
      for (const auto& e : op["exprs"]) {
        PGT_ASSIGN_OR_RETURN(auto ce, Compile(e, "project expression " + std::to_string(i++), in->width()));
        exprs.push_back(std::move(ce));
      }
      node = std::make_unique<ProjectNode>(std::move(exprs));
    } else if (kind == "aggregate") {
      PGT_ASSIGN_OR_RETURN(auto agg, ParseAggregate(op, in->width()));
      node = std::make_unique<AggregateNode>(std::move(agg), NextPrefix());
    } else {
      node = std::make_unique<DistinctNode>(in->width(), NextPrefix());
    }
    return Add(std::move(node), {in});
  }

 private:
  std::string NextPrefix() {
    std::string p = prefix_;
    uint16_t n = next_state_++;
    p.push_back(static_cast<char>(n >> 8));
    p.push_back(static_cast<char>(n & 0xff));
    return p;
  }

  Node* Add(std::unique_ptr<Node> node, const std::vector<Node*>& inputs) {
    for (size_t i = 0; i < inputs.size(); ++i) inputs[i]->ConnectTo(node.get(), static_cast<int>(i));
    c_->nodes.push_back(std::move(node));
    return c_->nodes.back().get();
  }

  Result<Node*> Scan(const json& op) {
    int src = op.value("source", -1);
    if (src < 0 || src >= static_cast<int>(plan_.sources.size()))
      return Status::InvalidArgument("plan: scan of unknown source " + std::to_string(src));
    const SourceSpec& s = plan_.sources[static_cast<size_t>(src)];
    auto node = std::make_unique<ScanNode>(src, s.natts, s.key_attnums);
    c_->scans.push_back(node.get());
    return Add(std::move(node), {});
  }

  // Key pairs and residual condition of a join (inner/outer or semi/anti: same JSON fields).
  template <typename Spec>
  Status JoinKeys(const json& op, Spec* spec) {
    if (op["left_keys"].size() != op["right_keys"].size())
      return Status::InvalidArgument("plan: join with unequal key lists");
    for (size_t i = 0; i < op["left_keys"].size(); ++i) {
      PGT_ASSIGN_OR_RETURN(auto lk, Compile(op["left_keys"][i], "join left key", spec->left_width));
      PGT_ASSIGN_OR_RETURN(auto rk, Compile(op["right_keys"][i], "join right key", spec->right_width));
      spec->left_keys.push_back(std::move(lk));
      spec->right_keys.push_back(std::move(rk));
    }
    if (op.contains("residual") && !op["residual"].is_null()) {
      PGT_ASSIGN_OR_RETURN(spec->residual, Compile(op["residual"], "join condition", spec->left_width + spec->right_width));
    }
    return Status::Ok();
  }

  Result<Node*> SemiJoin(const json& op, SemiKind kind, int depth) {
    SemiJoinSpec spec;
    spec.kind = kind;
    PGT_ASSIGN_OR_RETURN(Node* l, Build(op["left"], depth + 1));
    PGT_ASSIGN_OR_RETURN(Node* r, Build(op["right"], depth + 1));
    spec.left_width = l->width();
    spec.right_width = r->width();
    PGT_RETURN_IF_ERROR(JoinKeys(op, &spec));
    if (kind == SemiKind::kAntiNullAware && (spec.left_keys.size() != 1 || spec.residual))
      return Status::InvalidArgument("plan: anti_null_aware join needs exactly one key pair and no residual");
    return Add(std::make_unique<SemiJoinNode>(std::move(spec), NextPrefix()), {l, r});
  }

  Result<Node*> Join(const json& op, int depth) {
    for (const char* k : {"kind", "left", "right", "left_keys", "right_keys"}) PGT_RETURN_IF_ERROR(Need(op, k, "join"));
    const std::string kind = op["kind"].get<std::string>();
    if (kind == "semi") return SemiJoin(op, SemiKind::kSemi, depth);
    if (kind == "anti") return SemiJoin(op, SemiKind::kAnti, depth);
    if (kind == "anti_null_aware") return SemiJoin(op, SemiKind::kAntiNullAware, depth);
    JoinSpec spec;
    PGT_ASSIGN_OR_RETURN(spec.kind, ParseJoinKind(kind));
    PGT_ASSIGN_OR_RETURN(Node* l, Build(op["left"], depth + 1));
    PGT_ASSIGN_OR_RETURN(Node* r, Build(op["right"], depth + 1));
    spec.left_width = l->width();
    spec.right_width = r->width();
    PGT_RETURN_IF_ERROR(JoinKeys(op, &spec));
    return Add(std::make_unique<JoinNode>(std::move(spec), NextPrefix()), {l, r});
  }

  Result<Node*> SetOp(const json& op, int depth) {
    PGT_RETURN_IF_ERROR(Need(op, "kind", "setop"));
    PGT_RETURN_IF_ERROR(Need(op, "inputs", "setop"));
    const std::string kind = op["kind"].get<std::string>();
    SetOpKind k;
    if (kind == "intersect") k = SetOpKind::kIntersect;
    else if (kind == "intersect_all") k = SetOpKind::kIntersectAll;
    else if (kind == "except") k = SetOpKind::kExcept;
    else if (kind == "except_all") k = SetOpKind::kExceptAll;
    else return Status::Unsupported("plan: set operation \"" + kind + "\" is not supported by this engine");
    if (op["inputs"].size() != 2) return Status::InvalidArgument("plan: setop needs 2 inputs");
    PGT_ASSIGN_OR_RETURN(Node* l, Build(op["inputs"][0], depth + 1));
    PGT_ASSIGN_OR_RETURN(Node* r, Build(op["inputs"][1], depth + 1));
    if (l->width() != r->width()) return Status::InvalidArgument("plan: setop inputs of different widths");
    return Add(std::make_unique<SetOpNode>(k, l->width(), NextPrefix()), {l, r});
  }

  Result<Node*> UnionAll(const json& op, int depth) {
    PGT_RETURN_IF_ERROR(Need(op, "inputs", "union_all"));
    std::vector<Node*> ins;
    for (const auto& in : op["inputs"]) {
      PGT_ASSIGN_OR_RETURN(Node* n, Build(in, depth + 1));
      if (!ins.empty() && n->width() != ins[0]->width())
        return Status::InvalidArgument("plan: union_all inputs of different widths");
      ins.push_back(n);
    }
    if (ins.size() < 2 || ins.size() > 255) return Status::InvalidArgument("plan: union_all needs 2..255 inputs");
    return Add(std::make_unique<UnionAllNode>(ins[0]->width()), ins);
  }

  const Plan& plan_;
  std::string prefix_;
  Circuit* c_;
  uint16_t next_state_ = 0;
};

}  // namespace

Circuit::Circuit() = default;
Circuit::Circuit(Circuit&&) noexcept = default;
Circuit& Circuit::operator=(Circuit&&) noexcept = default;
Circuit::~Circuit() = default;

Result<Circuit> BuildCircuit(const Plan& plan, const std::string& state_prefix) {
  Circuit c;
  Builder b(plan, state_prefix, &c);
  try {
    PGT_ASSIGN_OR_RETURN(c.root, b.Build(*plan.root, 0));
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("plan: malformed operator: ") + e.what());
  }
  if (c.root->width() != static_cast<int>(plan.output.size()))
    return Status::InvalidArgument("plan: the root produces " + std::to_string(c.root->width()) +
                                   " columns, the output has " + std::to_string(plan.output.size()));
  return c;
}

Result<std::unique_ptr<Plan>> ParsePlan(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("plan: not valid JSON");
  auto plan = std::make_unique<Plan>();
  try {
    plan->version = j.value("version", 0);
    if (plan->version != 1 && plan->version != 2)
      return Status::Unsupported("plan: version " + std::to_string(plan->version) +
                                 " is not supported (engine reads 1 and 2); re-create the stream table");
    PGT_RETURN_IF_ERROR(Need(j, "sources", "plan"));
    PGT_RETURN_IF_ERROR(Need(j, "root", "plan"));
    PGT_RETURN_IF_ERROR(Need(j, "output", "plan"));
    if (j["sources"].empty()) return Status::InvalidArgument("plan: no sources");
    if (plan->version == 1 && j["sources"].size() != 1) return Status::Unsupported("plan: version 1 has exactly one source");
    for (const auto& s : j["sources"]) {
      SourceSpec spec;
      spec.relid = s.at("relid").get<Oid>();
      spec.schema = s.at("schema").get<std::string>();
      spec.name = s.at("name").get<std::string>();
      spec.stream_table_id = s.value("stream_table_id", int64_t{0});
      for (const auto& k : s.at("key")) spec.key_attnums.push_back(k.get<int16_t>());
      for (const auto& c : s.at("columns")) {
        SourceColumn col{c.at("attnum").get<int16_t>(), c.at("name").get<std::string>(), c.at("typoid").get<Oid>()};
        spec.natts = std::max<int>(spec.natts, col.attnum);
        spec.columns.push_back(std::move(col));
      }
      if (spec.key_attnums.empty()) return Status::InvalidArgument("plan: source " + spec.name + " has no key");
      for (const auto& other : plan->sources)
        if (other.relid == spec.relid) return Status::InvalidArgument("plan: source " + spec.name + " listed twice");
      plan->sources.push_back(std::move(spec));
    }
    for (const auto& o : j["output"]) {
      OutputColumn col{o.at("name").get<std::string>(), o.at("typoid").get<Oid>(), TypeId::kUnknown,
                       o.at("type_sql").get<std::string>()};
      col.type = TypeIdFromOid(col.typoid);
      plan->output.push_back(std::move(col));
    }
    plan->root = std::make_shared<const json>(j["root"]);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("plan: malformed: ") + e.what());
  }
  // Validate the operator tree now (the circuit is rebuilt per stream table with its prefix).
  PGT_ASSIGN_OR_RETURN(Circuit probe, BuildCircuit(*plan, std::string()));
  (void)probe;
  return plan;
}

}  // namespace pgt::engine
