// pglz stream: a control byte covers the next 8 items, LSB first. Bit 0 = literal byte; bit 1 =
// back-reference tag: len = (b0 & 0x0F) + 3, off = ((b0 & 0xF0) << 4) | b1, and len 18 takes an
// extra byte (+b2). Copies may overlap (byte by byte).
#include "pglz.h"

#include <algorithm>

namespace pgt::internal {

Result<std::string> PglzDecompress(const uint8_t* src, size_t len, size_t rawsize) {
  std::string out;
  // rawsize comes from the (possibly corrupt) datum: do not let it alone allocate up to 1 GB.
  // Each input byte yields at most 273 bytes (a back-reference of 18 + 255), so cap the reserve.
  out.reserve(std::min(rawsize, len * 273));
  const uint8_t* sp = src;
  const uint8_t* end = src + len;
  while (sp < end && out.size() < rawsize) {
    uint8_t ctrl = *sp++;
    for (int bit = 0; bit < 8 && sp < end && out.size() < rawsize; bit++, ctrl >>= 1) {
      if (ctrl & 1) {
        if (end - sp < 2) return Status::Corruption("pglz: truncated tag");
        size_t l = (sp[0] & 0x0F) + 3;
        size_t off = (static_cast<size_t>(sp[0] & 0xF0) << 4) | sp[1];
        sp += 2;
        if (l == 18) {
          if (sp >= end) return Status::Corruption("pglz: truncated tag");
          l += *sp++;
        }
        if (off == 0 || off > out.size()) return Status::Corruption("pglz: invalid back-reference");
        l = std::min(l, rawsize - out.size());
        size_t from = out.size() - off;
        for (size_t i = 0; i < l; i++) out.push_back(out[from + i]);
      } else {
        out.push_back(static_cast<char>(*sp++));
      }
    }
  }
  if (out.size() != rawsize)
    return Status::Corruption("pglz: decompressed " + std::to_string(out.size()) +
                              " bytes, expected " + std::to_string(rawsize));
  return out;
}

}  // namespace pgt::internal
