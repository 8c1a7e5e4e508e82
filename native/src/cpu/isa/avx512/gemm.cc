// AVX-512 f32 GEMM microkernels: 14 x 32 tiles (28 zmm accumulators, 2 for B), from the shared
// template. Compiled with AVX-512 flags; only called when cpuid reports AVX-512 (dispatch.cc).
#include <immintrin.h>

#include "../../gemm.h"
#include "../gemm_kernel.inc"

namespace attnode {
namespace {

struct V512 {
  using T = __m512;
  static constexpr size_t W = 16;
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T set1(float v) { return _mm512_set1_ps(v); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
};

// Transposes 16 rows of 16 floats in registers: r[i][j] becomes r[j][i].
inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);      // rows i, i+1 interleaved, even pairs
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  // odd pairs
  }
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    const __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));      // column 0 of each 4x4 block
    u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));  // column 1
    u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));  // column 2
    u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));  // column 3
  }
  // u[4q + c] holds, in 128-bit lane L, rows 4q..4q+3 of column 4L + c. Gather the lanes.
  for (int c = 0; c < 4; ++c) {
    const __m512 lo01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);    // lanes 0,1 of rows 0-3 | 4-7
    const __m512 hi01 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee);    // lanes 2,3
    const __m512 lo23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 hi23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
    r[c] = _mm512_shuffle_f32x4(lo01, lo23, 0x88);       // column c: lane 0 of each row group
    r[4 + c] = _mm512_shuffle_f32x4(lo01, lo23, 0xdd);   // column 4 + c: lane 1
    r[8 + c] = _mm512_shuffle_f32x4(hi01, hi23, 0x88);   // column 8 + c: lane 2
    r[12 + c] = _mm512_shuffle_f32x4(hi01, hi23, 0xdd);  // column 12 + c: lane 3
  }
}

// Packs one (kc, 32) panel from B^T, 16 x 16 blocks through registers.
//   b: (cols, kc) f32 rows ldb apart (the panel's first row and k) -> dst: (kc, 32), zero past cols
void pack_b_trans_avx512(const float* b, size_t ldb, size_t kc, size_t cols, float* dst) {
  constexpr size_t NR = 32;
  size_t p = 0;
  for (; p + 16 <= kc; p += 16)
    for (size_t j0 = 0; j0 < NR; j0 += 16) {
      if (j0 + 16 <= cols) {
        __m512 r[16];
        for (size_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(b + (j0 + i) * ldb + p);
        transpose16(r);
        for (size_t i = 0; i < 16; ++i) _mm512_storeu_ps(dst + (p + i) * NR + j0, r[i]);
      } else {
        for (size_t q = p; q < p + 16; ++q)
          for (size_t j = j0; j < j0 + 16; ++j) dst[q * NR + j] = j < cols ? b[j * ldb + q] : 0.0f;
      }
    }
  for (; p < kc; ++p)
    for (size_t j = 0; j < NR; ++j) dst[p * NR + j] = j < cols ? b[j * ldb + p] : 0.0f;
}

// Packs one (kc, 32) panel from B rows: two vector copies per k (masked loads zero the columns
// past cols), no call per row.
//   b: (kc, cols) f32 rows ldb apart (the panel's first k and column) -> dst: (kc, 32)
void pack_b_avx512(const float* b, size_t ldb, size_t kc, size_t cols, float* dst) {
  if (cols == 32) {
    for (size_t p = 0; p < kc; ++p) {
      _mm512_storeu_ps(dst + p * 32, _mm512_loadu_ps(b + p * ldb));
      _mm512_storeu_ps(dst + p * 32 + 16, _mm512_loadu_ps(b + p * ldb + 16));
    }
    return;
  }
  const __mmask16 lo = static_cast<__mmask16>(cols >= 16 ? 0xffff : (1u << cols) - 1);
  const __mmask16 hi = static_cast<__mmask16>(cols <= 16 ? 0 : (1u << (cols - 16)) - 1);
  for (size_t p = 0; p < kc; ++p) {
    _mm512_storeu_ps(dst + p * 32, _mm512_maskz_loadu_ps(lo, b + p * ldb));
    _mm512_storeu_ps(dst + p * 32 + 16, _mm512_maskz_loadu_ps(hi, b + p * ldb + 16));
  }
}

// Packs one A micro-panel k-major, 16 k at a time through a 16 x 16 register transpose (rows
// past `rows` are zero and never stored).
//   a: (rows, kc) f32 rows lda apart, rows <= 16 -> dst: (kc, rows)
void pack_a_avx512(const float* a, size_t lda, size_t rows, size_t kc, float* dst) {
  const __mmask16 keep = static_cast<__mmask16>((1u << rows) - 1);
  size_t p = 0;
  for (; p + 16 <= kc; p += 16) {
    __m512 r[16];
    for (size_t i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_loadu_ps(a + i * lda + p) : _mm512_setzero_ps();
    transpose16(r);
    for (size_t i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + (p + i) * rows, keep, r[i]);
  }
  for (; p < kc; ++p)
    for (size_t i = 0; i < rows; ++i) dst[p * rows + i] = a[i * lda + p];
}

constexpr GemmKernels make_avx512() {
  GemmKernels k = make_gemm_kernels<V512, 14, 2>("gemm_f32_avx512_14x32");
  k.pack_b_trans = &pack_b_trans_avx512;
  k.pack_a = &pack_a_avx512;
  k.pack_b = &pack_b_avx512;
  return k;
}

}  // namespace

extern constexpr GemmKernels kGemmAvx512 = make_avx512();

}  // namespace attnode
