// jsonb binary -> text exactly as jsonb_out prints it (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "walreader/status.h"

namespace pgt::internal {

// `p` is the jsonb datum content after its varlena header (the root container).
Result<std::string> JsonbToText(const uint8_t* p, size_t len);

}  // namespace pgt::internal
