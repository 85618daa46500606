// pglz decompression (src/common/pg_lzcompress.c), for inline-compressed varlenas (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "walreader/status.h"

namespace pgt::internal {

// Decompresses `len` bytes into exactly `rawsize` bytes; Corruption if the stream is malformed.
Result<std::string> PglzDecompress(const uint8_t* src, size_t len, size_t rawsize);

}  // namespace pgt::internal
