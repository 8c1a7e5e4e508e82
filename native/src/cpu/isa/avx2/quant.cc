// AVX2 quantized kernels: int8 dot products with vpmaddubsw (|w| as unsigned times x carrying
// w's sign, which cannot saturate for |x| <= 127), F16C widening for f16, a shift for bf16.
// Tiles of up to 2 activation rows x 4 weight rows over the panels of quant.h. No AVX-VNNI path:
// CPUs with AVX-512 VNNI take the AVX-512 table.
#include <immintrin.h>

#include "../../quant.h"
#include "../quant_kernel.inc"

// Every loop over tile rows and columns carries `#pragma GCC unroll 4`: fully unrolled, the
// accumulator arrays become registers; GCC otherwise keeps them on the stack.
#include "../../../half.h"

namespace attnode {
namespace {

// Eight int32 partial sums of w[i] * x[i] over 32 bytes, w given as q + 128 (kWeightOffset).
// |q| may reach 128 and |x| at most 127, so the 16-bit pair sums cannot saturate.
inline __m256i dot32(__m256i w_offset, __m256i x) {
  const __m256i w = _mm256_xor_si256(w_offset, _mm256_set1_epi8(static_cast<char>(0x80)));
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// Traits for quant_kernel.inc: 8 lanes; the 4-byte dot product is vpmaddubsw on |q| and x
// carrying q's sign (no saturation: 2 * 128 * 127 < 2^15), then vpmaddwd by ones. The weights
// are taken back to signed q once per load, so no offset correction is needed.
struct Q256 {
  using I = __m256i;
  using F = __m256;
  static constexpr size_t W = 8;
  static constexpr bool kOffsetDot = false;
  struct Wv {
    I a, s;  // |q| and q
  };
  static Wv weights(const uint8_t* p) {
    const I q = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi8(static_cast<char>(0x80)));
    return {_mm256_abs_epi8(q), q};
  }
  static I dot4(I acc, const Wv& w, int32_t x4) {
    const I p16 = _mm256_maddubs_epi16(w.a, _mm256_sign_epi8(_mm256_set1_epi32(x4), w.s));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static int32_t reduce_addi(I v);
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static float reduce_max(F v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static bool nonfinite(F a) {
    return _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(3.4028234663852886e38f), _CMP_NLE_UQ)) != 0;
  }
  static F load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  // Lanes [0, n) set: a window of 8 into {-1 x 8, 0 x 8}.
  static I lane_mask(size_t n) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - (n < 8 ? n : 8)));
  }
  static F load_n(const float* p, size_t n) { return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(n)); }
  static void store_n(float* p, F v, size_t n) {
    if (n >= 8)
      _mm256_storeu_ps(p, v);
    else
      _mm256_maskstore_ps(p, lane_mask(n), v);
  }
  static I quant(F v) {
    const I q = _mm256_cvtps_epi32(v);  // MXCSR's default mode: round half to even
    return _mm256_max_epi32(_mm256_min_epi32(q, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
  }
  static void store_q(int8_t* p, I v, size_t n) {
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i b8 = _mm_packs_epi16(w16, w16);
    int8_t tmp[16];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), b8);
    std::memcpy(p, tmp, n < 8 ? n : 8);
  }
};

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

int32_t Q256::reduce_addi(__m256i v) { return hsum_i32(v); }

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Weight panels (quant.h) and quantized activation rows are padded to 64 bytes, so int8 tiles
// have no tails; f32 activations are not, so f16/bf16 tiles finish K in scalar code.

template <int MR>
void tile_i8(const I8Weights& w, const QuantizedRows& x, size_t i0, size_t t, size_t nr, float* out, size_t ldo) {
  const uint8_t* wt = w.q + t * kPanelRows * w.kp;
  __m256i acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_si256();
  for (size_t p = 0; p < w.kp; p += 32) {
    const size_t chunk = p / 64 * 64, half = p % 64;
    __m256i wv[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) wv[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + 4 * chunk + 64 * c + half));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + (i0 + r) * x.ldq + p));
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_add_epi32(acc[r][c], dot32(wv[c], xv));
    }
  }
  const size_t j0 = t * kPanelRows;
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
      if (static_cast<size_t>(c) < nr)
        out[(i0 + r) * ldo + j0 + c] = static_cast<float>(hsum_i32(acc[r][c])) * (w.scales[j0 + c] * x.scales[i0 + r]);
}

