// CRC-32C (reflected polynomial 0x82F63B78). The WAL reader checksums every record byte, so this
// is on the hot path: the SSE4.2 crc32 instruction (8 bytes per instruction) when the CPU has it
// (checked once at run time, as PostgreSQL's pg_crc32c_choose does), else table-driven
// slicing-by-8. Both compute the same function; tests compare them on random data.
#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define PGT_CRC32C_X86 1
#endif

namespace pgt::internal {

namespace {
using Tables = std::array<std::array<uint32_t, 256>, 8>;

// t[0] is the byte-at-a-time table; t[k][i] = CRC of byte i followed by k zero bytes.
constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  return t;
}
constexpr Tables kTables = MakeTables();

#ifdef PGT_CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    n--;
  }
  return c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif
}  // namespace

uint32_t Crc32cExtendTable(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = kTables;
  while (n >= 8) {   // little-endian: the first 4 bytes fold into the running CRC
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    n--;
  }
  return crc;
}

bool Crc32cHardware() {
#ifdef PGT_CRC32C_X86
  return HaveSse42();
#else
  return false;
#endif
}

uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t len) {
#ifdef PGT_CRC32C_X86
  if (HaveSse42()) return ExtendSse42(crc, data, len);
#endif
  return Crc32cExtendTable(crc, data, len);
}

}  // namespace pgt::internal
