// AVX-512 quantized kernels (Zen 4, Sapphire Rapids): int8 dot products with VNNI (vpdpbusd),
// f16 weights widened by vcvtph2ps, bf16 by a shift, all in registers. Register tiles of up to
// 4 activation rows x 4 weight rows share every load; tails use masked loads, never over-read.
#include <immintrin.h>

#include "../../quant.h"

// Every loop over tile rows and columns carries `#pragma GCC unroll 4`: fully unrolled, the
// accumulator arrays become registers; GCC otherwise keeps them on the stack.

namespace attnode {
namespace {

// Weights stream from DRAM once per call; the hardware prefetcher does not follow 4 rows read
// side by side, so each load asks for the same position kPrefetchRows rows on (two tiles ahead).
constexpr size_t kPrefetchRows = 8;
template <class T>
inline void prefetch_next_tile(const T* p, size_t ahead) {
  _mm_prefetch(reinterpret_cast<const char*>(p + ahead), _MM_HINT_T0);
}

inline __mmask64 byte_mask(size_t n) { return n >= 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1); }

// ---- per-row int8: one int32 dot product per (row, output) over all of K ----
// Weights hold q + 128 (quant.h), so vpdpbusd(w, x) sums (q + 128) * x and 128 * sum(x) comes off
// at the end. Masked-off tail bytes load as zero on both sides and add nothing.

template <int MR, int NR>
void tile_i8(const I8Weights& w, const QuantizedRows& x, size_t i0, size_t j0, float* out, size_t ldo, bool pf) {
  __m512i acc[MR][NR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_si512();
  const size_t K = w.k;
  for (size_t p = 0; p < K; p += 64) {
    const __mmask64 m = byte_mask(K - p);
    __m512i wv[NR];
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) {
      wv[c] = _mm512_maskz_loadu_epi8(m, w.q + (j0 + c) * K + p);
      if (pf) prefetch_next_tile(w.q + (j0 + c) * K + p, kPrefetchRows * K);
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512i xv = _mm512_maskz_loadu_epi8(m, x.q + (i0 + r) * K + p);
#pragma GCC unroll 4
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], wv[c], xv);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) {
      const int64_t s = static_cast<int64_t>(_mm512_reduce_add_epi32(acc[r][c])) - 128 * int64_t{x.sums[i0 + r]};
      out[(i0 + r) * ldo + j0 + c] = static_cast<float>(s) * (w.scales[j0 + c] * x.scales[i0 + r]);
    }
}

// ---- q8_0: per block of 32, an int32 dot product scaled by d_w * d_x into an f32 sum ----
// One 64-byte step covers two blocks: lanes 0-7 sum block 2p, lanes 8-15 block 2p+1. Each
// accumulation starts from -128 * sum(x of the block) placed in lanes 0 and 8, so the lane
// groups add up to the exact signed block dot products before they are scaled.

template <int MR, int NR>
void tile_q8_0(const Q8_0Weights& w, const QuantizedRows& x, size_t i0, size_t j0, float* out, size_t ldo, bool pf) {
  const size_t K = w.k, nb = K / 32;
  __m512 acc[MR][NR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  // Spreads 8 per-block scales so that pair p's two blocks cover lanes 0-7 and 8-15.
  const __m512i spread[4] = {
      _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
      _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2),
      _mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4),
      _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6)};
  // Moves element 2p to lane 0 and 2p+1 to lane 8, zeros elsewhere.
  const __m512i corr_idx[4] = {
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2),
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 4),
      _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 6)};
  const __mmask16 lanes_0_8 = 0x0101;
  for (size_t b0 = 0; b0 < nb; b0 += 8) {
    const size_t nblk = nb - b0 < 8 ? nb - b0 : 8;
    const __mmask8 sm = static_cast<__mmask8>((1u << nblk) - 1u);
    __m512 ws[NR], xs[MR];
    __m512i xc[MR];  // -128 * sum(x) per block, 8 blocks
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c)
      ws[c] = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_maskz_loadu_epi16(sm, w.d + (j0 + c) * nb + b0)));
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      xs[r] = _mm512_castps256_ps512(_mm256_maskz_loadu_ps(sm, x.scales + (i0 + r) * nb + b0));
      xc[r] = _mm512_castsi256_si512(_mm256_mullo_epi32(
          _mm256_maskz_loadu_epi32(sm, x.sums + (i0 + r) * nb + b0), _mm256_set1_epi32(-128)));
    }
    for (size_t pair = 0; 2 * pair < nblk; ++pair) {
      const size_t p = (b0 + 2 * pair) * 32;
      const __mmask64 m = byte_mask(K - p);
      __m512i wv[NR];
      __m512 wsp[NR];
#pragma GCC unroll 4
      for (int c = 0; c < NR; ++c) {
        wv[c] = _mm512_maskz_loadu_epi8(m, w.q + (j0 + c) * K + p);
        if (pf) prefetch_next_tile(w.q + (j0 + c) * K + p, kPrefetchRows * K);
        wsp[c] = _mm512_permutexvar_ps(spread[pair], ws[c]);
      }
#pragma GCC unroll 4
      for (int r = 0; r < MR; ++r) {
        const __m512i xv = _mm512_maskz_loadu_epi8(m, x.q + (i0 + r) * K + p);
        const __m512 xsp = _mm512_permutexvar_ps(spread[pair], xs[r]);
        const __m512i start = _mm512_maskz_permutexvar_epi32(lanes_0_8, corr_idx[pair], xc[r]);
#pragma GCC unroll 4
        for (int c = 0; c < NR; ++c) {
          const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, wv[c], xv));
          acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(wsp[c], xsp), acc[r][c]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) out[(i0 + r) * ldo + j0 + c] = _mm512_reduce_add_ps(acc[r][c]);
}

