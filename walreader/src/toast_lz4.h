// lz4 decompression of TOAST values compressed with `COMPRESSION lz4` (PostgreSQL's
// toast_compression.c: a raw LZ4 block, no frame header, decoded with LZ4_decompress_safe).
// Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "walreader/status.h"

namespace pgt::internal {

// Decompresses the raw LZ4 block `src[0, len)` into exactly `rawsize` bytes. A malformed block,
// or one that decodes to another size, is Corruption ("lz4: ..."); never reads or writes out of
// bounds (LZ4_decompress_safe), and never allocates more than the block could decode to.
Result<std::string> Lz4Decompress(const uint8_t* src, size_t len, size_t rawsize);

}  // namespace pgt::internal
