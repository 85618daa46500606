// CRC-32C (Castagnoli), as PostgreSQL computes WAL record checksums (internal).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgt::internal {

// Running CRC: start with kCrc32cInit, extend with Crc32cExtend, finish with Crc32cFinish.
constexpr uint32_t kCrc32cInit = 0xFFFFFFFFu;
uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t len);
// The portable slicing-by-8 implementation (what Crc32cExtend uses without SSE4.2), and whether
// Crc32cExtend uses the CPU's crc32 instruction: for tests.
uint32_t Crc32cExtendTable(uint32_t crc, const uint8_t* data, size_t len);
bool Crc32cHardware();
inline uint32_t Crc32cFinish(uint32_t crc) { return crc ^ 0xFFFFFFFFu; }

}  // namespace pgt::internal