inline __m256 widen_f16(__m128i h) { return _mm256_cvtph_ps(h); }
inline __m256 widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
inline float scalar_f16(uint16_t h) { return f16_to_f32(h); }
inline float scalar_bf16(uint16_t h) { return bf16_to_f32(h); }

template <__m256 (*Widen)(__m128i), float (*Scalar)(uint16_t), int MR>
void tile_half(const uint16_t* w, size_t K, size_t kp, const float* x, size_t ldx, size_t i0, size_t t, size_t nr,
               float* out, size_t ldo) {
  const uint16_t* wt = w + t * kPanelRows * kp;
  const size_t K8 = K & ~size_t{7};
  __m256 acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
  for (size_t p = 0; p < K8; p += 8) {
    const size_t chunk = p / 32 * 32, part = p % 32;
    __m256 wv[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) wv[c] = Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wt + 4 * chunk + 32 * c + part)));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_loadu_ps(x + (i0 + r) * ldx + p);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  const size_t j0 = t * kPanelRows;
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      if (static_cast<size_t>(c) >= nr) break;
      float s = hsum_ps(acc[r][c]);
      for (size_t p = K8; p < K; ++p) s += Scalar(wt[4 * (p / 32 * 32) + 32 * c + p % 32]) * x[(i0 + r) * ldx + p];
      out[(i0 + r) * ldo + j0 + c] = s;
    }
}

template <class Tile>
void walk_tiles(size_t m, size_t n0, size_t n1, const Tile& tile) {
  const size_t t0 = n0 / kPanelRows, t1 = (n1 + kPanelRows - 1) / kPanelRows;
  for (size_t tb = t0; tb < t1; tb += 16) {
    const size_t te = t1 - tb < 16 ? t1 : tb + 16;
    for (size_t i = 0; i < m; i += 2)
      for (size_t t = tb; t < te; ++t) {
        const size_t nr = n1 - t * kPanelRows < kPanelRows ? n1 - t * kPanelRows : kPanelRows;
        tile(m - i < 2 ? m - i : 2, i, t, nr);
      }
  }
}

#define ATTNODE_ROWS_SWITCH(FN, ...)    \
  switch (mr) {                         \
    case 1: FN<1>(__VA_ARGS__); break;  \
    default: FN<2>(__VA_ARGS__); break; \
  }

template <int MR>
void tile_f16(const uint16_t* w, size_t K, size_t kp, const float* x, size_t ldx, size_t i0, size_t t, size_t nr,
              float* out, size_t ldo) {
  tile_half<widen_f16, scalar_f16, MR>(w, K, kp, x, ldx, i0, t, nr, out, ldo);
}
template <int MR>
void tile_bf16(const uint16_t* w, size_t K, size_t kp, const float* x, size_t ldx, size_t i0, size_t t, size_t nr,
               float* out, size_t ldo) {
  tile_half<widen_bf16, scalar_bf16, MR>(w, K, kp, x, ldx, i0, t, nr, out, ldo);
}

void gemm_i8_avx2(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_i8, w, x, i, t, nr, out, ldo) });
}

void gemm_f16_avx2(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                   float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_f16, w, k, kp, x, ldx, i, t, nr, out, ldo) });
}

void gemm_bf16_avx2(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                    float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_bf16, w, k, kp, x, ldx, i, t, nr, out, ldo) });
}

#undef ATTNODE_ROWS_SWITCH

// The AVX2 int8 step is maddubs + madd + add (3 instructions per 32 multiply-adds).
int32_t dot_peak_loop_avx2(size_t iters) {
  __m256i acc[kQuantPeakChains];
  for (size_t c = 0; c < kQuantPeakChains; ++c) acc[c] = _mm256_set1_epi32(static_cast<int>(c));
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-1), ones = _mm256_set1_epi16(1);
  for (size_t i = 0; i < iters; ++i)
    for (size_t c = 0; c < kQuantPeakChains; ++c)
      acc[c] = _mm256_add_epi32(acc[c], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
  __m256i s = acc[0];
  for (size_t c = 1; c < kQuantPeakChains; ++c) s = _mm256_add_epi32(s, acc[c]);
  return hsum_i32(s);
}

}  // namespace

const QuantKernels kQuantAvx2 = {
    "avx2_maddubs",
    gemm_q8_0<Q256, 2, 2>,
    gemm_i8_avx2,
    gemm_f16_avx2,
    gemm_bf16_avx2,
    quantize_row_q<Q256>,
    dot_peak_loop_avx2,
    32,
};

}  // namespace attnode
