// AVX2 k-quant kernels: kquant_kernel.inc over 8 lanes, the dot step vpmaddubsw (unsigned quants
// by signed activations, no saturation: 2 * 63 * 128 < 2^15) then vpmaddwd by ones; Q4_K, Q5_K
// and Q6_K add the vpmaddubsw pairs of a sub-block in 16 bits first (kquant_tiles_pairs.inc).
// Not the reference (cpu/kquant.cc) and not the packing.
#include <immintrin.h>

#include <cmath>

#include "../../block_formats.h"
#include "../../kquant.h"
#include "../kquant_kernel.inc"

namespace attnode {
namespace {

struct K256 {
  using I = __m256i;
  using F = __m256;
  static constexpr size_t W = 8;
  static I load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I nib_lo(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0f)); }
  static I nib_hi(I v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f)); }
  static I dot(I acc, I u, int32_t x4) {
    const I p16 = _mm256_maddubs_epi16(u, _mm256_set1_epi32(x4));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
  static I mul(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  static I u8(const uint8_t* p) {
    int64_t b;
    std::memcpy(&b, p, 8);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(b));
  }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F loadf(const float* p) { return _mm256_loadu_ps(p); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static I orb(I a, I b) { return _mm256_or_si256(a, b); }
  static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I i8(const uint8_t* p) {
    int64_t b;
    std::memcpy(&b, p, 8);
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(b));
  }
  static I high(I h, int g) {
    const I m = _mm256_set1_epi8(0x30);
    return g <= 2 ? _mm256_and_si256(_mm256_slli_epi16(h, 4 - 2 * g), m) : _mm256_and_si256(_mm256_srli_epi16(h, 2 * g - 4), m);
  }
  static I bit5(I h, int g) {
    const I m = _mm256_set1_epi8(0x10);
    return g <= 4 ? _mm256_and_si256(_mm256_slli_epi16(h, (4 - g)), m) : _mm256_and_si256(_mm256_srli_epi16(h, (g - 4)), m);
  }
  // Signed codebook bytes; the dot takes |w| unsigned and moves w's sign onto x (vpsignb), so
  // no pair saturates: 2 * 127 * 127 < 2^15.
  static constexpr int kIq4Bias = 0;
  static I lut(I idx) {
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(attnode::kIq4Codebook));
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(t), idx);
  }
  static I sdot(I acc, I w, int32_t x4) {
    const I p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(_mm256_set1_epi32(x4), w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
  static F loadh(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static I bits(I h, int shift, uint8_t mask) {
    const I v = shift >= 0 ? _mm256_srli_epi16(h, shift) : _mm256_slli_epi16(h, -shift);
    return _mm256_and_si256(v, _mm256_set1_epi8(static_cast<char>(mask)));
  }
  // kquant_tiles_pairs.inc: the dot step without its widening, 16-bit sums, scales as pairs.
  static I dot16(I u, int32_t x4) { return _mm256_maddubs_epi16(u, _mm256_set1_epi32(x4)); }
  static constexpr bool kPairSums = true;
  static I add16(I a, I b) { return _mm256_add_epi16(a, b); }
  static I sub16(I a, I b) { return _mm256_sub_epi16(a, b); }
  static I madd16(I a, I b) { return _mm256_madd_epi16(a, b); }
  // The 16 bytes at p in both 128-bit halves, byte W * v + c of them into both 16-bit halves of
  // lane c: zero-extended (pairs), or at the high byte and shifted back arithmetically (pairs_s).
  static I pairs(const uint8_t* p, size_t v) {
    const I b = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_shuffle_epi8(b, v == 0 ? _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1, 4, -1, 4, -1, 5,
                                                            -1, 5, -1, 6, -1, 6, -1, 7, -1, 7, -1)
                                         : _mm256_setr_epi8(8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1, 12, -1, 12,
                                                            -1, 13, -1, 13, -1, 14, -1, 14, -1, 15, -1, 15, -1));
  }
  static I pairs_s(const uint8_t* p, size_t v) {
    const I b = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_srai_epi16(
        _mm256_shuffle_epi8(b, v == 0 ? _mm256_setr_epi8(-1, 0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1, 4, -1, 4, -1, 5,
                                                         -1, 5, -1, 6, -1, 6, -1, 7, -1, 7)
                                      : _mm256_setr_epi8(-1, 8, -1, 8, -1, 9, -1, 9, -1, 10, -1, 10, -1, 11, -1, 11, -1, 12, -1,
                                                         12, -1, 13, -1, 13, -1, 14, -1, 14, -1, 15, -1, 15)),
        8);
  }
  static F zero() { return _mm256_setzero_ps(); }
  static void store_n(float* p, F v, size_t n) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    for (size_t i = 0; i < n && i < 8; ++i) p[i] = t[i];
  }
};

}  // namespace

// quant_format.h's quantize_row_q8_k over 8 lanes: the same f32 products, rounded half to even by
// vcvtps2dq in MXCSR's default mode (as nearbyint), so the same bytes.
void quantize_row_q8_k_avx2(const float* x, size_t k, int8_t* q, float* scales, int32_t* sums) {
  const __m256 sign = _mm256_set1_ps(-0.0f), fmax = _mm256_set1_ps(3.4028234663852886e38f);
  for (size_t g = 0; g < k / 256; ++g) {
    const float* xg = x + 256 * g;
    int8_t* qg = q + 256 * g;
    __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (size_t i = 0; i < 256; i += 8) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(xg + i));
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, fmax, _CMP_NLE_UQ));  // NaN or infinite
      m = _mm256_max_ps(m, a);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);
    const bool finite = _mm256_movemask_ps(bad) == 0;
    if (!finite || amax == 0.0f) {
      std::memset(qg, 0, 256);
      scales[g] = finite ? 0.0f : NAN;
      sums[g] = 0;
      continue;
    }
    // The first value of largest magnitude sets the sign of the scale, as in the scalar loop.
    float max = 0.0f;
    for (size_t i = 0; i < 256; i += 8) {
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xg + i)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
      if (hit) {
        max = xg[i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(hit)))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    __m256i s = _mm256_setzero_si256();
    for (size_t i = 0; i < 256; i += 8) {
      const __m256i r = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xg + i), vs)), _mm256_set1_epi32(127));
      s = _mm256_add_epi32(s, r);
      const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(qg + i), _mm_packs_epi16(w16, w16));
    }
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    scales[g] = 1.0f / iscale;
    sums[g] = _mm_cvtsi128_si32(t);
  }
}

// 2 rows x 16 columns (2 vectors): 16 registers.
extern constexpr KQuantKernels kKQuantAvx2 = {"avx2_maddubs", gemm_q4_k<K256, 2>, gemm_q6_k<K256, 2>, gemm_q5_k<K256, 2>,
                                   gemm_iq4_xs<K256, 2>, gemm_q4_1<K256, 2>, gemm_q5_1<K256, 2>,
                                   gemm_q2_k<K256, 2>, gemm_q3_k<K256, 2>, gemm_q4_0<K256, 2>, gemm_q5_0<K256, 2>, gemm_iq4_nl<K256, 2>,
    quantize_row_q8_k_avx2};

}  // namespace attnode
