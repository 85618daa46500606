// Plan: the versioned JSON plan of a stream table (docs/plan-format.md) turned into the circuit
// the engine runs: a tree of scan / filter / project / join / aggregate / distinct / union_all
// operators over its sources. The engine never parses SQL; anything it cannot run is an error
// naming the node.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
  // The source is the storage table of this stream table (a DAG of stream tables; 0 = a plain
  // table). Its merges reach the engine through the WAL like any source's changes (upstreams.cc).
  int64_t stream_table_id = 0;
};

enum class AggFn { kCountStar, kCount, kSum, kAvg, kMin, kMax };

struct AggSpec {
  AggFn fn;
  std::unique_ptr<values::Expr> arg;   // null for count_star
  TypeId arg_type = TypeId::kUnknown;
  TypeId result_type = TypeId::kUnknown;
  bool distinct = false;               // COUNT/SUM/AVG(DISTINCT arg): over the distinct values
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
  std::shared_ptr<const nlohmann::json> root;   // the operator tree (validated by BuildCircuit)
  std::vector<OutputColumn> output;
};

// Reads versions 1 and 2 (version 1 is the single-source subset of version 2).
Result<std::unique_ptr<Plan>> ParsePlan(const std::string& json_text);

class Node;
class ScanNode;

// The circuit of one stream table: nodes in topological order (every node after its inputs),
// its scan leaves, and its root (whose output rows are the stream table's rows).
struct Circuit {
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<ScanNode*> scans;
  Node* root = nullptr;
  Circuit();
  Circuit(Circuit&&) noexcept;
  Circuit& operator=(Circuit&&) noexcept;
  ~Circuit();
};

// Builds the circuit of `plan`; stateful nodes keep their state under `state_prefix` + their
// index. Anything the engine cannot run is an Unsupported/InvalidArgument error naming the node.
Result<Circuit> BuildCircuit(const Plan& plan, const std::string& state_prefix);

}  // namespace pgt::engine
