// Scalar quantize / dequantize for the int8 formats, bit-exact with ts/tensor/q8.ts and
// ts/tensor/i8.ts: q8_0 (GGUF's Q8_0 blocks) and per-row symmetric int8. Not the kernels.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../dtype.h"
#include "../half.h"

namespace attnode {

// The q8_0 block: one f16 scale and 32 int8 values, as GGUF's Q8_0 (formats.h lists it).
constexpr size_t kQ8BlockSize = 32;
constexpr size_t kQ8BlockBytes = 34;

// Round half to even in the FPU's default mode. Not the 1.5 * 2^23 addition trick: compilers may
// fuse the caller's x * (1 / d) into that addition (GCC on AArch64 does), which rounds once
// instead of twice and breaks ties differently from the TypeScript quantizer.
inline float round_half_even(float v) { return std::nearbyint(v); }

// Largest |x| over n values; NaN when any value is NaN or infinite.
inline float absmax(const float* x, size_t n) {
  float m = 0.0f;
  bool finite = true;
  for (size_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    finite = finite && a <= 3.4028234663852886e38f;
    m = a > m ? a : m;
  }
  return finite ? m : NAN;
}

// The symmetric int8 scale of a group: max|x| / 127 in f32 (as the TypeScript fround(amax / 127)).
inline float int8_scale(float amax) { return amax / 127.0f; }

// q[i] = clamp(rne(x[i] * (1 / d)), -127, 127); d == 0 gives zeros. x must be finite.  x, q: (n)
inline void quantize_group(const float* x, size_t n, float d, int8_t* q) {
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float r = round_half_even(x[i] * id);
    r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
    q[i] = static_cast<int8_t>(r);
  }
}

// One row of K values (K a multiple of 32) into K / 32 GGUF Q8_0 blocks: f16 d, then 32 int8.
// The block scale used to quantize is the f32 d (as GGUF does); the stored one is f16(d).
// Returns false when a value is not finite or a scale overflows f16.   x: (K) f32 -> dst: (K/32*34) bytes
inline bool quantize_row_q8_0(const float* x, size_t k, uint8_t* dst) {
  bool ok = true;
  for (size_t b = 0; b < k / kQ8BlockSize; ++b) {
    const float* xb = x + b * kQ8BlockSize;
    uint8_t* o = dst + b * kQ8BlockBytes;
    const float amax = absmax(xb, kQ8BlockSize);
    if (std::isnan(amax)) {
      std::memset(o, 0, kQ8BlockBytes);
      ok = false;
      continue;
    }
    const float d = int8_scale(amax);
    const uint16_t h = f32_to_f16(d);
    if ((h & 0x7c00u) == 0x7c00u) ok = false;
    o[0] = static_cast<uint8_t>(h & 0xffu);
    o[1] = static_cast<uint8_t>(h >> 8);
    quantize_group(xb, kQ8BlockSize, d, reinterpret_cast<int8_t*>(o + 2));
  }
  return ok;
}

// The f16 scale of q8_0 block b.
inline uint16_t q8_0_scale_bits(const uint8_t* blocks, size_t b) {
  const uint8_t* o = blocks + b * kQ8BlockBytes;
  return static_cast<uint16_t>(o[0] | (o[1] << 8));
}

inline bool f16_is_finite(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

// Index of the first block whose f16 scale is NaN or infinite, or `blocks` when all are finite.
inline size_t q8_0_first_bad_scale(const uint8_t* data, size_t blocks) {
  for (size_t b = 0; b < blocks; ++b)
    if (!f16_is_finite(q8_0_scale_bits(data, b))) return b;
  return blocks;
}

// x = q * f16(d), rounded to f32.   src: (K/32*34) bytes -> y: (K) f32
inline void dequantize_row_q8_0(const uint8_t* src, size_t k, float* y) {
  for (size_t b = 0; b < k / kQ8BlockSize; ++b) {
    const float d = f16_to_f32(q8_0_scale_bits(src, b));
    const auto* q = reinterpret_cast<const int8_t*>(src + b * kQ8BlockBytes + 2);
    for (size_t j = 0; j < kQ8BlockSize; ++j) y[b * kQ8BlockSize + j] = static_cast<float>(q[j]) * d;
  }
}

// Activations quantized on the fly: each row of x (M, K) in groups of `group` values (32 for
// q8_0 weights, K for per-row int8), one f32 scale per group. A group holding NaN or Inf gets a
// NaN scale and zero quants, so every output it touches is NaN rather than garbage.
//   x: (M, K) f32 rows ldx apart -> q: (M, K) s8, scales, sums: (M, K / group) f32, i32
// One activation row as ggml's Q8_K super-blocks of 256 (quantize_row_q8_K), bit for bit: the
// first value of largest magnitude, max, sets iscale = -127 / max; q = min(127, rne(iscale * x));
// the scale kept is 1 / iscale (negative where max is positive; the quants are negated with it).
// The k-quant kernels take their activations so, which keeps attnode on the same integer sums as
// llama.cpp: an activation that lands on the other side of a rounding step changes a logit by up
// to a few hundredths on a model with sharp logits. A group holding NaN or infinity gets scale NaN
// and zero quants.   x: (K) f32 -> q: (K) s8, scales, sums: (K / 256)
inline void quantize_row_q8_k(const float* x, size_t k, int8_t* q, float* scales, int32_t* sums) {
  for (size_t g = 0; g < k / 256; ++g) {
    const float* xg = x + 256 * g;
    int8_t* qg = q + 256 * g;
    float amax = 0.0f, max = 0.0f;
    bool finite = true;
    for (size_t i = 0; i < 256; ++i) {
      const float ax = std::fabs(xg[i]);
      finite = finite && ax <= 3.4028234663852886e38f;
      if (ax > amax) {
        amax = ax;
        max = xg[i];
      }
    }
    int32_t s = 0;
    if (!finite || amax == 0.0f) {
      std::memset(qg, 0, 256);
      scales[g] = finite ? 0.0f : NAN;
    } else {
      const float iscale = -127.0f / max;
      for (size_t i = 0; i < 256; ++i) {
        const float r = round_half_even(iscale * xg[i]);
        qg[i] = static_cast<int8_t>(r > 127.0f ? 127.0f : r);
        s += qg[i];
      }
      scales[g] = 1.0f / iscale;
    }
    sums[g] = s;
  }
}

inline void quantize_activations(const float* x, size_t m, size_t ldx, size_t k, size_t group, int8_t* q,
                                 float* scales, int32_t* sums) {
  const size_t groups = k / group;
  for (size_t i = 0; i < m; ++i)
    for (size_t g = 0; g < groups; ++g) {
      const float* xg = x + i * ldx + g * group;
      int8_t* qg = q + i * k + g * group;
      const float amax = absmax(xg, group);
      if (std::isnan(amax)) {
        std::memset(qg, 0, group);
        scales[i * groups + g] = NAN;
        sums[i * groups + g] = 0;
        continue;
      }
      const float d = int8_scale(amax);
      scales[i * groups + g] = d;
      quantize_group(xg, group, d, qg);
      int32_t s = 0;
      for (size_t p = 0; p < group; ++p) s += qg[p];
      sums[i * groups + g] = s;
    }
}

}  // namespace attnode
