// Semi and anti joins: L ⋉_θ R (EXISTS, IN), L ▷_θ R (NOT EXISTS) and the NULL-aware anti join
// of NOT IN, with θ = (kL(l) = kR(r)) AND residual(l ++ r). Output = left rows only.
//
// Delta equation: with m(l) = |{r ∈ R : θ(l, r)}| (counted up to 2: only m crossing 0 matters),
//   semi:  L ⋉ R = {l ∈ L : m(l) > 0},   anti: L ▷ R = {l ∈ L : m(l) = 0},
//   Δ(L ⋉ R) = {δl ∈ ΔL : m(δl) > 0} + {l ∈ L : [m(l) + Δm(l) > 0] − [m(l) > 0]}
// (and the same with = 0 for anti): a left row is emitted with its own weight if it passes
// against the current right side; a right row changes m(l) of the left rows it matches, which
// are emitted/retracted when m(l) crosses 0.
//
// NOT IN (`x NOT IN (SELECT y …)`, uncorrelated, one column) keeps SQL's three-valued result:
// a row passes iff the subquery is empty, or x is not NULL, no y is NULL and no y = x. The node
// counts the right rows and those with a NULL key; when either count crosses 0 every left row
// may change, so all of L (NULL keys included) is re-evaluated — rare, and exact.
//
// Output identity = the left identity. State: both sides' arrangements; NOT IN also its counts
// and the left rows with a NULL key.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "circuit/arrangement.h"
#include "circuit/node.h"
#include "values/expr.h"

namespace pgt::engine {

enum class SemiKind { kSemi, kAnti, kAntiNullAware };

struct SemiJoinSpec {
  SemiKind kind = SemiKind::kSemi;
  std::vector<std::unique_ptr<values::Expr>> left_keys, right_keys;
  std::unique_ptr<values::Expr> residual;   // over left ++ right; may be null
  int left_width = 0, right_width = 0;
};

class SemiJoinNode : public Node {
 public:
  SemiJoinNode(SemiJoinSpec spec, const std::string& prefix);
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override;

 private:
  struct Counts { int64_t total = 0, nulls = 0; };
  Result<std::optional<std::string>> KeyOf(int side, const Row& row) const;
  Result<bool> Matches(const Row& l, const Row& r) const;
  Result<int64_t> MatchCount(Batch* b, const std::string& key, const Row& l);
  bool Pass(bool has_key, int64_t m, const Counts& c) const;
  Result<Counts> LoadCounts(Batch* b);
  Status PushLeft(Batch* b, const std::string& id, const Row& row, int64_t w);
  Status PushRight(Batch* b, const std::string& id, const Row& row, int64_t w);
  Status Flip(Batch* b, const std::string& lid, const Row& l, bool has_key, int64_t m_before, int64_t delta,
              const Counts& before, const Counts& after);

  SemiJoinSpec spec_;
  std::string prefix_;
  Arrangement left_, right_, left_null_;
  std::vector<bool> as_numeric_;
};

}  // namespace pgt::engine
