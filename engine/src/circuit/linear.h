// Linear operators — stateless, so their delta is the operator applied to the delta:
//   Δσ_p(R) = σ_p(ΔR)        (filter: keeps rows whose predicate is TRUE; NULL and FALSE drop)
//   Δπ_f(R) = π_f(ΔR)        (project: maps each row; identity unchanged)
//   Δscan(S) = ΔS            (scan: a source's rows, identity = the source's key)
#pragma once

#include <memory>
#include <vector>

#include "circuit/node.h"
#include "values/expr.h"

namespace pgt::engine {

class ScanNode : public Node {
 public:
  ScanNode(int source, int natts, std::vector<int16_t> key_attnums)
      : source_(source), natts_(natts), key_(std::move(key_attnums)) { set_width(natts); }
  int source() const { return source_; }
  // A source row (any width: cut or padded with NULLs to the plan's attribute count).
  Status PushSource(Batch* b, const Row& source_row, int64_t w);
  Status Push(Batch* b, int, const std::string& id, const Row& row, int64_t w) override { return Emit(b, id, row, w); }

 private:
  int source_, natts_;
  std::vector<int16_t> key_;
  Row scratch_;
  std::string id_scratch_;
};

class FilterNode : public Node {
 public:
  explicit FilterNode(std::unique_ptr<values::Expr> pred) : pred_(std::move(pred)) {}
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override;

 private:
  std::unique_ptr<values::Expr> pred_;
};

class ProjectNode : public Node {
 public:
  explicit ProjectNode(std::vector<std::unique_ptr<values::Expr>> exprs) : exprs_(std::move(exprs)) {
    set_width(static_cast<int>(exprs_.size()));
  }
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override;

 private:
  std::vector<std::unique_ptr<values::Expr>> exprs_;
};

}  // namespace pgt::engine
