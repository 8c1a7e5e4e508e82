// AVX-512 k-quant kernels (Zen 4, Sapphire Rapids): kquant_kernel.inc over 16 lanes, the nibble
// dot step one vpdpbusd (nibbles are unsigned, activations signed, as the instruction wants).
// Not the reference (cpu/kquant.cc) and not the packing.
#include <immintrin.h>

#include "../../block_formats.h"
#include "../../kquant.h"
#include "../kquant_kernel.inc"

namespace attnode {
namespace {

struct K512 {
  using I = __m512i;
  using F = __m512;
  static constexpr size_t W = 16;
  static I load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static I nib_lo(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0f)); }
  static I nib_hi(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f)); }
  static I dot(I acc, I u, int32_t x4) { return _mm512_dpbusd_epi32(acc, u, _mm512_set1_epi32(x4)); }
  static I mul(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  static I u8(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static F loadf(const float* p) { return _mm512_loadu_ps(p); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static I orb(I a, I b) { return _mm512_or_si512(a, b); }
  static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I i8(const uint8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static I high(I h, int g) {
    const I m = _mm512_set1_epi8(0x30);
    return g <= 2 ? _mm512_and_si512(_mm512_slli_epi16(h, static_cast<unsigned>(4 - 2 * g)), m)
                  : _mm512_and_si512(_mm512_srli_epi16(h, static_cast<unsigned>(2 * g - 4)), m);
  }
  static I bit5(I h, int g) {
    const I m = _mm512_set1_epi8(0x10);
    return g <= 4 ? _mm512_and_si512(_mm512_slli_epi16(h, static_cast<unsigned>(4 - g)), m) : _mm512_and_si512(_mm512_srli_epi16(h, static_cast<unsigned>(g - 4)), m);
  }
  // Codebook + 128 as unsigned bytes (vpdpbusd's unsigned operand), the table in every 128-bit lane.
  static constexpr int kIq4Bias = 128;
  static I lut(I idx) {
    const __m128i t = _mm_add_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(attnode::kIq4Codebook)), _mm_set1_epi8(-128));
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(t), idx);
  }
  static I sdot(I acc, I w, int32_t x4) { return dot(acc, w, x4); }
  static F loadh(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static I bits(I h, int shift, uint8_t mask) {
    const I v = shift >= 0 ? _mm512_srli_epi16(h, static_cast<unsigned>(shift)) : _mm512_slli_epi16(h, static_cast<unsigned>(-shift));
    return _mm512_and_si512(v, _mm512_set1_epi8(static_cast<char>(mask)));
  }
  static F zero() { return _mm512_setzero_ps(); }
  static void store_n(float* p, F v, size_t n) {
    _mm512_mask_storeu_ps(p, n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u), v);
  }
};

}  // namespace

// 4 rows x 16 columns: 4 x (2 dot + 2 sum) int accumulators and 4 f32 ones of the 32 registers.
extern constexpr KQuantKernels kKQuantAvx512 = {"avx512_vnni", gemm_q4_k<K512, 4>, gemm_q6_k<K512, 4>, gemm_q5_k<K512, 4>,
                                     gemm_iq4_xs<K512, 4>, gemm_q4_1<K512, 4>, gemm_q5_1<K512, 4>,
                                     gemm_q2_k<K512, 4>, gemm_q3_k<K512, 4>, gemm_q4_0<K512, 4>, gemm_q5_0<K512, 4>, gemm_iq4_nl<K512, 4>,
    quantize_row_q8_k_avx2};

}  // namespace attnode
