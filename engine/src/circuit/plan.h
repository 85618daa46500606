// Plan: the versioned JSON plan of a stream table (docs/plan-format.md) turned into the circuit
// the engine runs: scan -> linear operators (filter/project) -> optional aggregate -> linear
// operators. The engine never parses SQL; anything it cannot run is an error naming the node.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "values/expr.h"
#include "walreader/lsn.h"
#include "walreader/status.h"
#include "walreader/value.h"

namespace pgt::engine {

struct SourceColumn {
  int16_t attnum = 0;
  std::string name;
  Oid typoid = 0;
};

struct SourceSpec {
  Oid relid = 0;
  std::string schema, name;
  std::vector<int16_t> key_attnums;
  std::vector<SourceColumn> columns;
  int natts = 0;   // max attnum: scan rows have this many values
};

// One linear operator: filter keeps rows whose predicate is TRUE; project maps each row.
struct LinearOp {
  enum class Kind { kFilter, kProject } kind;
  std::unique_ptr<values::Expr> predicate;           // kFilter
  std::vector<std::unique_ptr<values::Expr>> exprs;  // kProject
};

enum class AggFn { kCountStar, kCount, kSum, kAvg, kMin, kMax };

struct AggSpec {
  AggFn fn;
  std::unique_ptr<values::Expr> arg;   // null for count_star
  TypeId arg_type = TypeId::kUnknown;
  TypeId result_type = TypeId::kUnknown;
};

struct AggregateOp {
  std::vector<std::unique_ptr<values::Expr>> group_by;
  std::vector<AggSpec> aggs;
};

struct OutputColumn {
  std::string name;
  Oid typoid = 0;
  TypeId type = TypeId::kUnknown;
  std::string type_sql;
};

struct Plan {
  int version = 0;
  std::vector<SourceSpec> sources;
  std::vector<LinearOp> pre;               // applied to source rows
  std::optional<AggregateOp> aggregate;
  std::vector<LinearOp> post;              // applied to aggregate output rows
  std::vector<OutputColumn> output;
};

Result<std::unique_ptr<Plan>> ParsePlan(const std::string& json_text);

}  // namespace pgt::engine
