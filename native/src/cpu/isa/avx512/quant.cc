// AVX-512 quantized kernels (Zen 4, Sapphire Rapids): int8 dot products with VNNI (vpdpbusd),
// f16 weights widened by vcvtph2ps, bf16 by a shift, all in registers. Register tiles of up to
// 4 activation rows x 4 weight rows share every load; padded panels and masked f32 loads, no over-reads.
#include <immintrin.h>

#include "../../quant.h"

// Every loop over tile rows and columns carries `#pragma GCC unroll 4`: fully unrolled, the
// accumulator arrays become registers; GCC otherwise keeps them on the stack.
// Weights come as panels (quant.h): a tile of 4 weight rows is one sequential stream.

namespace attnode {
namespace {

inline __mmask16 lane_mask(size_t have) { return have >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << have) - 1u); }

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

// ---- q8_0: per block of 32, an int32 dot product scaled by d_w * d_x into an f32 sum ----
// One 64-byte step covers two blocks: lanes 0-7 sum block 2p, lanes 8-15 block 2p+1. Each
// accumulation starts from -128 * sum(x of the block) placed in lanes 0 and 8, so the lane
// groups add up to the exact signed block dot products before they are scaled.

template <int MR>
void tile_q8_0(const Q8_0Weights& w, const QuantizedRows& x, size_t i0, size_t t, size_t nr, float* out, size_t ldo) {
  const size_t nb = w.k / 32, j0 = t * kPanelRows;
  const uint8_t* wt = w.q + t * kPanelRows * w.kp;
  __m512 acc[MR][4];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  // Spreads 8 per-block scales so that pair p's two blocks cover lanes 0-7 and 8-15.
  const __m512i spread[4] = {
      _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
      _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2),
      _mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4),
      _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6)};
  // Moves element 2p to lane 0 and 2p+1 to lane 8 (the other lanes are masked to zero).
  const __m512i corr_idx[4] = {
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2),
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 4),
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 6)};
  const __mmask16 lanes_0_8 = 0x0101;
  for (size_t b0 = 0; b0 < nb; b0 += 8) {
    const size_t nblk = nb - b0 < 8 ? nb - b0 : 8;
    const __mmask8 sm = static_cast<__mmask8>((1u << nblk) - 1u);
    __m512 ws[4], xs[MR];
    __m512i xc[MR];  // -128 * sum(x) per block, 8 blocks
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
      ws[c] = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_maskz_loadu_epi16(sm, w.d + (j0 + c) * nb + b0)));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      xs[r] = _mm512_castps256_ps512(_mm256_maskz_loadu_ps(sm, x.scales + (i0 + r) * nb + b0));
      xc[r] = _mm512_castsi256_si512(
          _mm256_mullo_epi32(_mm256_maskz_loadu_epi32(sm, x.sums + (i0 + r) * nb + b0), _mm256_set1_epi32(-128)));
    }
    for (size_t pair = 0; 2 * pair < nblk; ++pair) {
      const size_t p = (b0 + 2 * pair) * 32;
      __m512i wv[4];
      __m512 wsp[4];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        wv[c] = _mm512_loadu_si512(wt + 4 * p + 64 * c);
        wsp[c] = _mm512_permutexvar_ps(spread[pair], ws[c]);
      }
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m512i xv = _mm512_loadu_si512(x.q + (i0 + r) * x.ldq + p);
        const __m512 xsp = _mm512_permutexvar_ps(spread[pair], xs[r]);
        const __m512i start = _mm512_maskz_permutexvar_epi32(lanes_0_8, corr_idx[pair], xc[r]);
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
          const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, wv[c], xv));
          acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(wsp[c], xsp), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
      if (static_cast<size_t>(c) < nr) out[(i0 + r) * ldo + j0 + c] = _mm512_reduce_add_ps(acc[r][c]);
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

void gemm_q8_0_avx512(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t i, size_t t, size_t nr) { ATTNODE_ROWS_SWITCH(tile_q8_0, w, x, i, t, nr, out, ldo) });
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
    gemm_q8_0_avx512,
    gemm_i8_avx512,
    gemm_f16_avx512,
    gemm_bf16_avx512,
    dot_peak_loop_avx512,
    64,
};

}  // namespace attnode
