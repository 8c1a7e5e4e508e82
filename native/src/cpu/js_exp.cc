// fdlibm's exp (see js_exp.h), written for attnode from the algorithm of e_exp.c, whose notice
// follows as its license asks:
//   Copyright (C) 2004 by Sun Microsystems, Inc. All rights reserved.
//   Permission to use, copy, modify, and distribute this software is freely granted, provided
//   that this notice is preserved.
// Every step is one IEEE operation in the order fdlibm writes it: contraction into FMAs would
// change the rounding (CMakeLists.txt builds this file with -ffp-contract=off; the pragmas
// keep node-gyp's build, which has no per-file flags, the same).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "js_exp.h"

#include <cstdint>
#include <cstring>

namespace attnode {

namespace {

uint32_t high_word(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return static_cast<uint32_t>(b >> 32);
}

uint32_t low_word(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return static_cast<uint32_t>(b);
}

double from_words(uint32_t hi, uint32_t lo) {
  const uint64_t b = (static_cast<uint64_t>(hi) << 32) | lo;
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

constexpr double kHalf[2] = {0.5, -0.5};
constexpr double kOverflow = 7.09782712893383973096e+02;    // 0x40862E42 FEFA39EF
constexpr double kUnderflow = -7.45133219101941108420e+02;  // 0xC0874910 D52D3051
constexpr double kLn2Hi[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01};  // 0x3FE62E42 FEE00000
constexpr double kLn2Lo[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10};  // 0x3DEA39EF 35793C76
constexpr double kInvLn2 = 1.44269504088896338700e+00;  // 0x3FF71547 652B82FE
constexpr double kP1 = 1.66666666666666019037e-01;      // 0x3FC55555 5555553E
constexpr double kP2 = -2.77777777770155933842e-03;     // 0xBF66C16C 16BEBD93
constexpr double kP3 = 6.61375632143793436117e-05;      // 0x3F11566A AF25DE2C
constexpr double kP4 = -1.65339022054652515390e-06;     // 0xBEBBBD41 C5D26BF1
constexpr double kP5 = 4.13813679705723846039e-08;      // 0x3E663769 72BEA4D0
constexpr double kE = 2.718281828459045;                // 0x4005BF0A 8B145769
constexpr double kTwoM1000 = 9.33263618503218878990e-302;  // 2^-1000
constexpr double kTwo1023 = 8.988465674311579539e307;      // 2^1023
constexpr double kHuge = 1.0e+300;

}  // namespace

double js_exp(double x) {
  double hi = 0.0, lo = 0.0;
  int32_t k = 0;
  uint32_t hx = high_word(x);
  const int32_t xsb = static_cast<int32_t>((hx >> 31) & 1);  // sign of x
  hx &= 0x7FFFFFFF;                                           // high word of |x|

  // Non-finite and out-of-range arguments.
  if (hx >= 0x40862E42) {
    if (hx >= 0x7FF00000) {
      if (((hx & 0xFFFFF) | low_word(x)) != 0) return x + x;  // NaN
      return xsb == 0 ? x : 0.0;                             // exp(+-inf) = inf, 0
    }
    if (x > kOverflow) return kHuge * kHuge;
    if (x < kUnderflow) return kTwoM1000 * kTwoM1000;
  }

  // Argument reduction: x = k ln2 + r, |r| <= ln2 / 2.
  if (hx > 0x3FD62E42) {    // |x| > ln2 / 2
    if (hx < 0x3FF0A2B2) {  // and |x| < 1.5 ln2
      if (x == 1.0) return kE;  // V8 special-cases e: the reduction gets its last bit wrong
      hi = x - kLn2Hi[xsb];
      lo = kLn2Lo[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = static_cast<int32_t>(kInvLn2 * x + kHalf[xsb]);
      const double t = k;
      hi = x - t * kLn2Hi[0];  // exact: ln2HI has trailing zeros
      lo = t * kLn2Lo[0];
    }
    x = hi - lo;
  } else if (hx < 0x3E300000) {  // |x| < 2^-28
    if (kHuge + x > 1.0) return 1.0 + x;
  } else {
    k = 0;
  }

  // x is now in the primary range.
  const double t = x * x;
  const double twopk = k >= -1021 ? from_words(0x3FF00000u + (static_cast<uint32_t>(k) << 20), 0)
                                  : from_words(0x3FF00000u + (static_cast<uint32_t>(k + 1000) << 20), 0);
  const double c = x - t * (kP1 + t * (kP2 + t * (kP3 + t * (kP4 + t * kP5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const double y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * kTwo1023;
    return y * twopk;
  }
  return y * twopk * kTwoM1000;
}

}  // namespace attnode
