// AVX2 quantized kernels: int8 dot products with vpmaddubsw (|w| as unsigned times x carrying
// w's sign, which cannot saturate for |x| <= 127), F16C widening for f16, a shift for bf16.
// Tiles of up to 2 activation rows x 4 weight rows; K tails run in scalar code.
#include <immintrin.h>

#include "../../quant.h"
#include "../../../half.h"

namespace attnode {
namespace {

// Eight int32 partial sums of a[i] * b[i] over 32 bytes.  |a| may reach 128, |b| at most 127.
inline __m256i dot32(__m256i w, __m256i x) {
  const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int MR, int NR>
void tile_i8(const I8Weights& w, const QuantizedRows& x, size_t i0, size_t j0, float* out, size_t ldo) {
  const size_t K = w.k, K32 = K & ~size_t{31};
  __m256i acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_setzero_si256();
  for (size_t p = 0; p < K32; p += 32) {
    __m256i wv[NR];
    for (int c = 0; c < NR; ++c) wv[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.q + (j0 + c) * K + p));
    for (int r = 0; r < MR; ++r) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + (i0 + r) * K + p));
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_add_epi32(acc[r][c], dot32(wv[c], xv));
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) {
      int32_t s = hsum_i32(acc[r][c]);
      const int8_t* wr = w.q + (j0 + c) * K;
      const int8_t* xr = x.q + (i0 + r) * K;
      for (size_t p = K32; p < K; ++p) s += static_cast<int32_t>(wr[p]) * xr[p];
      out[(i0 + r) * ldo + j0 + c] = static_cast<float>(s) * (w.scales[j0 + c] * x.scales[i0 + r]);
    }
}

template <int MR, int NR>
void tile_q8_0(const Q8_0Weights& w, const QuantizedRows& x, size_t i0, size_t j0, float* out, size_t ldo) {
  const size_t K = w.k, nb = K / 32;
  __m256 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    __m256i wv[NR];
    float ws[NR];
    for (int c = 0; c < NR; ++c) {
      wv[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.q + (j0 + c) * K + b * 32));
      ws[c] = _cvtsh_ss(w.d[(j0 + c) * nb + b]);
    }
    for (int r = 0; r < MR; ++r) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + (i0 + r) * K + b * 32));
      const float xs = x.scales[(i0 + r) * nb + b];
      for (int c = 0; c < NR; ++c)
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32(wv[c], xv)), _mm256_set1_ps(ws[c] * xs), acc[r][c]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) out[(i0 + r) * ldo + j0 + c] = hsum_ps(acc[r][c]);
}

inline __m256 widen_f16(__m128i h) { return _mm256_cvtph_ps(h); }
inline __m256 widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
inline float scalar_f16(uint16_t h) { return f16_to_f32(h); }
inline float scalar_bf16(uint16_t h) { return bf16_to_f32(h); }

template <__m256 (*Widen)(__m128i), float (*Scalar)(uint16_t), int MR, int NR>
void tile_half(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out,
               size_t ldo) {
  const size_t K8 = K & ~size_t{7};
  __m256 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_setzero_ps();
  for (size_t p = 0; p < K8; p += 8) {
    __m256 wv[NR];
    for (int c = 0; c < NR; ++c) wv[c] = Widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + (j0 + c) * K + p)));
    for (int r = 0; r < MR; ++r) {
      const __m256 xv = _mm256_loadu_ps(x + (i0 + r) * ldx + p);
      for (int c = 0; c < NR; ++c) acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) {
      float s = hsum_ps(acc[r][c]);
      for (size_t p = K8; p < K; ++p) s += Scalar(w[(j0 + c) * K + p]) * x[(i0 + r) * ldx + p];
      out[(i0 + r) * ldo + j0 + c] = s;
    }
}

template <class Tile>
void walk_tiles(size_t m, size_t n0, size_t n1, const Tile& tile) {
  for (size_t j = n0; j < n1; j += 4) {
    const size_t nr = n1 - j < 4 ? n1 - j : 4;
    for (size_t i = 0; i < m; i += 2) tile(m - i < 2 ? m - i : 2, nr, i, j);
  }
}

#define ATTNODE_TILE_SWITCH(FN, ...)              \
  switch ((mr - 1) * 4 + (nr - 1)) {              \
    case 0: FN<1, 1>(__VA_ARGS__); break;         \
    case 1: FN<1, 2>(__VA_ARGS__); break;         \
    case 2: FN<1, 3>(__VA_ARGS__); break;         \
    case 3: FN<1, 4>(__VA_ARGS__); break;         \
    case 4: FN<2, 1>(__VA_ARGS__); break;         \
    case 5: FN<2, 2>(__VA_ARGS__); break;         \
    case 6: FN<2, 3>(__VA_ARGS__); break;         \
    default: FN<2, 4>(__VA_ARGS__); break;        \
  }

template <int MR, int NR>
void tile_f16(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out, size_t ldo) {
  tile_half<widen_f16, scalar_f16, MR, NR>(w, K, x, ldx, i0, j0, out, ldo);
}
template <int MR, int NR>
void tile_bf16(const uint16_t* w, size_t K, const float* x, size_t ldx, size_t i0, size_t j0, float* out, size_t ldo) {
  tile_half<widen_bf16, scalar_bf16, MR, NR>(w, K, x, ldx, i0, j0, out, ldo);
}

void gemm_i8_avx2(const I8Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) { ATTNODE_TILE_SWITCH(tile_i8, w, x, i, j, out, ldo) });
}

void gemm_q8_0_avx2(const Q8_0Weights& w, const QuantizedRows& x, size_t n0, size_t n1, float* out, size_t ldo) {
  walk_tiles(x.m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) { ATTNODE_TILE_SWITCH(tile_q8_0, w, x, i, j, out, ldo) });
}

void gemm_f16_avx2(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                   float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) { ATTNODE_TILE_SWITCH(tile_f16, w, k, x, ldx, i, j, out, ldo) });
}

void gemm_bf16_avx2(const uint16_t* w, size_t k, const float* x, size_t m, size_t ldx, size_t n0, size_t n1,
                    float* out, size_t ldo) {
  walk_tiles(m, n0, n1, [&](size_t mr, size_t nr, size_t i, size_t j) { ATTNODE_TILE_SWITCH(tile_bf16, w, k, x, ldx, i, j, out, ldo) });
}

#undef ATTNODE_TILE_SWITCH

}  // namespace

const QuantKernels kQuantAvx2 = {
    "avx2_maddubs",
    gemm_q8_0_avx2,
    gemm_i8_avx2,
    gemm_f16_avx2,
    gemm_bf16_avx2,
};

}  // namespace attnode