// ---- f16 / bf16 weights: widened to f32 in registers, f32 FMA ----

inline __m512 widen_f16(__m256i h) { return _mm512_cvtph_ps(h); }
inline __m512 widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

template <__m512 (*Widen)(__m256i), int MR, int NR>
void tile_half(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out,
               size_t ldo, bool pf) {
  __m512 acc[MR][NR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  for (size_t p = 0; p < K; p += 16) {
    const __mmask16 m = K - p >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (K - p)) - 1u);
    __m512 wv[NR];
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) {
      wv[c] = Widen(_mm256_maskz_loadu_epi16(m, w + (j0 + c) * K + p));
      if (pf) prefetch_next_tile(w + (j0 + c) * K + p, kPrefetchRows * K);
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + (i0 + r) * ldx + p);
#pragma GCC unroll 4
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < NR; ++c) out[(i0 + r) * ldo + j0 + c] = _mm512_reduce_add_ps(acc[r][c]);
}

// Walks [n0, n1) x [0, m) in blocks of 64 weight rows (kept in L2 while every activation row
// passes), each in tiles of 4 activation rows (in L1) by 4 weight rows. Only the first pass over
// a block prefetches: later passes find the weights in cache.
template <class Tile>
void walk_tiles(size_t m, size_t n0, size_t n1, const Tile& tile) {
  for (size_t jb = n0; jb < n1; jb += 64) {
    const size_t je = n1 - jb < 64 ? n1 : jb + 64;
    for (size_t i = 0; i < m; i += 4)
      for (size_t j = jb; j < je; j += 4) tile(m - i < 4 ? m - i : 4, je - j < 4 ? je - j : 4, i, j, i == 0);
  }
}

#define ATTNODE_TILE_SWITCH(FN, ...)                                      \
  switch ((mr - 1) * 4 + (nr - 1)) {                                      \
    case 0: FN<1, 1>(__VA_ARGS__); break;                                 \
    case 1: FN<1, 2>(__VA_ARGS__); break;                                 \
    case 2: FN<1, 3>(__VA_ARGS__); break;                                 \
    case 3: FN<1, 4>(__VA_ARGS__); break;                                 \
    case 4: FN<2, 1>(__VA_ARGS__); break;                                 \
    case 5: FN<2, 2>(__VA_ARGS__); break;                                 \
    case 6: FN<2, 3>(__VA_ARGS__); break;                                 \
    case 7: FN<2, 4>(__VA_ARGS__); break;                                 \
    case 8: FN<3, 1>(__VA_ARGS__); break;                                 \
    case 9: FN<3, 2>(__VA_ARGS__); break;                                 \
    case 10: FN<3, 3>(__VA_ARGS__); break;                                \
    case 11: FN<3, 4>(__VA_ARGS__); break;                                \
    case 12: FN<4, 1>(__VA_ARGS__); break;                                \
    case 13: FN<4, 2>(__VA_ARGS__); break;                                \
    case 14: FN<4, 3>(__VA_ARGS__); break;                                \
    default: FN<4, 4>(__VA_ARGS__); break;                                \
  }

void gemm_i8_avx512(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j, bool pf) {
    ATTNODE_TILE_SWITCH(tile_i8, w, x, i, j, out, ldo, pf)
  });
}

void gemm_q8_0_avx512(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j, bool pf) {
    ATTNODE_TILE_SWITCH(tile_q8_0, w, x, i, j, out, ldo, pf)
  });
}

template <int MR, int NR>
void tile_f16(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out, size_t ldo,
              bool pf) {
  tile_half<widen_f16, MR, NR>(w, K, x, ldx, i0, j0, out, ldo, pf);
}
template <int MR, int NR>
void tile_bf16(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out, size_t ldo,
               bool pf) {
  tile_half<widen_bf16, MR, NR>(w, K, x, ldx, i0, j0, out, ldo, pf);
}

void gemm_f16_avx512(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                     float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j, bool pf) {
    ATTNODE_TILE_SWITCH(tile_f16, w, k, x, ldx, i, j, out, ldo, pf)
  });
}

void gemm_bf16_avx512(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                      float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j, bool pf) {
    ATTNODE_TILE_SWITCH(tile_bf16, w, k, x, ldx, i, j, out, ldo, pf)
  });
}

#undef ATTNODE_TILE_SWITCH

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
