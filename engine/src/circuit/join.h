// Join: L ⋈_θ R with θ = (kL(l) = kR(r)) AND residual(l ++ r), inner or outer.
//
// Delta equation (bilinear): Δ(L ⋈ R) = ΔL ⋈ R + L ⋈ ΔR + ΔL ⋈ ΔR. Pushed one row at a time it
// becomes: a row δ arriving on one side joins the other side's *current* arrangement, then is
// added to its own side's arrangement — (L + ΔL) ⋈ ΔR after ΔL ⋈ R sums to exactly the above.
// Rows with a NULL in their key never match (SQL `=`), so they are not arranged.
//
// Outer joins add the preserved side's unmatched rows padded with NULLs:
//   LEFT: L ⋈ R + (L ▷ R) × NULL_R, where L ▷ R = rows of L with no match. A left row δl emits
// its matches, or its padded row if it has none. A right row δr (weight w) changes, for every
// left row l it matches, l's match count c: when c goes 0 → 1 the padded (l, NULL) is retracted,
// when it goes 1 → 0 it is inserted again. RIGHT is the mirror image, FULL both.
//
// Output identity: PairId(left id, right id) with an absent side for padded rows; output row =
// left values then right values (lw + rw columns).
// State: one arrangement per side (key → identity → row) under the node's prefix.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "circuit/arrangement.h"
#include "circuit/node.h"
#include "values/expr.h"

namespace pgt::engine {

enum class JoinKind { kInner, kLeft, kRight, kFull };

struct JoinSpec {
  JoinKind kind = JoinKind::kInner;
  std::vector<std::unique_ptr<values::Expr>> left_keys, right_keys;   // over each side's row
  std::unique_ptr<values::Expr> residual;                              // over left ++ right; may be null
  int left_width = 0, right_width = 0;
};

class JoinNode : public Node {
 public:
  JoinNode(JoinSpec spec, const std::string& prefix);
  // port 0 = left input, 1 = right input.
  Status Push(Batch* b, int port, const std::string& id, const Row& row, int64_t w) override;

 private:
  struct Match { std::string id; Row row; };
  Result<std::optional<std::string>> KeyOf(int side, const Row& row) const;
  Row Combine(int side, const Row& mine, const Row* other) const;   // in left ++ right order
  Result<bool> Residual(const Row& combined) const;
  Status Matches(Batch* b, int side, const std::string& key, const Row& row, std::vector<Match>* out);
  Result<int64_t> CountMatches(Batch* b, int side, const std::string& key, const Row& other_row);
  bool Preserves(int side) const;
  std::string Id(int side, const std::string* mine, const std::string* other) const;

  JoinSpec spec_;
  Arrangement arr_[2];
  // Key normalization per key pair: integers compared with numeric are widened to numeric,
  // varchar/bpchar-free text is compared as text (EncodeOrderedKey treats integer widths alike).
  std::vector<bool> as_numeric_;
};

}  // namespace pgt::engine
