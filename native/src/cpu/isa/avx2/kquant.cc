// AVX2 k-quant kernels: kquant_kernel.inc over 8 lanes, the dot step vpmaddubsw (unsigned quants
// by signed activations, no saturation: 2 * 63 * 128 < 2^15) then vpmaddwd by ones.
// Not the reference (cpu/kquant.cc) and not the packing.
#include <immintrin.h>

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
  static F zero() { return _mm256_setzero_ps(); }
  static void store_n(float* p, F v, size_t n) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    for (size_t i = 0; i < n && i < 8; ++i) p[i] = t[i];
  }
};

}  // namespace

// 2 rows x 16 columns (2 vectors): 16 registers.
extern constexpr KQuantKernels kKQuantAvx2 = {"avx2_maddubs", gemm_q4_k<K256, 2>, gemm_q6_k<K256, 2>, gemm_q5_k<K256, 2>,
                                   gemm_iq4_xs<K256, 2>, gemm_q4_1<K256, 2>, gemm_q5_1<K256, 2>,
                                   gemm_q2_k<K256, 2>, gemm_q3_k<K256, 2>};

}  // namespace attnode
