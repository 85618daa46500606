// Numeric decoding (utils/adt/numeric.c): base-10000 int16 digits, short (2-byte header) and
// long (4-byte header) forms, specials NaN/+Inf/-Inf; printed like get_str_from_var().
#include "numeric.h"

#include <algorithm>

#include "bytes.h"

namespace pgt::internal {

namespace {
constexpr uint16_t kSignMask = 0xC000;
constexpr uint16_t kShort = 0x8000;
constexpr uint16_t kSpecial = 0xC000;
constexpr uint16_t kNeg = 0x4000;
constexpr uint16_t kNaN = 0xC000, kPinf = 0xD000, kNinf = 0xF000;
constexpr uint16_t kShortSign = 0x2000;
constexpr uint16_t kShortDscaleMask = 0x1F80;
constexpr int kShortDscaleShift = 7;
constexpr uint16_t kShortWeightSign = 0x0040;
constexpr uint16_t kShortWeightMask = 0x003F;
}  // namespace

Result<std::string> NumericToText(const uint8_t* p, size_t len) {
  std::string out;
  PGT_RETURN_IF_ERROR(NumericToTextInto(p, len, &out));
  return out;
}

Status NumericToTextInto(const uint8_t* p, size_t len, std::string* result) {
  if (len < 2) return Status::Corruption("numeric datum too short");
  uint16_t h = U16(p);
  bool neg;
  int dscale, weight;
  size_t digits_off;
  if ((h & kSignMask) == kSpecial) {
    uint16_t s = h & 0xF000;
    if (s == kNaN) { *result = "NaN"; return Status::Ok(); }
    if (s == kPinf) { *result = "Infinity"; return Status::Ok(); }
    if (s == kNinf) { *result = "-Infinity"; return Status::Ok(); }
    return Status::Corruption("invalid numeric special value");
  }
  if ((h & kSignMask) == kShort) {
    neg = h & kShortSign;
    dscale = (h & kShortDscaleMask) >> kShortDscaleShift;
    weight = (h & kShortWeightSign) ? static_cast<int>((h & kShortWeightMask) | ~kShortWeightMask)
                                    : (h & kShortWeightMask);
    digits_off = 2;
  } else {
    if (len < 4) return Status::Corruption("numeric datum too short");
    neg = (h & kSignMask) == kNeg;
    dscale = h & 0x3FFF;
    weight = static_cast<int16_t>(U16(p + 2));
    digits_off = 4;
  }
  if ((len - digits_off) % 2 != 0) return Status::Corruption("numeric datum has odd length");
  // Digits are read in place and printed without temporaries (every numeric column of every
  // decoded row comes through here).
  const int ndigits = static_cast<int>((len - digits_off) / 2);
  auto digit = [&](int k) { return static_cast<int16_t>(U16(p + digits_off + 2 * k)); };
  for (int k = 0; k < ndigits; k++)
    if (digit(k) < 0 || digit(k) >= 10000) return Status::Corruption("invalid numeric digit");
  auto group = [&](int k) { return k >= 0 && k < ndigits ? digit(k) : 0; };
  // Written through a pointer into a string sized for the longest text (appending character by
  // character showed in profiles), then cut to length.
  auto put4 = [](char* o, int v) {   // 4 digits, zero-padded
    o[0] = static_cast<char>('0' + v / 1000);
    o[1] = static_cast<char>('0' + v / 100 % 10);
    o[2] = static_cast<char>('0' + v / 10 % 10);
    o[3] = static_cast<char>('0' + v % 10);
    return o + 4;
  };
  std::string& out = *result;
  out.resize(static_cast<size_t>(std::max(weight + 1, 1) * 4 + dscale + 8));
  char* w = out.data();
  if (neg) *w++ = '-';
  int d;
  if (weight < 0) {
    d = weight + 1;
    *w++ = '0';
  } else {
    for (d = 0; d <= weight; d++) {
      int dig = group(d);
      if (d > 0) {
        w = put4(w, dig);
      } else {   // the first group without leading zeros
        char b[4];
        int n = 0;
        do { b[n++] = static_cast<char>('0' + dig % 10); dig /= 10; } while (dig > 0);
        while (n > 0) *w++ = b[--n];
      }
    }
  }
  if (dscale > 0) {
    *w++ = '.';
    char* frac_start = w;
    for (int i = 0; i < dscale; d++, i += 4) w = put4(w, group(d));
    w = frac_start + dscale;
  }
  out.resize(static_cast<size_t>(w - out.data()));
  return Status::Ok();
}

}  // namespace pgt::internal
