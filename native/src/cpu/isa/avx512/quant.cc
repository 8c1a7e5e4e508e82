// AVX-512 quantized kernels (Zen 4, Sapphire Rapids): int8 dot products with VNNI (vpdpbusd),
// f16 weights widened by vcvtph2ps, bf16 by a shift, all in registers. Register tiles of up to
// 4 activation rows x 4 weight rows share every load; padded panels and masked f32 loads, no
// over-reads. Not the reference (isa/scalar/quant.cc) and not the packing (weights/*.cc).
#include <immintrin.h>

#include "../../quant.h"
#include "../quant_kernel.inc"

// Every loop over tile rows and columns carries `#pragma GCC unroll 4`: fully unrolled, the
// accumulator arrays become registers; GCC otherwise keeps them on the stack.
// Weights come as panels (quant.h): a tile of 4 weight rows is one sequential stream.

namespace attnode {
namespace {

inline __mmask16 lane_mask(size_t have) { return have >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << have) - 1u); }

// Traits for quant_kernel.inc: 16 lanes, vpdpbusd with the activation bytes broadcast.
struct Q512 {
  using I = __m512i;
  using F = __m512;
  static constexpr size_t W = 16;
  static constexpr bool kOffsetDot = true;
  struct Wv {
    I u;
  };
  static Wv weights(const uint8_t* p) { return {_mm512_loadu_si512(p)}; }
  static I dot4(I acc, const Wv& w, int32_t x4) { return _mm512_dpbusd_epi32(acc, w.u, _mm512_set1_epi32(x4)); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static int32_t reduce_addi(I v) { return _mm512_reduce_add_epi32(v); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  static bool nonfinite(F a) { return _mm512_cmp_ps_mask(a, _mm512_set1_ps(3.4028234663852886e38f), _CMP_NLE_UQ) != 0; }
  static F load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static F load_n(const float* p, size_t n) { return _mm512_maskz_loadu_ps(lane_mask(n), p); }
  static void store_n(float* p, F v, size_t n) { _mm512_mask_storeu_ps(p, lane_mask(n), v); }
  static I quant(F v) {
    const I q = _mm512_cvtps_epi32(v);  // MXCSR's default mode: round half to even
    return _mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
  }
  static void store_q(int8_t* p, I v, size_t n) { _mm512_mask_cvtepi32_storeu_epi8(p, lane_mask(n), v); }
};


// ---- per-row int8: one int32 dot product per (row, output) over all of K ----
// Weights hold q + 128 (quant.h), so vpdpbusd(w, x) sums (q + 128) * x and 128 * sum(x) comes off
// at the end. Weight panels and activation rows are both padded to 64 bytes (zeros in x).

template <int MR>
void tile_i8(const I8Weights& w, const QuantizedRows& x, size_t i0, size_t t, size_t nr, float* out, size_t ldo) {
  const uint8_t* wt = w.q + t * kPanelRows * w.kp;
  __m512i acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_si512();
  for (size_t p = 0; p < w.kp; p += 64) {
    __m512i wv[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) wv[c] = _mm512_loadu_si512(wt + 4 * p + 64 * c);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512i xv = _mm512_loadu_si512(x.q + (i0 + r) * x.ldq + p);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], wv[c], xv);
    }
  }
  const size_t j0 = t * kPanelRows;
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      if (static_cast<size_t>(c) >= nr) break;
      const int64_t s = static_cast<int64_t>(_mm512_reduce_add_epi32(acc[r][c])) - 128 * int64_t{x.sums[i0 + r]};
      out[(i0 + r) * ldo + j0 + c] = static_cast<float>(s) * (w.scales[j0 + c] * x.scales[i0 + r]);
    }
}

// ---- f16 / bf16 weights: widened to f32 in registers, f32 FMA ----

inline __m512 widen_f16(__m256i h) { return _mm512_cvtph_ps(h); }
inline __m512 widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

