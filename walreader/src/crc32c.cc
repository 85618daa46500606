// Table-driven CRC-32C (reflected polynomial 0x82F63B78), slicing-by-1.
#include "crc32c.h"

#include <array>

namespace pgt::internal {

namespace {
constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = MakeTable();
}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t len) {
  for (size_t i = 0; i < len; i++) crc = kTable[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

}  // namespace pgt::internal
