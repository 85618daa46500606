// INTERSECT [ALL] and EXCEPT [ALL] of two inputs of equal width.
//
// Per distinct row value v (set-operation equality: NULLs equal, numeric 1.0 = 1.00), with
// m1(v), m2(v) its multiplicities in the left and right inputs, the output holds f(m1, m2)
// copies of v:
//   INTERSECT      f = [min(m1, m2) > 0]      INTERSECT ALL  f = min(m1, m2)
//   EXCEPT         f = [m1 > 0 ∧ m2 = 0]      EXCEPT ALL     f = max(m1 − m2, 0)
// Delta equation: Δout(v) = f(m1 + Δm1, m2 + Δm2) − f(m1, m2) copies of v; pushed one row at a
// time, each push changes one multiplicity by ±1 and emits or retracts the top copies.
// Copy i of v has identity (v, i), so identities stay unique. The representation emitted is
// the first one seen for v (equal values may print differently, e.g. 1.0 and 1.00).
// State: value key → (m1, m2, representation).
#pragma once

#include "circuit/node.h"

namespace pgt::engine {

enum class SetOpKind { kIntersect, kIntersectAll, kExcept, kExceptAll };

class SetOpNode : public Node {
 public:
  SetOpNode(SetOpKind kind, int width, std::string prefix) : kind_(kind), prefix_(std::move(prefix)) { set_width(width); }
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override;

 private:
  int64_t F(int64_t m1, int64_t m2) const;
  SetOpKind kind_;
  std::string prefix_;
};

}  // namespace pgt::engine
