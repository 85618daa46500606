#include "circuit/plan.h"

#include <nlohmann/json.hpp>

namespace pgt::engine {
namespace {
using nlohmann::json;

Status Need(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return Status::InvalidArgument("plan: " + where + " lacks \"" + key + "\"");
  return Status::Ok();
}

Result<std::unique_ptr<values::Expr>> Compile(const json& j, const std::string& where) {
  auto e = values::CompileExpr(j);
  if (!e.ok()) return e.status().WithContext("plan: " + where);
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

Result<LinearOp> ParseLinear(const json& op) {
  LinearOp lin;
  std::string kind = op.at("op").get<std::string>();
  if (kind == "filter") {
    PGT_RETURN_IF_ERROR(Need(op, "predicate", "filter"));
    lin.kind = LinearOp::Kind::kFilter;
    PGT_ASSIGN_OR_RETURN(lin.predicate, Compile(op["predicate"], "filter predicate"));
  } else {
    PGT_RETURN_IF_ERROR(Need(op, "exprs", "project"));
    lin.kind = LinearOp::Kind::kProject;
    size_t i = 0;
    for (const auto& e : op["exprs"]) {
      PGT_ASSIGN_OR_RETURN(auto ce, Compile(e, "project expression " + std::to_string(i++)));
      lin.exprs.push_back(std::move(ce));
    }
  }
  return lin;
}

Result<AggregateOp> ParseAggregate(const json& op) {
  AggregateOp agg;
  PGT_RETURN_IF_ERROR(Need(op, "group_by", "aggregate"));
  PGT_RETURN_IF_ERROR(Need(op, "aggs", "aggregate"));
  size_t i = 0;
  for (const auto& g : op["group_by"]) {
    PGT_ASSIGN_OR_RETURN(auto e, Compile(g, "group key " + std::to_string(i++)));
    agg.group_by.push_back(std::move(e));
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
      PGT_ASSIGN_OR_RETURN(spec.arg, Compile(a["arg"], "aggregate argument " + std::to_string(i)));
      spec.arg_type = values::ResultType(*spec.arg);
    }
    agg.aggs.push_back(std::move(spec));
    ++i;
  }
  return agg;
}

// Flattens the operator tree (root first) into scan <- pre* <- aggregate? <- post*.
Status Flatten(const json& root, Plan* plan) {
  std::vector<const json*> chain;
  const json* cur = &root;
  for (;;) {
    PGT_RETURN_IF_ERROR(Need(*cur, "op", "operator"));
    chain.push_back(cur);
    std::string kind = (*cur)["op"].get<std::string>();
    if (kind == "scan") break;
    if (kind != "filter" && kind != "project" && kind != "aggregate")
      return Status::Unsupported("plan: operator \"" + kind + "\" is not supported by this engine");
    PGT_RETURN_IF_ERROR(Need(*cur, "input", kind));
    cur = &(*cur)["input"];
  }
  const json& scan = *chain.back();
  if (scan.value("source", -1) != 0) return Status::InvalidArgument("plan: scan must read source 0");
  bool after_agg = false;
  for (auto it = chain.rbegin() + 1; it != chain.rend(); ++it) {
    const json& op = **it;
    std::string kind = op["op"].get<std::string>();
    if (kind == "aggregate") {
      if (after_agg) return Status::Unsupported("plan: nested aggregates are not supported");
      PGT_ASSIGN_OR_RETURN(auto agg, ParseAggregate(op));
      plan->aggregate = std::move(agg);
      after_agg = true;
      continue;
    }
    PGT_ASSIGN_OR_RETURN(auto lin, ParseLinear(op));
    (after_agg ? plan->post : plan->pre).push_back(std::move(lin));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Plan>> ParsePlan(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("plan: not valid JSON");
  auto plan = std::make_unique<Plan>();
  try {
    plan->version = j.value("version", 0);
    if (plan->version != 1)
      return Status::Unsupported("plan: version " + std::to_string(plan->version) + " is not supported (engine reads 1)");
    PGT_RETURN_IF_ERROR(Need(j, "sources", "plan"));
    PGT_RETURN_IF_ERROR(Need(j, "root", "plan"));
    PGT_RETURN_IF_ERROR(Need(j, "output", "plan"));
    if (j["sources"].size() != 1) return Status::Unsupported("plan: exactly one source is supported");
    for (const auto& s : j["sources"]) {
      SourceSpec spec;
      spec.relid = s.at("relid").get<Oid>();
      spec.schema = s.at("schema").get<std::string>();
      spec.name = s.at("name").get<std::string>();
      for (const auto& k : s.at("key")) spec.key_attnums.push_back(k.get<int16_t>());
      for (const auto& c : s.at("columns")) {
        SourceColumn col{c.at("attnum").get<int16_t>(), c.at("name").get<std::string>(), c.at("typoid").get<Oid>()};
        spec.natts = std::max<int>(spec.natts, col.attnum);
        spec.columns.push_back(std::move(col));
      }
      if (spec.key_attnums.empty()) return Status::InvalidArgument("plan: source " + spec.name + " has no key");
      plan->sources.push_back(std::move(spec));
    }
    for (const auto& o : j["output"]) {
      OutputColumn col{o.at("name").get<std::string>(), o.at("typoid").get<Oid>(), TypeId::kUnknown,
                       o.at("type_sql").get<std::string>()};
      col.type = TypeIdFromOid(col.typoid);
      plan->output.push_back(std::move(col));
    }
    PGT_RETURN_IF_ERROR(Flatten(j["root"], plan.get()));
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("plan: malformed: ") + e.what());
  }
  return plan;
}

}  // namespace pgt::engine
