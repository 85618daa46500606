// Z-sets: multisets of rows with integer weights (+1 insert, -1 delete). A delta ΔR is a Z-set;
// applying it to R gives R + ΔR. Operators below map input deltas to output deltas.
#pragma once

#include <cstdint>
#include <vector>

#include "walreader/value.h"

namespace pgt::engine {

struct WeightedRow {
  Row row;
  int64_t weight = 0;
};
using ZSet = std::vector<WeightedRow>;

}  // namespace pgt::engine