// A 64-byte chunk holds 32 halves of one row: two 16-lane steps. x is the caller's f32 input,
// so its loads are masked at K; the weight panel is padded with zeros.
template <__m512 (*Widen)(__m256i), int MR>
void tile_half(const uint16_t* w, size_t K, size_t kp, const float* x, size_t ldx, size_t i0, size_t t, size_t nr,
               float* out, size_t ldo) {
  const uint16_t* wt = w + t * kPanelRows * kp;
  __m512 acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  for (size_t p = 0; p < kp; p += 16) {
    const size_t chunk = p / 32 * 32, half = p % 32;
    const __mmask16 m = lane_mask(K > p ? K - p : 0);
    __m512 wv[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
      wv[c] = Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + 4 * chunk + 32 * c + half)));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + (i0 + r) * ldx + p);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  const size_t j0 = t * kPanelRows;
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
      if (static_cast<size_t>(c) < nr) out[(i0 + r) * ldo + j0 + c] = _mm512_reduce_add_ps(acc[r][c]);
}

// Walks output rows [n0, n1) (n0 a multiple of 4) by activation rows [0, m): blocks of 16
// weight tiles (64 rows, kept in L2 while every activation row passes), each visited in tiles of
// up to 4 activation rows (in L1) by one 4-row weight panel.
template <class Tile>
void walk_tiles(size_t m, size_t n0, size_t n1, const Tile& tile) {
  const size_t t0 = n0 / kPanelRows, t1 = (n1 + kPanelRows - 1) / kPanelRows;
  for (size_t tb = t0; tb < t1; tb += 16) {
    const size_t te = t1 - tb < 16 ? t1 : tb + 16;
    for (size_t i = 0; i < m; i += 4)
      for (size_t t = tb; t < te; ++t) {
        const size_t nr = n1 - t * kPanelRows < kPanelRows ? n1 - t * kPanelRows : kPanelRows;
        tile(m - i < 4 ? m - i : 4, i, t, nr);
      }
  }
}

#define ATTNODE_ROWS_SWITCH(FN, ...)   \
  switch (mr) {                        \
    case 1: FN<1>(__VA_ARGS__); break; \
    case 2: FN<2>(__VA_ARGS__); break; \
    case 3: FN<3>(__VA_ARGS__); break; \
    default: FN<4>(__VA_ARGS__); break; \
  }

void gemm_i8_avx512(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_i8, w, x, i, t, nr, out, ldo) });
}

template <int MR>
void tile_f16(const uint16_t* w, size_t K, size_t kp, const float* x, size_t ldx, size_t i0, size_t t, size_t nr,
              float* out, size_t ldo) {
  tile_half<widen_f16, MR>(w, K, kp, x, ldx, i0, t, nr, out, ldo);
}
template <int MR>
void tile_bf16(const uint16_t* w, size_t K, size_t kp, const float* x, size_t ldx, size_t i0, size_t t, size_t nr,
               float* out, size_t ldo) {
  tile_half<widen_bf16, MR>(w, K, kp, x, ldx, i0, t, nr, out, ldo);
}

void gemm_f16_avx512(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                     float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_f16, w, k, kp, x, ldx, i, t, nr, out, ldo) });
}

void gemm_bf16_avx512(const uint16_t* w, size_t k, size_t kp, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                      float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_bf16, w, k, kp, x, ldx, i, t, nr, out, ldo) });
}

#undef ATTNODE_ROWS_SWITCH

// 12 independent vpdpbusd chains: enough to cover the instruction's latency on Zen 4 and Intel.
int32_t dot_peak_loop_avx512(size_t iters) {
  __m512i acc[kQuantPeakChains];
  for (size_t c = 0; c < kQuantPeakChains; ++c) acc[c] = _mm512_set1_epi32(static_cast<int>(c));
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-1);
  for (size_t i = 0; i < iters; ++i)
    for (size_t c = 0; c < kQuantPeakChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  __m512i s = acc[0];
  for (size_t c = 1; c < kQuantPeakChains; ++c) s = _mm512_add_epi32(s, acc[c]);
  return _mm512_reduce_add_epi32(s);
}

}  // namespace

const QuantKernels kQuantAvx512 = {
    "avx512_vnni",
    gemm_q8_0<Q512, 6, 2>,
    gemm_i8_avx512,
    gemm_f16_avx512,
    gemm_bf16_avx512,
    quantize_row_q<Q512>,
    dot_peak_loop_avx512,
    64,
};

}  // namespace attnode
