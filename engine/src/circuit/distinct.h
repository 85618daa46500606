// DISTINCT: δ(R) = the rows of R with positive multiplicity, each once.
//
// Delta equation: Δδ(R)[x] = [m(x) + Δm(x) > 0] − [m(x) > 0] for each row value x, with m the
// multiplicity kept per distinct value (equal values by SQL equality: EncodeOrderedKey makes
// 1.5 and 1.50, integer widths alike). A value is emitted when its count leaves 0 and
// retracted when it returns to 0; the representation emitted first is the one retracted.
// Output identity = the encoded row. State: value key → (count, first representation).
#pragma once

#include "circuit/node.h"

namespace pgt::engine {

class DistinctNode : public Node {
 public:
  DistinctNode(int width, std::string prefix) : prefix_(std::move(prefix)) { set_width(width); }
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override;

 private:
  std::string prefix_;
};

// UNION ALL: Δ(R1 ⊎ … ⊎ Rn) = ΔR1 ⊎ … ⊎ ΔRn — stateless; the identity is tagged with the branch.
class UnionAllNode : public Node {
 public:
  explicit UnionAllNode(int width) { set_width(width); }
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override {
    return Emit(b, BranchId(port, id), row, w);
  }
};

}  // namespace pgt::engine
