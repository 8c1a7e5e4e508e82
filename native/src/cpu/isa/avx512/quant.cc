// AVX-512 quantized kernels (Zen 4, Sapphire Rapids): int8 dot products with VNNI (vpdpbusd),
// f16 weights widened by vcvtph2ps, bf16 by a shift, all in registers. Register tiles of up to
// 4 activation rows x 4 weight rows share every load; tails use masked loads, never over-read.
#include <immintrin.h>

#include "../../quant.h"

namespace attnode {
namespace {

// vpdpbusd multiplies unsigned by signed bytes, so activations are stored shifted to u8
// (q + 128, the same bits as q ^ 0x80) and 128 * sum(w) is taken back out of each dot product.
inline __m512i to_u8(__m512i q) { return _mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80))); }

inline __mmask64 byte_mask(size_t n) { return n >= 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1); }

// ---- per-row int8: one int32 dot product per (row, output) over all of K ----

template <int MR, int NR>
void tile_i8(const I8Weights& w, const QuantizedRows& x, size_t i0, size_t j0, float* out, size_t ldo) {
  __m512i acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_si512();
  const size_t K = w.k;
  for (size_t p = 0; p < K; p += 64) {
    const __mmask64 m = byte_mask(K - p);
    __m512i wv[NR];
    for (int c = 0; c < NR; ++c) wv[c] = _mm512_maskz_loadu_epi8(m, w.q + (j0 + c) * K + p);
    for (int r = 0; r < MR; ++r) {
      // Masked-off bytes read as 0 and become 128 after the shift, but meet zero weights.
      const __m512i xv = to_u8(_mm512_maskz_loadu_epi8(m, x.q + (i0 + r) * K + p));
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], xv, wv[c]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) {
      const int64_t s = static_cast<int64_t>(_mm512_reduce_add_epi32(acc[r][c])) - 128 * int64_t{w.sums[j0 + c]};
      out[(i0 + r) * ldo + j0 + c] = static_cast<float>(s) * (w.scales[j0 + c] * x.scales[i0 + r]);
    }
}

// ---- q8_0: per block of 32, an int32 dot product scaled by d_w * d_x into an f32 sum ----

template <int MR, int NR>
void tile_q8_0(const Q8_0Weights& w, const QuantizedRows& x, size_t i0, size_t j0, float* out, size_t ldo) {
  const size_t K = w.k, nb = K / 32;
  __m512 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
  // Lanes 0-7 hold block 2p's dot product and lanes 8-15 block 2p+1's; these spread 8 scales so.
  const __m512i spread[4] = {
      _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
      _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2),
      _mm512_set_epi32(5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4),
      _mm512_set_epi32(7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6)};
  for (size_t b0 = 0; b0 < nb; b0 += 8) {
    const size_t nblk = nb - b0 < 8 ? nb - b0 : 8;
    const __mmask8 sm = static_cast<__mmask8>((1u << nblk) - 1u);
    __m512 ws[NR], xs[MR];
    for (int c = 0; c < NR; ++c)
      ws[c] = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_maskz_loadu_epi16(sm, w.d + (j0 + c) * nb + b0)));
    for (int r = 0; r < MR; ++r)
      xs[r] = _mm512_castps256_ps512(_mm256_maskz_loadu_ps(sm, x.scales + (i0 + r) * nb + b0));
    for (size_t pair = 0; 2 * pair < nblk; ++pair) {
      const size_t p = (b0 + 2 * pair) * 32;
      const __mmask64 m = byte_mask(K - p);
      __m512i wv[NR], negc[NR];
      __m512 wsp[NR];
      for (int c = 0; c < NR; ++c) {
        wv[c] = _mm512_maskz_loadu_epi8(m, w.q + (j0 + c) * K + p);
        negc[c] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), k128, wv[c]));
        wsp[c] = _mm512_permutexvar_ps(spread[pair], ws[c]);
      }
      for (int r = 0; r < MR; ++r) {
        const __m512i xv = to_u8(_mm512_maskz_loadu_epi8(m, x.q + (i0 + r) * K + p));
        const __m512 xsp = _mm512_permutexvar_ps(spread[pair], xs[r]);
        for (int c = 0; c < NR; ++c) {
          const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(negc[c], xv, wv[c]));
          acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(wsp[c], xsp), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) out[(i0 + r) * ldo + j0 + c] = _mm512_reduce_add_ps(acc[r][c]);
}

// ---- f16 / bf16 weights: widened to f32 in registers, f32 FMA ----

inline __m512 widen_f16(__m256i h) { return _mm512_cvtph_ps(h); }
inline __m512 widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

template <__m512 (*Widen)(__m256i), int MR, int NR>
void tile_half(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out,
               size_t ldo) {
  __m512 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_setzero_ps();
  for (size_t p = 0; p < K; p += 16) {
    const __mmask16 m = K - p >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (K - p)) - 1u);
    __m512 wv[NR];
    for (int c = 0; c < NR; ++c) wv[c] = Widen(_mm256_maskz_loadu_epi16(m, w + (j0 + c) * K + p));
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + (i0 + r) * ldx + p);
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) out[(i0 + r) * ldo + j0 + c] = _mm512_reduce_add_ps(acc[r][c]);
}

// Walks [n0, n1) x [0, m) in tiles of 4 weight rows (outer, so they stay in L1 while the
// activation rows stream past) by 4 activation rows, calling the tile instance for the edges.
template <class Tile>
void walk_tiles(size_t m, size_t n0, size_t n1, const Tile& tile) {
  for (size_t j = n0; j < n1; j += 4) {
    const size_t nr = n1 - j < 4 ? n1 - j : 4;
    for (size_t i = 0; i < m; i += 4) tile(m - i < 4 ? m - i : 4, nr, i, j);
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
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) {
    ATTNODE_TILE_SWITCH(tile_i8, w, x, i, j, out, ldo)
  });
}

void gemm_q8_0_avx512(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) {
    ATTNODE_TILE_SWITCH(tile_q8_0, w, x, i, j, out, ldo)
  });
}

template <int MR, int NR>
void tile_f16(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out, size_t ldo) {
  tile_half<widen_f16, MR, NR>(w, K, x, ldx, i0, j0, out, ldo);
}
template <int MR, int NR>
void tile_bf16(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out, size_t ldo) {
  tile_half<widen_bf16, MR, NR>(w, K, x, ldx, i0, j0, out, ldo);
}

void gemm_f16_avx512(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                     float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) {
    ATTNODE_TILE_SWITCH(tile_f16, w, k, x, ldx, i, j, out, ldo)
  });
}

void gemm_bf16_avx512(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                      float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) {
    ATTNODE_TILE_SWITCH(tile_bf16, w, k, x, ldx, i, j, out, ldo)
  });
}

#undef ATTNODE_TILE_SWITCH

}  // namespace

const QuantKernels kQuantAvx512 = {
    "avx512_vnni",
    gemm_q8_0_avx512,
    gemm_i8_avx512,
    gemm_f16_avx512,
    gemm_bf16_avx512,
};

}  // namespace attnode
