// CRC-32C (reflected polynomial 0x82F63B78). The WAL reader checksums every record byte, so this
// is on the hot path: the SSE4.2 crc32 instruction (8 bytes per instruction, three streams at a
// time over long inputs) when the CPU has it (checked once at run time, as PostgreSQL's
// pg_crc32c_choose does), else table-driven slicing-by-8. Both compute the same function; tests
// compare them on random data.
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
// Shifting a CRC state over n zero bytes is linear in the state: four 256-entry tables (one per
// state byte) apply it. Built with zlib's GF(2) matrix method (crc32_combine): the operator for
// one zero bit, squared to one byte, then raised to n bytes.
struct ShiftTable {
  uint32_t t[4][256];
  uint32_t Apply(uint32_t crc) const {
    return t[0][crc & 0xFF] ^ t[1][(crc >> 8) & 0xFF] ^ t[2][(crc >> 16) & 0xFF] ^ t[3][crc >> 24];
  }
};

uint32_t MatTimes(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  for (int i = 0; vec != 0; i++, vec >>= 1)
    if (vec & 1) sum ^= mat[i];
  return sum;
}

void MatSquare(uint32_t* sq, const uint32_t* mat) {
  for (int i = 0; i < 32; i++) sq[i] = MatTimes(mat, mat[i]);
}

ShiftTable MakeShiftTable(size_t nbytes) {
  uint32_t op[32], sq[32], res[32];
  op[0] = 0x82F63B78u;   // one zero bit: shift right, fold the polynomial in for a set bit 0
  for (int i = 1; i < 32; i++) op[i] = 1u << (i - 1);
  MatSquare(sq, op);     // 2 bits
  MatSquare(op, sq);     // 4 bits
  MatSquare(sq, op);     // 8 bits: one byte, in sq
  for (int i = 0; i < 32; i++) res[i] = 1u << i;   // identity
  for (size_t n = nbytes; n != 0; n >>= 1) {        // res = byte operator ^ nbytes
    if (n & 1) {
      uint32_t tmp[32];
      for (int i = 0; i < 32; i++) tmp[i] = MatTimes(sq, res[i]);
      std::memcpy(res, tmp, sizeof res);
    }
    MatSquare(op, sq);
    std::memcpy(sq, op, sizeof sq);
  }
  ShiftTable t{};
  for (int k = 0; k < 4; k++)
    for (uint32_t b = 0; b < 256; b++) t.t[k][b] = MatTimes(res, b << (8 * k));
  return t;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of one per cycle: three
// independent streams over three adjacent blocks keep it busy (about 3x one stream, which
// mattered on WAL full of full-page images: every byte is checksummed); the block CRCs are then
// combined by shifting (tables above). As in Mark Adler's crc32c.c.
constexpr size_t kLongBlock = 2048, kShortBlock = 256;

__attribute__((target("sse4.2"))) uint64_t Sse42Serial(uint64_t c, const uint8_t* p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
  }
  for (; n > 0; n--) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
  return c;
}

template <size_t kBlock>
__attribute__((target("sse4.2"))) inline uint64_t Sse42ThreeWay(uint64_t c0, const uint8_t* p,
                                                                const ShiftTable& shift) {
  uint64_t c1 = 0, c2 = 0;
  for (size_t i = 0; i < kBlock; i += 8) {
    uint64_t w0, w1, w2;
    std::memcpy(&w0, p + i, 8);
    std::memcpy(&w1, p + kBlock + i, 8);
    std::memcpy(&w2, p + 2 * kBlock + i, 8);
    c0 = _mm_crc32_u64(c0, w0);
    c1 = _mm_crc32_u64(c1, w1);
    c2 = _mm_crc32_u64(c2, w2);
  }
  c0 = shift.Apply(static_cast<uint32_t>(c0)) ^ c1;
  return shift.Apply(static_cast<uint32_t>(c0)) ^ c2;
}

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const uint8_t* p, size_t n) {
  static const ShiftTable long_shift = MakeShiftTable(kLongBlock);
  static const ShiftTable short_shift = MakeShiftTable(kShortBlock);
  uint64_t c = crc;
  for (; n >= 3 * kLongBlock; p += 3 * kLongBlock, n -= 3 * kLongBlock)
    c = Sse42ThreeWay<kLongBlock>(c, p, long_shift);
  for (; n >= 3 * kShortBlock; p += 3 * kShortBlock, n -= 3 * kShortBlock)
    c = Sse42ThreeWay<kShortBlock>(c, p, short_shift);
  return static_cast<uint32_t>(Sse42Serial(c, p, n));
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
