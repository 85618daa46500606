// Little-endian readers over raw WAL bytes (internal). WAL integers are host order; walreader
// supports little-endian x86-64 only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pgt::internal {

template <typename T>
inline T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint16_t U16(const uint8_t* p) { return Load<uint16_t>(p); }
inline uint32_t U32(const uint8_t* p) { return Load<uint32_t>(p); }
inline uint64_t U64(const uint8_t* p) { return Load<uint64_t>(p); }

constexpr uint64_t MaxAlign(uint64_t x) { return (x + 7) & ~uint64_t{7}; }
constexpr uint64_t AlignTo(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

constexpr uint32_t kXLogBlcksz = 8192;

}  // namespace pgt::internal
