// lz4 TOAST values: see toast_lz4.h. PostgreSQL compresses with LZ4_compress_default into a buffer
// after the 8-byte compressed varlena header (or after va_tcinfo in an external value) and
// decompresses with LZ4_decompress_safe(src, dst, compressed size, raw size).
#include "toast_lz4.h"

#include <lz4.h>

#include <limits>

namespace pgt::internal {

namespace {
// An LZ4 block cannot expand by more than 255 output bytes per input byte (a match length byte
// of 255 is the densest encoding), so a raw size above that bound is corrupt before decoding:
// checking it first keeps a corrupt header from allocating up to 1 GB.
constexpr size_t kMaxExpansion = 255;
}  // namespace

Result<std::string> Lz4Decompress(const uint8_t* src, size_t len, size_t rawsize) {
  if (len == 0) return Status::Corruption("lz4: empty compressed data");
  if (len > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      rawsize > static_cast<size_t>(std::numeric_limits<int>::max()))
    return Status::Corruption("lz4: compressed or raw size out of range");
  if (rawsize > len * kMaxExpansion + 16)
    return Status::Corruption("lz4: raw size " + std::to_string(rawsize) + " impossible for " +
                              std::to_string(len) + " compressed bytes");
  std::string out(rawsize, '\0');
  int n = LZ4_decompress_safe(reinterpret_cast<const char*>(src), out.data(),
                              static_cast<int>(len), static_cast<int>(rawsize));
  if (n < 0)
    return Status::Corruption("lz4: compressed data is corrupt (" + std::to_string(len) +
                              " bytes, raw size " + std::to_string(rawsize) + ")");
  if (static_cast<size_t>(n) != rawsize)
    return Status::Corruption("lz4: decompressed " + std::to_string(n) + " bytes, expected " +
                              std::to_string(rawsize));
  return out;
}

}  // namespace pgt::internal
