// Numeric datum -> canonical text exactly as numeric_out prints it (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "walreader/status.h"

namespace pgt::internal {

// `payload` is the numeric varlena content after its (1- or 4-byte) header.
Result<std::string> NumericToText(const uint8_t* payload, size_t len);
// Same, into *out (replaced; its buffer is reused: the tuple decoder refills recycled values).
Status NumericToTextInto(const uint8_t* payload, size_t len, std::string* out);

}  // namespace pgt::internal
